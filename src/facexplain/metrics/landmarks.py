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
    """Fraction of the top-k ranked landmarks that are in the ground-truth set: |top-k ∩ truth| / k."""
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
