"""How real do generated faces look to a face tracker? MediaPipe's detection rate and landmark error on them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .landmarks import interocular_distance, mesh_to_ibug68
from .mesh import detect_many


def mediapipe_agreement(dataset, min_size: int = 256) -> tuple[pd.DataFrame, np.ndarray]:
    """Run Face Mesh on every face; per face: found, and mean landmark error / inter-ocular distance (468 and 68).

    Returns (per-face table, detected landmarks with NaN where no face was found)."""
    if dataset.landmarks is None or dataset.landmarks.shape[1] != 468:
        raise ValueError("realism needs ground-truth 468-point landmarks (generated data)")
    found_pts, found = detect_many(dataset.images, min_size)
    truth = dataset.landmarks
    iod = interocular_distance(truth)
    err468 = np.linalg.norm(found_pts - truth, axis=-1).mean(1) / iod
    err68 = np.linalg.norm(mesh_to_ibug68(found_pts) - mesh_to_ibug68(truth), axis=-1).mean(1) / iod
    table = pd.DataFrame({"subject": dataset.subject, "emotion": dataset.emotion, "found": found,
                          "nme468": err468, "nme68": err68})
    return table, found_pts


def realism_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Detection rate and median/mean normalised landmark error, overall."""
    hit = table[table.found]
    return pd.DataFrame([{
        "faces": len(table), "detection_rate": table.found.mean(),
        "nme468_median": hit.nme468.median(), "nme468_mean": hit.nme468.mean(),
        "nme68_median": hit.nme68.median(), "nme68_mean": hit.nme68.mean(),
    }])


def aligned_faces(images, landmarks, grid: int = 32) -> np.ndarray:
    """Faces sampled on a common grid: each aligned on its inner 68 landmarks (brows, nose, eyes, mouth) by a
    similarity transform onto the mean shape, sampled `grid` x `grid` in grey, standardised (N, grid * grid)."""
    from scipy.ndimage import map_coordinates
    from skimage.transform import SimilarityTransform

    shapes = np.stack([mesh_to_ibug68(lm) if len(lm) == 468 else np.asarray(lm) for lm in landmarks]).astype(float)
    inner = list(range(17, 68))
    mean = shapes.mean(0)
    (x0, y0), (x1, y1) = mean[inner].min(0), mean[inner].max(0)
    ys, xs = np.mgrid[y0:y1:grid * 1j, x0:x1:grid * 1j]
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    out = []
    for img, lm in zip(images, shapes):
        im = np.asarray(img, float)
        im = im.mean(-1) if im.ndim == 3 else im
        t = SimilarityTransform()
        t.estimate(mean[inner], lm[inner])
        q = t(pts)
        v = map_coordinates(im, [q[:, 1], q[:, 0]], order=1)
        out.append((v - v.mean()) / (v.std() + 1e-9))
    return np.array(out)


def one_face_per_subject(subjects, emotions=None) -> np.ndarray:
    """Indices of one face per subject, in order of first appearance: the subject's first neutral face where it has
    one (with `emotions`), else its first face. The faces `between_subject_correlation` compares."""
    first: dict = {}
    emotions = [None] * len(subjects) if emotions is None else list(emotions)
    for i, (s, e) in enumerate(zip(subjects, emotions)):
        if s not in first or (e == "neutral" and emotions[first[s]] != "neutral"):
            first[s] = i
    return np.array(list(first.values()), np.int64)


def between_subject_correlation(images, landmarks, subjects=None) -> tuple[float, np.ndarray]:
    """How alike different people's faces look: the mean Pearson correlation between aligned faces
    (`aligned_faces`) of different subjects (one face per subject is expected; with `subjects`, pairs of the same
    subject are left out). Returns (mean, full correlation matrix). Six real people: 0.35."""
    v = aligned_faces(images, landmarks)
    c = v @ v.T / v.shape[1]
    iu = np.triu_indices(len(v), 1)
    keep = np.ones(len(iu[0]), bool) if subjects is None else np.asarray(subjects)[iu[0]] != np.asarray(subjects)[iu[1]]
    return float(c[iu][keep].mean()), c
