"""Landmark sequences: shapes, normalisation, one-vs-rest labels, augmentation, landmark selection, splits."""

import numpy as np
import pytest

from facexplain.data.sequences import (augment, centre_on_training, load_sequences, mirror_permutation, normalise, select_landmarks,
                                       split_by_subject)
from facexplain.faces import EMOTIONS
from facexplain.faces.landmarks import interocular_distance


@pytest.fixture(scope="module")
def seqs():
    return load_sequences(n_sequences=72, n_frames=3, seed=3, image_size=64, n_subjects=8, landmarks="exact")


def test_shapes_labels_and_emotions(seqs):
    assert seqs.x.shape == (72, 3, 2, 468) and seqs.raw.shape == (72, 3, 468, 2)
    assert seqs.x.dtype == np.float32 and seqs.apex.shape == (72, 64, 64)
    assert set(seqs.emotion) <= set(EMOTIONS) and "neutral" not in set(seqs.emotion)
    total = sum(seqs.binary(e) for e in seqs.emotions)
    assert (total == 1).all()          # every clip is positive for exactly one emotion
    with pytest.raises(ValueError, match="unknown emotion"):
        seqs.binary("contempt")


def test_normalisations():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(3, 5, 468, 2)) * 7 + 40
    x = normalise(raw, "sequence")
    assert x.shape == (3, 5, 2, 468)
    np.testing.assert_allclose(x.mean(axis=(1, 3)), 0, atol=1e-5)
    np.testing.assert_allclose((x ** 2).sum(2).mean(axis=(1, 2)), 1, rtol=1e-5)
    # invariant to the clip's position and size
    np.testing.assert_allclose(normalise(raw * 3 + 11, "sequence"), x, rtol=1e-4, atol=1e-5)
    n = normalise(raw, "neutral")
    assert np.abs(n[:, 0]).max() == 0                       # the first frame is the reference
    np.testing.assert_allclose(n, x - x[:, :1], rtol=1e-4, atol=1e-5)   # same scale, neutral frame subtracted
    np.testing.assert_allclose(normalise(raw, "none"), raw.transpose(0, 1, 3, 2), rtol=1e-6)
    with pytest.raises(ValueError, match="normalisation"):
        normalise(raw, "zscore")
    with pytest.raises(ValueError, match=r"\(N, P, L, 2\)"):
        normalise(raw[0], "sequence")


def test_centre_on_training_moves_the_start_not_the_differences(seqs):
    train = np.arange(0, 72, 2)
    c = centre_on_training(seqs, train)
    assert np.abs(c.x[train].mean(axis=(0, 1))).max() < 1e-5          # the training clips' mean frame is zero
    assert np.allclose(c.x[1] - c.x[5], seqs.x[1] - seqs.x[5], atol=1e-5)   # IG's (x - x') is unchanged
    shifted = seqs.x.copy()
    shifted[1::2] += 100.0                                             # the held-out clips do not fit the centre
    moved = centre_on_training(type(seqs)(**{**seqs.__dict__, "x": shifted}), train)
    assert np.allclose(moved.x[train], c.x[train], atol=1e-4) and "training clips" in c.info["centred"]
    with pytest.raises(ValueError, match="at least one training clip"):
        centre_on_training(seqs, [])


def test_mirror_permutation_is_a_symmetric_involution():
    m = mirror_permutation()
    assert sorted(m) == list(range(468))
    assert (m[m] == np.arange(468)).all()
    assert m[1] == 1 and m[33] == 263 and m[61] == 291       # nose tip on the midline; eye and mouth corners swap


def test_augment():
    x = np.random.default_rng(1).normal(size=(4, 3, 2, 468)).astype(np.float32)
    y = np.array([0, 1, 0, 1])
    xa, ya = augment(x, y, "mirror")
    assert xa.shape == (8, 3, 2, 468) and list(ya) == [0, 1, 0, 1, 0, 1, 0, 1]
    m = mirror_permutation()
    np.testing.assert_array_equal(xa[4:, :, 0], -x[:, :, 0][..., m])
    np.testing.assert_array_equal(xa[4:, :, 1], x[:, :, 1][..., m])
    xv, _ = augment(x, y, "vertical")
    np.testing.assert_array_equal(xv[4:, :, 1], -x[:, :, 1])
    assert augment(x, y, None)[0] is x
    with pytest.raises(ValueError, match="augmentation"):
        augment(x, y, "rotate")
    with pytest.raises(ValueError, match="468"):
        augment(x[..., :10], y, "mirror")


