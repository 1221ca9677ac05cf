"""Landmark-ranking metrics: which landmarks an emotion really moves (ground truth) and top-k precision against it.

On generated clips we know the truth: the AUs of an emotion displace a definite set of landmarks between the
neutral first frame and the apex. Head motion along the clip is removed first (the apex is aligned onto the
neutral frame by a similarity transform fitted on the landmarks that move least), so what is left is expression.
"""

from __future__ import annotations

import numbers

import numpy as np


def _similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (scale, rotation, shift) mapping src (M, 2) onto dst; returns src mapped."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    r = u @ np.diag([1.0, d]) @ vt
    scale = (s * np.array([1.0, d])).sum() / max((a ** 2).sum(), 1e-12)
    return lambda p: (p - ms) @ r * scale + md


def expression_displacement(raw, rigid_fraction: float = 0.5, iterations: int = 3) -> np.ndarray:
    """Per-clip, per-landmark displacement (N, L) from the first to the last frame with head motion removed, in
    units of the neutral frame's interocular distance. raw: (N, P, L, 2) pixel landmarks."""
    from ..faces.landmarks import interocular_distance

    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 4 or raw.shape[-1] != 2 or raw.shape[1] < 2:
        raise ValueError(f"raw landmarks must be clips (N, P >= 2, L, 2); got shape {raw.shape}")
    finite = np.isfinite(raw).reshape(len(raw), -1).all(axis=1)
    if not finite.all():
        raise ValueError(f"raw landmarks of clips {np.flatnonzero(~finite)[:5].tolist()} contain NaN or inf: drop "
                         "the clips where a frame's landmarks were not found")
    if not 0 < rigid_fraction <= 1:
        raise ValueError(f"rigid_fraction must be in (0, 1]; got {rigid_fraction}")
    out = np.empty(raw.shape[:1] + raw.shape[2:3])
    for i, clip in enumerate(raw):
        neutral, apex = clip[0], clip[-1]
        keep = np.arange(len(neutral))
        for _ in range(iterations):
            moved = _similarity_fit(apex[keep], neutral[keep])(apex)
            d = np.linalg.norm(moved - neutral, axis=1)
            keep = np.argsort(d)[: max(3, int(rigid_fraction * len(d)))]
        iod = float(interocular_distance(neutral.astype(np.float32))) if raw.shape[2] in (68, 468) else 1.0
        out[i] = d / max(iod, 1e-9)
    return out


