"""Relevance mass mu, rank accuracy and pointing game against their definitions; bad input -> clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facexplain.metrics import pointing_game, relevance_mass, relevance_rank_accuracy
from facexplain.metrics.relevance import correct_positives, mu_summary, relevance_masses


def _map():
    r = np.zeros((4, 5))
    r[0, 0], r[1, 1], r[2, 2], r[3, 4] = 3.0, 1.0, -5.0, 4.0   # positive total = 8
    return r


def test_relevance_mass_counts_positive_relevance_only():
    r = _map()
    m = np.zeros((4, 5), bool)
    m[:2, :2] = True                                           # holds 3 + 1 of the 8
    assert relevance_mass(r, m) == pytest.approx(0.5)
    m2 = m.copy(); m2[2, 2] = True                              # negative relevance inside changes nothing
    assert relevance_mass(r, m2) == pytest.approx(0.5)
    assert relevance_mass(r, np.ones((4, 5), bool)) == pytest.approx(1.0)
    assert relevance_mass(torch.tensor(r), torch.tensor(m)) == pytest.approx(0.5)   # torch accepted
    assert relevance_mass(r, m.astype(int)) == pytest.approx(0.5)                   # 0/1 masks accepted


def test_rank_accuracy_and_pointing_game():
    r = _map()
    m = np.zeros((4, 5), bool)
    m[3, 4] = m[1, 1] = True              # K = 2: top-2 pixels are (3,4)=4 and (0,0)=3 -> 1 of 2 in the mask
    assert relevance_rank_accuracy(r, m) == pytest.approx(0.5)
    assert pointing_game(r, m) is True    # max at (3, 4)
    m[3, 4] = False
    assert pointing_game(r, m) is False


def test_batched_masses_match_the_single_map_function():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(6, 8, 8))
    masks = rng.random((6, 8, 8)) < 0.3
    maps[5] = -np.abs(maps[5])            # no positive relevance -> NaN in the batch helper
    got = relevance_masses(maps, masks)
    for i in range(5):
        assert got[i] == pytest.approx(relevance_mass(maps[i], masks[i]))
    assert np.isnan(got[5])


def test_bad_input_is_refused_with_a_clear_error():
    r, m = _map(), np.ones((4, 5), bool)
    with pytest.raises(ValueError, match="does not match"):
        relevance_mass(r, np.ones((5, 4), bool))
    with pytest.raises(ValueError, match="empty"):
        relevance_mass(np.zeros((0, 0)), np.zeros((0, 0), bool))
    with pytest.raises(ValueError, match="no positive relevance"):
        relevance_mass(np.zeros((4, 5)), m)
    with pytest.raises(ValueError, match="no positive relevance"):
        relevance_mass(-np.abs(r), m)
    with pytest.raises(ValueError, match="ONE 2-D map"):
        relevance_mass(np.ones((2, 4, 5)), m)
    with pytest.raises(ValueError, match="NaN"):
        relevance_mass(np.full((4, 5), np.nan), m)
    with pytest.raises(ValueError, match="no pixel"):
        relevance_mass(r, np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="boolean"):
        relevance_mass(r, np.full((4, 5), 0.5))
    with pytest.raises(ValueError, match="all zero"):
        pointing_game(np.zeros((4, 5)), m)
    with pytest.raises(ValueError, match="all zero"):
        relevance_rank_accuracy(np.zeros((4, 5)), m)
    with pytest.raises(ValueError, match="same shape"):
        relevance_masses(np.ones((2, 4, 5)), np.ones((2, 5, 4), bool))


def test_correct_positives_and_summary():
    y = np.array([[1, 0], [1, 1], [0, 1]])
    p = np.array([[1, 1], [0, 1], [0, 1]])
    tp = correct_positives(y, p)
    assert [t.tolist() for t in tp] == [[0], [1, 2]]
    import pandas as pd
    rec = pd.DataFrame(dict(au=[4, 4, 6], composite=["a", "a", "a"], index=[0, 1, 2],
                            mu_box=[0.2, 0.4, np.nan], mu_truth=[0.1, 0.3, 0.5]))
    s = mu_summary(rec, shortcut=0.0)
    row = s[(s.au == 4) & (s.region == "box")].iloc[0]
    assert row.mu == pytest.approx(0.3) and row.n == 2 and row.shortcut == 0.0
    assert s[(s.au == 6) & (s.region == "box")].iloc[0].n == 0
