"""captum backend of explain(): each method against its definition, one target per image, errors."""

import numpy as np
import pytest
import torch
from torch import nn

from facexplain.explain import explain
from facexplain.explain.attribution import captum_attribution, explain_captum


def _cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()


def _x(seed=1, n=4):
    return torch.randn(n, 2, 6, 6, generator=torch.Generator().manual_seed(seed))


def _grad(model, x, target):
    x = x.clone().requires_grad_(True)
    out = model(x)
    out[torch.arange(len(x)), target].sum().backward()
    return x.grad


def test_gradient_and_gradient_x_input_match_autograd():
    model, x, t = _cnn(), _x(), torch.tensor([0, 1, 2, 1])
    g = _grad(model, x, t)
    np.testing.assert_allclose(explain(model, x, t, method="gradient"), g.sum(1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(explain(model, x, t, method="gradient_x_input"), (g * x).sum(1), rtol=1e-5, atol=1e-7)
    assert (explain(model, x, t, method="gradient") < 0).any()     # signed, not absolute


def test_integrated_gradients_linear_model_and_completeness():
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 3, bias=True)).eval()
    x, t = _x(), torch.tensor([2, 0, 1, 2])
    w = lin[1].weight[t].view(-1, 2, 6, 6)
    m = explain(lin, x, t, method="integrated_gradients", n_steps=4)
    np.testing.assert_allclose(m, (w * x).sum(1).detach(), rtol=1e-5, atol=1e-6)   # IG of a linear map = w * x
    model = _cnn()
    a = captum_attribution(model, x, t, "integrated_gradients", n_steps=64)
    with torch.no_grad():
        diff = model(x)[torch.arange(4), t] - model(torch.zeros_like(x))[torch.arange(4), t]
    np.testing.assert_allclose(a.flatten(1).sum(1), diff, rtol=1e-3, atol=1e-4)
    b = captum_attribution(model, x, t, "integrated_gradients", n_steps=64, baselines=0.5, batch_size=3)
    with torch.no_grad():
        diff = model(x)[torch.arange(4), t] - model(torch.full_like(x, 0.5))[torch.arange(4), t]
    np.testing.assert_allclose(b.flatten(1).sum(1), diff, rtol=1e-3, atol=1e-4)


def test_probability_output():
    model, x, t = _cnn(), _x(), torch.tensor([0, 1, 2, 1])
    a = captum_attribution(model, x, t, "integrated_gradients", n_steps=64, output="probability")
    with torch.no_grad():
        p, p0 = torch.softmax(model(x), -1), torch.softmax(model(torch.zeros_like(x)), -1)
    np.testing.assert_allclose(a.flatten(1).sum(1), (p - p0)[torch.arange(4), t], rtol=1e-3, atol=1e-4)


def test_smoothgrad_is_seeded_and_tends_to_the_gradient():
    model, x, t = _cnn(), _x(), 1
    a = explain(model, x, t, method="smoothgrad", nt_samples=8)
    b = explain(model, x, t, method="smoothgrad", nt_samples=8)
    assert torch.equal(a, b)
    c = explain(model, x, t, method="smoothgrad", nt_samples=8, seed=5)
    assert not torch.equal(a, c)
    tiny = explain(model, x, t, method="smoothgrad", nt_samples=4, stdevs=1e-6)
    np.testing.assert_allclose(tiny, _grad(model, x, torch.ones(4, dtype=torch.long)).sum(1), rtol=1e-3, atol=1e-5)


def test_model_state_restored_and_lstm_in_eval_mode():
    from facexplain.models.emo_lstm import t_emo
    net = t_emo(10, filters=2, lstm_units=3, fc1=4).train()
    x = torch.randn(3, 4, 2, 10)
    for method in ("gradient", "gradient_x_input", "integrated_gradients", "smoothgrad"):
        m = explain(net, x, 1, method=method, n_steps=4, nt_samples=2)
        assert m.shape == (3, 2, 10) and torch.isfinite(m).all()
    assert net.training and all(p.requires_grad for p in net.parameters())


def test_bad_input():
    model, x = _cnn(), _x()
    with pytest.raises(ValueError, match="captum method"):
        captum_attribution(model, x, 0, "lrp")
    with pytest.raises(ValueError, match="out of range"):
        explain_captum(model, x, torch.tensor([0, 1, 5, 1]))
    with pytest.raises(ValueError, match="one target per input"):
        explain_captum(model, x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="baselines"):
        explain_captum(model, x, 0, baselines=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="output"):
        explain_captum(model, x, 0, output="softmax")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        explain_captum(model, x[0], 0)
