"""Moved-landmark ground truth (head motion removed) and top-k precision against their definitions."""

import numpy as np
import pytest

from facexplain.metrics.landmarks import expression_displacement, moved_landmarks, topk_precision


def test_topk_precision_definition():
    ranking = np.array([4, 2, 0, 1, 3])
    assert topk_precision(ranking, [2, 3], 1) == 0.0
    assert topk_precision(ranking, [2, 3], 2) == 0.5
    assert topk_precision(ranking, [2, 3], 5) == 0.4
    with pytest.raises(ValueError, match="k must be"):
        topk_precision(ranking, [2], 6)
    with pytest.raises(ValueError, match="twice"):
        topk_precision([1, 1, 2], [1], 2)


def _face(seed=0):
    from facexplain.faces.template import astronaut_mesh
    return np.asarray(astronaut_mesh(), np.float64)[:, :2] / 4


def test_displacement_ignores_head_motion_and_finds_the_moved_points():
    neutral = _face()
    apex = neutral.copy()
    apex[[13, 14]] += [0.0, 3.0]                      # the lips part
    th = np.deg2rad(8)
    r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    apex = (apex - 60) @ r.T * 1.05 + 60 + [4, -2]    # plus a head rotation, zoom and shift
    raw = np.stack([neutral, apex])[None]
    d = expression_displacement(raw)[0]
    assert set(np.argsort(d)[-2:]) == {13, 14}
    assert np.median(d) < 1e-6
    truth, means = moved_landmarks(np.concatenate([raw, raw]), ["fear", "anger"], ["fear", "anger"], threshold=0.01)
    assert set(truth["fear"]) == {13, 14} and means.shape == (2, 468)
    with pytest.raises(ValueError, match="no clip"):
        moved_landmarks(raw, ["fear"], ["fear", "anger"])
    with pytest.raises(ValueError, match="clips"):
        expression_displacement(neutral)
