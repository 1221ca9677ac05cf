"""Subject-wise splits (k-fold, leave-one-subject-out, train/test) so no identity is on both sides of a split."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, LeaveOneGroupOut


def _subjects(subjects) -> np.ndarray:
    """Subject ids as a string array; accepts a FaceDataset (its .subject) or any sequence of ids."""
    subjects = getattr(subjects, "subject", subjects)
    arr = np.asarray([str(s) for s in subjects], dtype=object)
    if arr.size == 0:
        raise ValueError("no subjects given: a split needs at least one face")
    return arr


def subject_kfold(subjects, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds of (train_idx, test_idx); each subject is in exactly one test fold. Deterministic by seed."""
    groups = _subjects(subjects)
    n = len(np.unique(groups))
    if not 2 <= int(k) <= n:
        raise ValueError(f"subject_kfold needs 2 <= k <= number of subjects ({n}); got k={k}")
    folds = GroupKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
    return [(np.sort(tr), np.sort(te)) for tr, te in folds.split(np.zeros(len(groups)), groups=groups)]


def leave_one_subject_out(subjects) -> list[tuple[np.ndarray, np.ndarray]]:
    """One fold per subject (sorted by id): test = that subject's faces, train = everyone else's."""
    groups = _subjects(subjects)
    if len(np.unique(groups)) < 2:
        raise ValueError("leave_one_subject_out needs at least two subjects")
    return [(tr, te) for tr, te in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups)]


def subject_split(subjects, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One (train_idx, test_idx) split holding out about `test_fraction` of the subjects. Deterministic by seed."""
    groups = _subjects(subjects)
    n = len(np.unique(groups))
    if not 0 < float(test_fraction) < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction}")
    if n < 2:
        raise ValueError("subject_split needs at least two subjects")
    n_test = min(max(1, int(round(test_fraction * n))), n - 1)
    split = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=int(seed))
    train, test = next(split.split(np.zeros(len(groups)), groups=groups))
    return np.sort(train), np.sort(test)
