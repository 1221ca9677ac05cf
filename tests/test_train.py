"""The one training loop: its learning-rate schedule and augmentation hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from facexplain.train import Augment, fit, one_cycle, steps_per_epoch


def _toy(n=70):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 16, 16, generator=g)
    y = (x.mean((1, 2, 3)) > 0.5).long()
    return x, y


def test_one_cycle_spans_exactly_the_batches_fit_takes():
    x, y = _toy(70)
    for drop_last, steps in ((True, 2), (False, 3)):
        assert steps_per_epoch(70, 32, drop_last) == steps
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(256, 2))
        opt = torch.optim.AdamW(model.parameters(), lr=0.01)
        sched = one_cycle(opt, 0.01, epochs=3, n=70, batch_size=32, drop_last=drop_last)
        lrs = []
        fit(model, x, y, lambda m, xb, yb: (lrs.append(opt.param_groups[0]["lr"]),
                                            nn.functional.cross_entropy(m(xb), yb))[1],
            opt, epochs=3, batch_size=32, schedule=sched, drop_last=drop_last)
        assert len(lrs) == 3 * steps                       # one step per batch; the short batch dropped or not
        assert max(lrs) == pytest.approx(0.01, rel=0.05) and lrs[0] < 0.002
        assert lrs[-1] < 0.25 * max(lrs)                   # annealed towards zero at the end
        with pytest.raises(ValueError):                    # torch refuses a step beyond the cycle
            sched.step()


def test_augment_is_seeded_per_face_and_moves_paired_maps_with_the_faces():
    x, _ = _toy(8)
    aug = Augment(shift=0.1, scale=0.1, contrast=0.0, brightness=0.0)
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert not torch.allclose(a, x)
    shifts = [(a[i] - x[i]).abs().mean() for i in range(len(x))]
    assert len({round(float(s), 4) for s in shifts}) > 1   # every face its own change
    moved, maps = aug(x, torch.Generator().manual_seed(1), x[:, 0])
    assert maps.shape == (8, 16, 16)
    inner = (slice(None), slice(3, -3), slice(3, -3))      # away from the borders (reflected vs zero-padded)
    torch.testing.assert_close(moved[:, 0][inner], maps[inner])
    with pytest.raises(ValueError, match="paired maps must be"):
        aug(x, torch.Generator(), x[:4, 0])
    with pytest.raises(ValueError, match="shift must be in"):
        Augment(shift=1.5)


def test_fit_moves_the_extra_maps_with_augmented_faces():
    x, y = _toy(16)
    seen = []

    def loss(m, xb, yb, eb):
        seen.append((xb.clone(), eb.clone()))
        return nn.functional.cross_entropy(m(xb), yb)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 2))
    fit(model, x, y, loss, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=8,
        extra=x[:, 0].clone(), augment=Augment(shift=0.1, scale=0.1, contrast=0.0, brightness=0.0))
    for xb, eb in seen:
        torch.testing.assert_close(xb[:, 0, 3:-3, 3:-3], eb[:, 3:-3, 3:-3])
