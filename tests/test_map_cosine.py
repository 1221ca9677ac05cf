"""CAM-COS / ATT-COS metric against its definition (seed 004): cosine of the non-negative, upsampled map and the AU map."""

import numpy as np
import pytest
import torch

from facexplain.faces import au_map
from facexplain.metrics import map_cosine
from facexplain.metrics.maps import class_average


def _face_map(shape=(112, 112)):
    from facexplain.data import load_dataset
    ds = load_dataset("synthetic", n=4, seed=3)
    return au_map(ds.landmarks[0], [6, 12, 25], shape)


def test_equal_map_scores_one():
    a = _face_map()
    assert map_cosine(a, a) == pytest.approx(1.0, abs=1e-9)


def test_positive_scaling_invariance():
    rng = np.random.default_rng(0)
    a = _face_map()
    s = rng.random(a.shape)
    base = map_cosine(s, a)
    assert 0 < base < 1
    assert map_cosine(7.5 * s, a) == pytest.approx(base, abs=1e-12)
    assert map_cosine(s, 0.01 * a) == pytest.approx(base, abs=1e-7)  # a is float32


def test_matches_definition_and_cuts_negatives():
    rng = np.random.default_rng(1)
    a = rng.random((16, 16))
    s = rng.normal(size=(16, 16))
    p = np.maximum(s, 0)
    expected = (p * a).sum() / np.linalg.norm(p) / np.linalg.norm(a)
    assert map_cosine(s, a) == pytest.approx(expected, abs=1e-12)
    assert map_cosine(-np.abs(s) + 0 * a + (a > 2), a, zero_saliency="zero") == 0.0  # all negative -> zero map


def test_disjoint_maps_score_zero():
    a = np.zeros((8, 8)); a[:4] = 1
    s = np.zeros((8, 8)); s[4:] = 1
    assert map_cosine(s, a) == 0.0


def test_coarse_map_is_upsampled():
    a = np.zeros((112, 112)); a[:56, :56] = 1.0
    coarse = np.zeros((4, 4)); coarse[:2, :2] = 1.0
    score = map_cosine(coarse, a)
    up = torch.nn.functional.interpolate(torch.tensor(coarse)[None, None], size=(112, 112), mode="bilinear",
                                         align_corners=False)[0, 0].numpy()
    assert score == pytest.approx(map_cosine(up, a), abs=1e-12)
    assert score > 0.85
    # a constant coarse map equals its upsampled constant map
    assert map_cosine(np.ones((7, 7)), a) == pytest.approx(map_cosine(np.ones((112, 112)), a), abs=1e-12)


def test_batches_and_tensors():
    rng = np.random.default_rng(2)
    a = rng.random((5, 12, 12))
    s = torch.tensor(rng.random((5, 12, 12)))
    out = map_cosine(s, a)
    assert out.shape == (5,)
    for i in range(5):
        assert out[i] == pytest.approx(map_cosine(s[i], a[i]), abs=1e-12)


def test_shape_mismatch_raises():
    a = np.ones((112, 112))
    with pytest.raises(ValueError, match="aspect ratio"):
        map_cosine(np.ones((7, 5)), a)
    with pytest.raises(ValueError, match="aspect ratio"):
        map_cosine(np.ones((224, 224)), a)
    with pytest.raises(ValueError, match="one AU map per saliency map"):
        map_cosine(np.ones((3, 112, 112)), np.ones((2, 112, 112)))
    with pytest.raises(ValueError, match="one map"):
        map_cosine(np.ones((1, 1, 112, 112)), a)


def test_all_zero_maps_raise():
    a = _face_map()
    with pytest.raises(ValueError, match="all zero"):
        map_cosine(a, np.zeros_like(a))          # a neutral face: no AU map
    with pytest.raises(ValueError, match="all zero"):
        map_cosine(np.zeros_like(a), a)          # an empty saliency map
    with pytest.raises(ValueError, match="all zero"):
        map_cosine(-a, a)                        # only negative evidence: zero after cutting negatives
    assert map_cosine(np.zeros_like(a), a, zero_saliency="zero") == 0.0
    assert np.isnan(map_cosine(np.zeros_like(a), a, zero_saliency="nan"))
    with pytest.raises(ValueError, match="NaN"):
        map_cosine(np.full_like(a, np.nan), a)


def test_class_average_is_per_class_then_over_classes():
    scores = [1.0, 1.0, 1.0, 0.0, 0.5]
    labels = ["happiness", "happiness", "happiness", "anger", "neutral"]
    overall, per = class_average(scores, labels)
    assert per == {"anger": 0.0, "happiness": 1.0}
    assert overall == pytest.approx(0.5)          # not the pooled mean 0.75
    overall, per = class_average([np.nan, 0.4], ["fear", "fear"], classes=["fear", "sadness"])
    assert per["fear"] == pytest.approx(0.4) and np.isnan(per["sadness"]) and overall == pytest.approx(0.4)
    with pytest.raises(ValueError, match="one label per score"):
        class_average([1.0], ["a", "b"])