def test_select_and_split(seqs):
    sel = select_landmarks(seqs.x, [5, 1, 400])
    np.testing.assert_array_equal(sel[..., 1], seqs.x[..., 1])
    with pytest.raises(ValueError, match="indices"):
        select_landmarks(seqs.x, [468])
    tr, te = split_by_subject(seqs, 0.5, seed=0)
    assert not set(seqs.subject[tr]) & set(seqs.subject[te])
    with pytest.raises(ValueError, match="n_sequences"):
        split_by_subject(seqs.subset(np.flatnonzero(seqs.emotion != "fear")), 0.5, seed=0)


def test_bad_options():
    with pytest.raises(ValueError, match="six"):
        load_sequences(n_sequences=4, n_frames=3, emotions=("neutral", "fear"))
    with pytest.raises(ValueError, match="n_frames"):
        load_sequences(n_sequences=4, n_frames=1)
    with pytest.raises(ValueError, match="data_dir"):
        load_sequences("ckplus")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_sequences("rafdb")


@pytest.fixture
def ckplus_video_dir(tmp_path):
    """A CK+ tree in its native layout whose frames are generated neutral -> apex clips (real-looking faces, so
    MediaPipe finds them): five sequences of 4 frames; three labelled anger, happiness, surprise, one contempt and
    one without an Emotion file."""
    from facexplain.data import load_dataset
    from test_loaders import num, write_image, write_points, write_text

    codes = {"anger": 1, "contempt": 2, "happiness": 5, "surprise": 7}
    clips = load_dataset("synthetic", n=5, n_frames=4, seed=11, image_size=112, cache=False,
                         emotions=("anger", "happiness", "surprise"))
    plan = [("S501", "001", "anger"), ("S501", "002", "happiness"), ("S502", "001", "surprise"),
            ("S502", "002", "contempt"), ("S503", "001", None)]
    root = tmp_path / "CK+"
    for k, (subject, seq, emotion) in enumerate(plan):
        for f in range(4):
            stem = f"{subject}_{seq}_{f + 1:08d}"
            write_image(root / "cohn-kanade-images" / subject / seq / f"{stem}.png", clips.images[4 * k + f])
            write_points(root / "Landmarks" / subject / seq / f"{stem}_landmarks.txt", clips.landmarks68[4 * k + f])
        if emotion is not None:
            write_text(root / "Emotion" / subject / seq / f"{subject}_{seq}_{4:08d}_emotion.txt", [num(codes[emotion])])
    return root, clips


def test_ckplus_sequences_through_face_mesh(ckplus_video_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path / "cache"))
    root, clips = ckplus_video_dir
    seqs = load_sequences("ckplus", root, n_frames=3, image_size=112, crop="centre")
    # contempt and the unlabelled sequence are left out; the rest keep their order, labels and subjects
    assert list(seqs.emotion) == ["anger", "happiness", "surprise"]
    assert list(seqs.subject) == ["S501", "S501", "S502"]
    assert seqs.raw.shape == (3, 3, 468, 2) and seqs.x.shape == (3, 3, 2, 468)
    # frames 1, 3 (rounded from 2.5) and 4 of each clip: Face Mesh lands on the generator's own landmarks
    picked = np.array([[4 * k + f for f in (0, 2, 3)] for k in range(3)]).ravel()
    truth = clips.landmarks[picked].reshape(3, 3, 468, 2)
    iod = interocular_distance(clips.landmarks68[0])
    assert np.median(np.linalg.norm(seqs.raw - truth, axis=-1)) / iod < 0.1
    assert len(list((tmp_path / "cache" / "ckplus_sequences").glob("*.npz"))) == 1     # cached for the next run
    again = load_sequences("ckplus", root, n_frames=3, image_size=112, crop="centre")
    assert np.array_equal(again.raw, seqs.raw)
    with pytest.raises(ValueError, match="data_dir"):
        load_sequences("ckplus", None)


