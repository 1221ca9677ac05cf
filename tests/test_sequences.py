"""Landmark sequences: shapes, normalisation, one-vs-rest labels, augmentation, landmark selection, splits."""

import numpy as np
import pytest

from facexplain.data.sequences import (augment, load_sequences, mirror_permutation, normalise, select_landmarks,
                                       split_by_subject)
from facexplain.faces import EMOTIONS


@pytest.fixture(scope="module")
def seqs():
    return load_sequences(n_sequences=72, n_frames=3, seed=3, image_size=64, n_subjects=8)


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
