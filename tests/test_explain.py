"""explain(): one call for every method, batching by itself, global IG as a method, a registry checked at import."""

import numpy as np
import pytest
import torch

from facexplain.explain import METHODS, _check_registry, explain
from facexplain.explain.global_ig import global_ig
from facexplain.models.emo_lstm import t_emo


@pytest.mark.parametrize("method", ["lrp.epsilon_plus_flat", "gradient", "gradcam", "attention"])
def test_batches_give_the_maps_of_one_call(tiny_resnet, method):
    model = tiny_resnet(3)
    x = torch.randn(7, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    whole = explain(model, x, target, method=method)
    for batch_size in (1, 3, 7, 100):
        parts = explain(model, x, target, method=method, batch_size=batch_size)
        assert parts.shape == (7, 32, 32)
        torch.testing.assert_close(parts, whole, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size must be a positive whole number"):
        explain(model, x, target, method=method, batch_size=0)


def test_global_ig_is_a_method_whose_mean_is_the_global_importance():
    torch.manual_seed(0)
    net = t_emo(10, filters=3, lstm_units=5, fc1=6).eval()
    g = torch.Generator().manual_seed(1)
    x, base = torch.randn(5, 4, 2, 10, generator=g), torch.randn(3, 4, 2, 10, generator=g)
    per_clip = explain(net, x, 1, method="global_ig", baselines=base, n_steps=8, ig_method="riemann_trapezoid")
    assert per_clip.shape == (5, 10) and bool((per_clip >= 0).all())
    ref = global_ig(net, x, base, target=1, n_steps=8, method="riemann_trapezoid")
    np.testing.assert_allclose(per_clip.mean(0).numpy(), ref.importance, rtol=1e-5, atol=1e-8)
    in_twos = explain(net, x, 1, method="global_ig", baselines=base, n_steps=8, ig_method="riemann_trapezoid",
                      batch_size=2)
    torch.testing.assert_close(in_twos, per_clip)
    with pytest.raises(ValueError, match="one class"):
        explain(net, x, torch.tensor([0, 1, 1, 1, 1]), method="global_ig", baselines=base)


def test_the_registry_names_real_backends():
    assert "global_ig" in METHODS
    with pytest.raises(ImportError, match="no backend module 'nowhere'"):
        _check_registry({"x": "nowhere:f"})
    with pytest.raises(ImportError, match="defines no function 'explain_nothing'"):
        _check_registry({"x": "lrp:explain_nothing"})
    with pytest.raises(ValueError, match="unknown explanation method"):
        explain(torch.nn.Linear(1, 1), torch.zeros(1, 1, 2, 2), 0, method="lrp.nothing")