def moved_landmarks(raw, emotion, emotions, threshold: float = 0.03) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Ground truth per emotion: the landmarks whose mean expression displacement over that emotion's clips is at
    least `threshold` interocular distances. Returns ({emotion: sorted indices}, mean displacement (E, L))."""
    disp = expression_displacement(raw)
    emotion = np.asarray(emotion).astype(str)
    truth, means = {}, []
    for e in emotions:
        rows = emotion == e
        if not rows.any():
            raise ValueError(f"no clip of {e!r} to measure its landmark motion on")
        m = disp[rows].mean(0)
        means.append(m)
        truth[e] = np.flatnonzero(m >= threshold)
    return truth, np.stack(means)


def _indices(values, name: str) -> np.ndarray:
    """Landmark indices as int64, or a ValueError naming `name` (NaN, inf and fractions are not indices)."""
    a = np.asarray(values).reshape(-1)
    if a.dtype.kind == "f" and (not np.isfinite(a).all() or not np.all(a == np.round(a))):
        raise ValueError(f"{name} must hold whole landmark indices; got non-integer or NaN values")
    if a.size and a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold landmark indices (ints); got dtype {a.dtype}")
    return a.astype(np.int64)


def topk_precision(ranking, truth_landmarks, k: int) -> float:
    """Fraction of the top-k ranked landmarks that are in the ground-truth set: ``|top-k ∩ truth| / k``."""
    ranking, truth = _indices(ranking, "ranking"), set(_indices(truth_landmarks, "truth_landmarks").tolist())
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"k must be a whole number of landmarks; got {k!r}")
    k = int(k)
    if not 1 <= k <= len(ranking):
        raise ValueError(f"k must be between 1 and the number of ranked landmarks ({len(ranking)}); got {k}")
    if len(set(ranking.tolist())) != len(ranking):
        raise ValueError("ranking lists a landmark twice: pass a permutation (e.g. global_ig(...).ranking)")
    return len(truth.intersection(ranking[:k].tolist())) / k


__all__ = ["expression_displacement", "moved_landmarks", "topk_precision"]


#: The face parts of the iBUG 68 scheme (0-based index ranges).
FACE_PARTS = {"outline": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
              "mouth": range(48, 68)}


def face_parts(mesh) -> np.ndarray:
    """For each of the 468 Face Mesh points of `mesh` (468, 2), the face part (FACE_PARTS) of the nearest of its
    68 iBUG points: an array of part names."""
    from ..faces.landmarks import MESH_TO_IBUG68

    mesh = np.asarray(mesh, dtype=np.float64)
    l68 = mesh[list(MESH_TO_IBUG68)]
    nearest = np.argmin(((mesh[:, None] - l68[None]) ** 2).sum(-1), axis=1)
    names = np.empty(68, object)
    for name, idx in FACE_PARTS.items():
        names[list(idx)] = name
    return names[nearest]


def tracking_error(detected, exact, emotion, threshold: float = 0.03, rigid_fraction: float = 0.5):
    """How a landmark detector follows known motion: detected and exact (N, P, 468, 2) clips (neutral first frame,
    apex last) of the same frames, in pixels; errors in units of each clip's neutral interocular distance.

    Per face part (face_parts of the first clip's neutral frame) and over all landmarks: `error` the median distance
    between detected and exact points; `motion_error` the RMS of the detected motion from the neutral frame minus the
    true motion (what neutral-subtracted clips carry as noise), over frames 1..P-1; `gain` how much of the true
    expression motion the detector follows: over the landmarks whose apex displacement (head motion removed) is at
    least `threshold`, sum((v + e) . v) / sum(|v|^2), v the true displacement, e the detected motion error at the
    apex (1 = follows fully, 0.5 = half); `moving` how many (clip, landmark) pairs enter it. Per emotion the same
    `gain`. Returns (by part DataFrame, by emotion DataFrame)."""
    import pandas as pd

    from ..faces.landmarks import interocular_distance

    det = np.asarray(detected, dtype=np.float64)
    ex = np.asarray(exact, dtype=np.float64)
    if det.shape != ex.shape or det.ndim != 4 or det.shape[2:] != (468, 2) or det.shape[1] < 2:
        raise ValueError(f"detected and exact must both be (N, P >= 2, 468, 2) clips; got {det.shape}, {ex.shape}")
    emotion = np.asarray(emotion).astype(str)
    iod = np.array([interocular_distance(c[0].astype(np.float32)) for c in ex])[:, None, None, None]
    res = (det - ex) / iod                                        # (N, P, L, 2) detector error
    dist = np.linalg.norm(res, axis=-1)                           # (N, P, L)
    motion = np.linalg.norm(res[:, 1:] - res[:, :1], axis=-1)     # (N, P-1, L) motion error
    v = np.empty(ex.shape[:1] + ex.shape[2:])                     # (N, L, 2) true expression displacement
    for i, clip in enumerate(ex):
        neutral, apex = clip[0], clip[-1]
        keep = np.arange(len(neutral))
        for _ in range(3):
            moved = _similarity_fit(apex[keep], neutral[keep])(apex)
            d = np.linalg.norm(moved - neutral, axis=1)
            keep = np.argsort(d)[: max(3, int(rigid_fraction * len(d)))]
        v[i] = (moved - neutral) / iod[i, 0]
    e = res[:, -1] - res[:, 0]
    moving = np.linalg.norm(v, axis=-1) >= threshold              # (N, L)
    along = ((v + e) * v).sum(-1)
    power = (v ** 2).sum(-1)

    def gain(mask):
        return float(along[mask].sum() / power[mask].sum()) if mask.any() else float("nan")

    parts = face_parts(ex[0, 0])
    rows = []
    for name in (*FACE_PARTS, "all"):
        lm = np.ones(468, bool) if name == "all" else parts == name
        rows.append(dict(part=name, landmarks=int(lm.sum()), error=float(np.median(dist[..., lm])),
                         motion_error=float(np.sqrt((motion[..., lm] ** 2).mean())),
                         gain=gain(moving & lm[None]), moving=int((moving & lm[None]).sum())))
    by_emotion = [dict(emotion=e_, clips=int((emotion == e_).sum()), gain=gain(moving & (emotion == e_)[:, None]),
                       motion_error=float(np.sqrt((motion[emotion == e_] ** 2).mean())))
                  for e_ in dict.fromkeys(emotion)]
    return pd.DataFrame(rows).set_index("part"), pd.DataFrame(by_emotion).set_index("emotion")
