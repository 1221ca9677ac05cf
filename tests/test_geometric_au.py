"""The geometric AU estimator: calibration on generated faces and the photo path on a real smile."""

import numpy as np
import pytest

from facexplain.data import load_dataset
from facexplain.models.geometric_au import (FEATURES, GeometricAUDetector, evaluate, features, reference_for,
                                            synthetic_neutrals)


@pytest.fixture(scope="module")
def detectors():
    train = load_dataset("synthetic", n=400, seed=9101)
    return {neutral: GeometricAUDetector().fit(train.landmarks, train.au_intensity, reference_for(train, neutral))
            for neutral in ("subject", "template")}


@pytest.fixture(scope="module")
def held_out():
    return load_dataset("synthetic", n=200, seed=9102)


def test_features_are_zero_on_the_reference_and_pose_free():
    ds = load_dataset("synthetic", n=20, seed=9103)
    neutral = synthetic_neutrals(ds)
    assert np.abs(features(neutral, neutral)).max() < 1e-6
    # a rotated, scaled, shifted copy of a face has the same features (the alignment removes the pose)
    th = np.deg2rad(10)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    moved = ds.landmarks[:3] @ rot.T * 1.3 + 7.0
    np.testing.assert_allclose(features(moved), features(ds.landmarks[:3]), atol=1e-4)
    assert features(ds.landmarks[:2]).shape == (2, len(FEATURES))
    assert features(ds.landmarks68[:2]).shape == (2, len(FEATURES))   # 68-point input works too


def test_calibration_beats_chance_on_held_out_faces(detectors, held_out):
    for neutral, det in detectors.items():
        ev = evaluate(det, held_out, reference_for(held_out, neutral))
        assert ev.f1.mean() > ev.chance_f1.mean() + 0.3, (neutral, ev)
    ev = evaluate(detectors["subject"], held_out, reference_for(held_out, "subject"))
    common = ev[ev.n_present >= 10]
    assert (common.f1 > common.chance_f1).all(), common


def test_astronaut_photo_smile_is_detected(detectors):
    from skimage import data
    aus, landmarks = detectors["template"].detect_photo(data.astronaut())
    assert landmarks.shape == (468, 2)
    assert 12 in aus and aus[12] > 0          # lip corner puller: she smiles
    # AU6 (cheek raiser) is not asserted since generator v5: its AU6 moves the cheeks 1.5-2x as far as her smile
    # does, so the reader fitted on it puts her AU6 at p = 0.41 against its threshold 0.63 (about the 75th
    # percentile of held-out faces without AU6). Issue 12 records this; the photo's AU6 is the open problem there.
    assert not {1, 2, 4, 5} & set(aus)        # her brows and upper lids are at rest
    assert {25, 26} & set(aus)                # her lips are apart


def test_bad_input_is_a_clear_error(detectors):
    with pytest.raises(ValueError, match="shape"):
        features(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        GeometricAUDetector().predict(np.zeros((468, 2)))
    with pytest.raises(ValueError, match="neutral"):
        reference_for(None, "mean")
