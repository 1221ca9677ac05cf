"""Subject-wise splits: no subject on both sides, folds cover every face once, same seed -> same split."""

from __future__ import annotations

import numpy as np
import pytest

from facexplain.data.records import FaceDataset
from facexplain.data.splits import leave_one_subject_out, subject_kfold, subject_split

# 12 subjects with 1..5 faces each, shuffled so faces of one subject are not contiguous
COUNTS = [1, 2, 3, 4, 5] * 2 + [3, 3]
SUBJECTS = np.random.default_rng(0).permutation(np.repeat([f"S{i:03d}" for i in range(12)], COUNTS))


def no_leak(train, test, subjects=SUBJECTS):
    return not set(subjects[train]) & set(subjects[test])


@pytest.mark.parametrize("k", [2, 3, 5, 12])
def test_kfold_no_leak_and_full_cover(k):
    folds = subject_kfold(SUBJECTS, k, seed=1)
    assert len(folds) == k
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests) == list(range(len(SUBJECTS)))  # every face tested exactly once
    for train, test in folds:
        assert no_leak(train, test) and len(test) > 0
        assert sorted(np.concatenate([train, test])) == list(range(len(SUBJECTS)))


def test_kfold_deterministic_by_seed():
    a, b = subject_kfold(SUBJECTS, 4, seed=3), subject_kfold(SUBJECTS, 4, seed=3)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    others = [subject_kfold(SUBJECTS, 4, seed=s) for s in range(4, 10)]
    assert any(not np.array_equal(a[0][1], o[0][1]) for o in others)


def test_loso():
    folds = leave_one_subject_out(SUBJECTS)
    assert len(folds) == 12
    for (train, test), subject in zip(folds, sorted(set(SUBJECTS))):
        assert set(SUBJECTS[test]) == {subject} and no_leak(train, test)
        assert len(train) + len(test) == len(SUBJECTS)


def test_subject_split():
    train, test = subject_split(SUBJECTS, test_fraction=0.25, seed=0)
    assert no_leak(train, test)
    assert len(set(SUBJECTS[test])) == 3 and len(set(SUBJECTS[train])) == 9
    assert sorted(np.concatenate([train, test])) == list(range(len(SUBJECTS)))
    again = subject_split(SUBJECTS, test_fraction=0.25, seed=0)
    assert np.array_equal(test, again[1]) and np.array_equal(train, again[0])
    tiny = subject_split(["a", "a", "b"], test_fraction=0.01, seed=0)
    assert len(tiny[1]) >= 1 and len(tiny[0]) >= 1  # always at least one subject on each side


def test_accepts_a_face_dataset():
    n = len(SUBJECTS)
    ds = FaceDataset("toy", np.zeros((n, 4, 4), np.uint8), None, (), np.zeros((n, 0)), [None] * n, SUBJECTS,
                     np.zeros(n, int))
    folds = subject_kfold(ds, 3, seed=0)
    assert all(no_leak(tr, te) for tr, te in folds)
    train, test = subject_split(ds, 0.5, seed=0)
    assert not set(ds.subset(train).subject) & set(ds.subset(test).subject)


def test_bad_arguments():
    with pytest.raises(ValueError, match="k <= number of subjects \\(12\\)"):
        subject_kfold(SUBJECTS, 13)
    with pytest.raises(ValueError, match="test_fraction"):
        subject_split(SUBJECTS, 1.5)
    with pytest.raises(ValueError, match="at least two subjects"):
        leave_one_subject_out(["a", "a"])
    with pytest.raises(ValueError, match="no subjects"):
        subject_kfold([], 2)