def test_generated_clips_take_their_landmarks_from_mediapipe():
    found = load_sequences(n_sequences=12, n_frames=3, seed=5, normalisation="neutral")
    exact = load_sequences(n_sequences=12, n_frames=3, seed=5, normalisation="neutral", landmarks="exact")
    assert found.info["landmarks"] == "mediapipe" and exact.info["landmarks"] == "exact"
    assert found.info["frames"] == 36 and found.info["clips_dropped"] == len(exact) - len(found)
    keep = [i for i in range(len(exact)) if exact.subject[i] in set(found.subject)][: len(found)]
    assert np.array_equal(found.exact, exact.raw[keep]) and found.truth is found.exact
    iod = interocular_distance(found.exact[:, 0])[:, None, None]
    err = np.linalg.norm(found.raw - found.exact, axis=-1) / iod
    assert 0.005 < np.median(err) < 0.1           # the tracker's points: near the generator's, never exactly on them
    np.testing.assert_allclose(found.x, normalise(found.raw, "neutral"), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="landmarks must be one of"):
        load_sequences(n_sequences=4, n_frames=3, landmarks="dlib")
    with pytest.raises(ValueError, match="CK\\+ has no exact landmarks"):
        load_sequences("ckplus", "/nowhere", landmarks="exact")


def test_missing_frames_are_filled_in_time():
    from facexplain.data.sequences import fill_missing

    pts = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 468, 2), np.float32)
    holes = pts.copy()
    holes[[0, 2, 4]] = np.nan
    out = fill_missing(holes, np.array([False, True, False, True, False]))
    np.testing.assert_allclose(out[:, 0, 0], [1, 1, 2, 3, 3])          # held at the ends, linear between
    with pytest.raises(ValueError, match="at least one frame"):
        fill_missing(pts, np.zeros(5, bool))


def test_tracking_error_measures_how_much_motion_a_detector_follows():
    from facexplain.metrics.landmarks import tracking_error

    exact = load_sequences(n_sequences=12, n_frames=3, seed=5, landmarks="exact").raw.astype(np.float64)
    emotion = np.array(["happiness", "surprise"] * 6)
    parts, by_emotion = tracking_error(exact, exact, emotion)
    assert parts.loc["all", "error"] == 0 and parts.loc["all", "motion_error"] == 0
    np.testing.assert_allclose(parts.gain.dropna(), 1.0)
    # clips with no head motion whose lower lip drops by 0.2 interocular distances; a tracker that follows half of it
    neutral = exact[:, :1]
    iod = interocular_distance(exact[:, 0].astype(np.float32))[:, None, None, None]
    drop = np.zeros_like(neutral)
    drop[:, :, [14, 17, 84, 314, 87, 317, 178, 402]] = (0.0, 0.2)
    ramp = np.linspace(0, 1, 3)[None, :, None, None]
    truth = neutral + ramp * drop * iod
    half = neutral + 0.5 * ramp * drop * iod
    parts, by_emotion = tracking_error(half, truth, emotion)
    np.testing.assert_allclose(parts.loc[["mouth", "all"], "gain"], 0.5, atol=1e-6)
    assert parts.loc["mouth", "moving"] == 12 * 8 and np.isnan(parts.loc["brows", "gain"])
    np.testing.assert_allclose(parts.loc["all", "motion_error"], np.sqrt((0.05 ** 2 + 0.1 ** 2) / 2 * 8 / 468))
    assert parts.loc["all", "landmarks"] == 468 and parts.drop("all").landmarks.sum() == 468
    assert set(by_emotion.index) == {"happiness", "surprise"}
    with pytest.raises(ValueError, match="468, 2"):
        tracking_error(exact[..., :10, :], exact[..., :10, :], emotion)
