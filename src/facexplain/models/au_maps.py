"""Per-image AU maps for a batch of faces (seed 004): the AUs of each face's emotion, drawn where its landmarks say.

A map needs only the emotion label, the codebook and the landmarks, never AU annotations, so it works on any
FER dataset with landmarks (for RAF-DB, which ships none, `ensure_landmarks` runs MediaPipe Face Mesh first).
Neutral faces (and labels the codebook does not know) get an all-zero map and `has_map` False: they are left out
of the alignment loss and of CAM-COS / ATT-COS.
"""

from __future__ import annotations

import numpy as np

from ..faces import au_map, codebook as get_codebook

CODEBOOK_NAMES = ("seed004", "seed004_code", "emfacs")


def au_maps(landmarks, emotions, codebook: str = "seed004", shape: tuple[int, int] = (112, 112)) -> np.ndarray:
    """AU maps (N, H, W) float32 in [0, 1]: the codebook's AUs for each face's emotion, localised by its landmarks.

    landmarks (N, 468|68, 2) pixel (x, y); emotions (N,) names; faces whose emotion has no AUs in the codebook
    (neutral) get all zeros."""
    if codebook not in CODEBOOK_NAMES:
        raise ValueError(f"unknown codebook {codebook!r}: use one of {CODEBOOK_NAMES}")
    if landmarks is None:
        raise ValueError("these faces have no landmarks: AU maps need them (run facexplain.models.au_maps."
                         "ensure_landmarks(dataset) to detect them with MediaPipe first)")
    landmarks = np.asarray(landmarks, np.float32)
    emotions = np.asarray(emotions, dtype=object)
    if landmarks.ndim != 3 or landmarks.shape[2] != 2:
        raise ValueError(f"landmarks must be (N, 468|68, 2); got shape {landmarks.shape}")
    if len(landmarks) != len(emotions):
        raise ValueError(f"{len(landmarks)} landmark sets but {len(emotions)} emotions: give one of each per face")
    book = get_codebook(codebook)
    out = np.zeros((len(landmarks), *shape), np.float32)
    for i, (lm, emo) in enumerate(zip(landmarks, emotions)):
        aus = book.get(str(emo), ())
        if aus:
            if not np.all(np.isfinite(lm)):
                raise ValueError(f"face {i} has missing (NaN) landmarks: drop it or detect its landmarks first")
            out[i] = au_map(lm, aus, shape)
    return out


def has_map(maps: np.ndarray) -> np.ndarray:
    """(N,) bool: which faces have an AU map (not all zero)."""
    maps = np.asarray(maps)
    return maps.reshape(len(maps), -1).max(axis=1) > 0


def ensure_landmarks(dataset, detect: bool = True):
    """The dataset with landmarks: as it is when it has them, else Face Mesh landmarks detected per image (cached).

    Faces where MediaPipe finds no face are dropped (their count is in info["landmarks_missing"]). detect=False
    raises a ValueError instead of detecting."""
    if dataset.landmarks is not None:
        return dataset
    if not detect:
        raise ValueError(f"dataset {dataset.name!r} has no landmarks and detect=False: AU maps need 68 landmarks "
                         "(pass detect=True to run MediaPipe Face Mesh on every image)")
    from ..cache import cached_arrays
    from ..faces.mesh import detect_many

    key = dict(dataset=dataset.name, info=repr(sorted(dataset.info.items())),
               n=len(dataset), first=str(dataset.subject[:3].tolist()), last=str(dataset.subject[-3:].tolist()))

    def build():
        lms, found = detect_many(dataset.images)
        return {"landmarks": lms, "found": found}

    arrays = cached_arrays("landmarks", key, build, code=(detect_many,))
    found = arrays["found"].astype(bool)
    if not found.any():
        raise ValueError(f"MediaPipe found no face in any of the {len(dataset)} images of {dataset.name!r}")
    from ..data.records import FaceDataset
    ds = FaceDataset(dataset.name, dataset.images, arrays["landmarks"], dataset.au_numbers, dataset.au_intensity,
                     dataset.emotion, dataset.subject, dataset.frame, dataset.region_bits, dataset.extra,
                     dict(dataset.info, landmarks="mediapipe", landmarks_missing=int((~found).sum())))
    return ds.subset(np.flatnonzero(found))


__all__ = ["CODEBOOK_NAMES", "au_maps", "has_map", "ensure_landmarks"]
