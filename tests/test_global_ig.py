"""Global IG against its definition: captum's IntegratedGradients run pair by pair, completeness, baselines."""

import numpy as np
import pytest
import torch

from facexplain.explain.global_ig import (METHODS, cheapest_setting, completeness_table, emotion_baselines,
                                          global_ig, loop_ig, path_probability, rank_landmarks, typical_samples)
from facexplain.models.emo_lstm import t_emo


def _net_and_data(seed=0, n=7, b=3, p=4, l=10):
    torch.manual_seed(seed)
    net = t_emo(l, filters=3, lstm_units=5, fc1=6).eval()
    with torch.no_grad():                      # non-trivial BatchNorm statistics
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
    g = torch.Generator().manual_seed(seed + 1)
    return net, torch.randn(n, p, 2, l, generator=g), torch.randn(b, p, 2, l, generator=g)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
@pytest.mark.parametrize("batch_size", [1, 24, 10_000])
def test_matches_captum_pair_by_pair(method, batch_size):
    net, x, base = _net_and_data()
    ours = global_ig(net, x, base, target=1, n_steps=8, method=method, batch_size=batch_size, keep_pairs=True)
    ref = loop_ig(net, x, base, target=1, n_steps=8, method=method)
    np.testing.assert_allclose(ours.importance, ref, rtol=1e-5, atol=1e-8)
    # and the definition spelled out: mean over inputs, then over baselines, of sum_{frames, coords} |IG|
    from captum.attr import IntegratedGradients
    from facexplain.explain.global_ig import ProbabilityOf
    ig = IntegratedGradients(ProbabilityOf(net))
    per_b = []
    for j in range(len(base)):
        a = torch.stack([ig.attribute(x[i:i + 1], baselines=base[j:j + 1], target=1, n_steps=8, method=method)[0]
                         for i in range(len(x))])
        s = a.abs().sum(dim=(1, 2)).detach()
        np.testing.assert_allclose(ours.per_pair[j], s.numpy(), rtol=1e-5, atol=1e-8)
        per_b.append(s.mean(0))
    np.testing.assert_allclose(ours.per_baseline, torch.stack(per_b).numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.importance, torch.stack(per_b).mean(0).numpy(), rtol=1e-5, atol=1e-8)
    assert list(ours.ranking) == list(rank_landmarks(ours.importance))


def test_completeness_improves_with_steps_and_model_state_is_restored():
    net, x, base = _net_and_data(1)
    net.train()
    flags = [p.requires_grad for p in net.parameters()]
    errs = [global_ig(net, x, base, n_steps=s).completeness_error for s in (2, 8, 256)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.01     # sum of IG = F(x) - F(x') up to the quadrature error
    assert net.training and [p.requires_grad for p in net.parameters()] == flags
    # logits instead of probabilities: also complete
    assert global_ig(net, x, base, n_steps=256, output="logit").completeness_error < 0.01


def test_attribution_is_zero_where_input_equals_baseline():
    net, x, base = _net_and_data(2)
    x[:, :, :, 3] = base[0, :, :, 3]
    r = global_ig(net, x, base[:1], n_steps=4)
    assert r.importance[3] == 0.0
    assert (r.importance[np.arange(10) != 3] > 0).all()


def test_completeness_table_and_cheapest_setting():
    net, x, base = _net_and_data(3, n=4, b=2)
    tab = completeness_table(net, x, base, steps=(2, 3, 512), methods=("gausslegendre", "riemann_left"))
    assert set(tab.method) == {"gausslegendre", "riemann_left"} and len(tab) == 6
    best = cheapest_setting(tab, tolerance=0.01)
    assert best["completeness_error"] < 0.01
    assert best["n_steps"] == tab[tab.completeness_error < 0.01].n_steps.min()
    with pytest.raises(ValueError, match="more steps"):
        cheapest_setting(tab, tolerance=0.0)


def test_typical_samples_and_baselines():
    x = np.zeros((6, 2, 2, 3))
    x[:3] = np.array([0.0, 1.0, 5.0])[:, None, None, None]
    x[3:] = np.array([10.0, 11.0, 30.0])[:, None, None, None]
    labels = np.array(["a", "a", "a", "b", "b", "b"])
    assert typical_samples(x, labels, ["a", "b"]) == {"a": 1, "b": 4}
    base, names = emotion_baselines(x, labels, "a", ["a", "b"])
    assert names == ["b"] and np.array_equal(base[0], x[4])
    with pytest.raises(ValueError, match="at least one"):
        typical_samples(x, labels, ["a", "c"])


def test_path_probability_ends():
    net, x, base = _net_and_data(4)
    alphas, p = path_probability(net, x[0], base[0], alphas=[0.0, 0.5, 1.0])
    with torch.no_grad():
        ends = torch.softmax(net(torch.stack([base[0], x[0]])), -1)[:, 1].numpy()
    np.testing.assert_allclose(p[[0, 2]], ends, rtol=1e-5)


def test_bad_input():
    net, x, base = _net_and_data()
    with pytest.raises(ValueError, match="per-sample shape"):
        global_ig(net, x, base[:, :, :, :5])
    with pytest.raises(ValueError, match="integration method"):
        global_ig(net, x, base, method="simpson")
    with pytest.raises(ValueError, match="n_steps"):
        global_ig(net, x, base, n_steps=0)
    with pytest.raises(ValueError, match="output"):
        global_ig(net, x, base, output="softmax")
    assert "gausslegendre" in METHODS
