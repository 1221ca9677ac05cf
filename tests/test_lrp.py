"""LRP backend (zennit): relevance is conserved at the explained logit, batches equal the image-by-image loop."""

from __future__ import annotations

import pytest
import torch

from facexplain.explain import explain
from facexplain.explain.lrp import lrp_relevance
from facexplain.models.resnet import small_resnet18


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = small_resnet18(4, widths=(8, 8, 16, 16))
    m.train()
    with torch.no_grad():  # non-trivial batch-norm statistics, so the canonizer has something to merge
        for _ in range(3):
            m(torch.rand(8, 1, 48, 48))
    return m.eval()


@pytest.fixture(scope="module")
def x():
    return torch.rand(5, 1, 48, 48, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("method", ["lrp.epsilon_plus_flat", "lrp.epsilon_plus"])
def test_input_relevance_sums_to_the_logit(model, x, method):
    target = torch.tensor([0, 1, 2, 3, 0])
    rel, logits = lrp_relevance(model, x, target, method, zero_params="bias")
    with torch.no_grad():
        expected = model(x)[torch.arange(5), target]
    torch.testing.assert_close(logits, expected, rtol=1e-3, atol=1e-4)  # merged batch norms: float noise
    torch.testing.assert_close(rel.sum((1, 2, 3)), expected, rtol=0.02, atol=1e-4)


def test_alpha2_beta1_is_roughly_conserved(model, x):
    """alpha2-beta1 conserves only where a neuron has both positive and negative inputs: close, not exact."""
    target = torch.tensor([0, 2, 2, 3, 0])
    rel, logits = lrp_relevance(model, x, target, "lrp.epsilon_alpha2_beta1_flat")
    ratio = rel.sum((1, 2, 3)) / logits
    assert ((ratio > 0.5) & (ratio < 1.5)).all(), ratio


def test_gamma_box_keeps_biases_and_stays_bounded(model, x):
    """EpsilonGammaBox keeps the biases by default (bias-free gamma denominators cross zero): sums stay bounded."""
    target = torch.tensor([0, 1, 2, 3, 0])
    rel, logits = lrp_relevance(model, x, target, "lrp.epsilon_gamma_box")
    assert torch.isfinite(rel).all()
    assert rel.sum((1, 2, 3)).abs().max() <= 2 * logits.abs().max()


def test_without_canonizer_relevance_is_not_conserved(model, x):
    """The canonizer is what makes it work: without it the sums are off (checks that the test above has teeth)."""
    target = torch.zeros(5, dtype=torch.long)
    rel, logits = lrp_relevance(model, x, target, "lrp.epsilon_plus_flat", canonize=False)
    assert not torch.allclose(rel.sum((1, 2, 3)), logits, rtol=0.02)


def test_seed_one_is_the_logit_seed_divided_by_the_logit(model, x):
    target = torch.full((5,), 2)
    r_logit, logits = lrp_relevance(model, x, target, "lrp.epsilon_plus_flat")
    r_one, _ = lrp_relevance(model, x, target, "lrp.epsilon_plus_flat", seed="one")
    torch.testing.assert_close(r_logit, r_one * logits.view(-1, 1, 1, 1), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("method", ["lrp.epsilon_plus_flat", "lrp.epsilon_gamma_box", "lrp.epsilon_alpha2_beta1_flat",
                                    "lrp.epsilon_plus"])
def test_batched_equals_one_by_one_and_chunked(model, x, method):
    target = torch.tensor([3, 2, 1, 0, 1])
    batched = explain(model, x, target, method=method)
    assert batched.shape == (5, 48, 48)
    single = torch.cat([explain(model, x[i:i + 1], target[i:i + 1], method=method) for i in range(5)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-6)
    chunked = explain(model, x, target, method=method, batch_size=2)
    torch.testing.assert_close(batched, chunked, rtol=1e-4, atol=1e-6)


def test_bad_input(model, x):
    with pytest.raises(ValueError, match="out of range"):
        explain(model, x, 7, method="lrp.epsilon_plus_flat")
    with pytest.raises(ValueError, match="outside the box"):
        explain(model, x * 3, 0, method="lrp.epsilon_gamma_box")
    with pytest.raises(ValueError, match="eval mode"):
        explain(model.train(), x, 0, method="lrp.epsilon_plus")
    model.eval()
    with pytest.raises(ValueError, match="unknown explanation method"):
        explain(model, x, 0, method="lrp.nonsense")
    with pytest.raises(ValueError, match="seed"):
        explain(model, x, 0, method="lrp.epsilon_plus", seed="sigmoid")
