"""CAM-COS / ATT-COS (seed 004): how well a saliency or attention map lines up with a face's AU map.

The map is brought to the AU map's resolution (bilinear upsampling), negative values are cut to zero, and the
cosine between the two is taken over the whole image. Scores are averaged per emotion first and then over the
emotions, so frequent classes do not dominate; neutral faces have no AU map and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ZERO_SALIENCY = ("raise", "zero", "nan")


def _as_array(a, name: str) -> np.ndarray:
    try:  # torch tensors (also on a GPU or with grad) and anything array-like
        a = a.detach().cpu().numpy()
    except AttributeError:
        pass
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must be one map (H, W) or a batch (N, H, W); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values: clean the maps before scoring them")
    return a


def _unit_peak(maps: np.ndarray) -> np.ndarray:
    """Each (H, W) map divided by its largest absolute value (all-zero maps stay zero): the cosine does not change,
    and squares and products can no longer overflow (or underflow) whatever the maps' scale."""
    peak = np.abs(maps).max(axis=(1, 2), keepdims=True)
    return maps / np.where(peak > 0, peak, 1.0)


def upsample(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (N, h, w) maps to ``(N, *shape)`` (align_corners=False, like torch and the paper's code)."""
    import torch
    import torch.nn.functional as F

    t = torch.as_tensor(maps, dtype=torch.float64)[:, None]
    return F.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False)[:, 0].numpy()


def map_cosine(saliency, au_map, zero_saliency: str = "raise"):
    """Cosine between the (upsampled, non-negative) saliency map and the AU map, over the whole image.

    saliency
        (H, W) or (N, H, W), or coarser (h, w) with the same aspect ratio (e.g. a 7x7 CAM): upsampled.
    au_map
        (H, W) or (N, H, W), non-negative, not all zero (a neutral face has no AU map: leave it out).
    zero_saliency
        what an all-zero map (after cutting negatives) scores: "raise" (ValueError), "zero" (0.0) or "nan".

    Returns a float for one map, an array (N,) for a batch: 1 for a map equal to the AU map, unchanged by positive
    scaling of either map.
    """
    if zero_saliency not in ZERO_SALIENCY:
        raise ValueError(f"zero_saliency must be one of {ZERO_SALIENCY}; got {zero_saliency!r}")
    s, a = _as_array(saliency, "saliency"), _as_array(au_map, "au_map")
    single = s.ndim == 2 and a.ndim == 2
    if s.ndim == 2:
        s = s[None]
    if a.ndim == 2:
        a = a[None]
    if len(s) != len(a):
        raise ValueError(f"saliency has {len(s)} maps but au_map has {len(a)}: give one AU map per saliency map")
    (h, w), (H, W) = s.shape[1:], a.shape[1:]
    if (h, w) != (H, W):
        if h > H or w > W or h * W != w * H:
            raise ValueError(f"saliency maps are {h}x{w} but AU maps are {H}x{W}: a map must match the AU map or be "
                             "a coarser map of the same aspect ratio (it is upsampled)")
        s = upsample(s, (H, W))
    if (a < 0).any():
        raise ValueError("au_map has negative values: an AU map lies in [0, 1]")
    s = _unit_peak(np.maximum(s, 0.0))      # normalised before any product: 1e200-scaled maps must not overflow
    a = _unit_peak(a)
    a_norm = np.sqrt((a ** 2).sum(axis=(1, 2)))
    if (a_norm == 0).any():
        bad = np.flatnonzero(a_norm == 0)[:5].tolist()
        raise ValueError(f"AU map(s) {bad} are all zero (neutral faces have no AU map): leave them out of the score")
    s_norm = np.sqrt((s ** 2).sum(axis=(1, 2)))
    zero = s_norm == 0
    if zero.any() and zero_saliency == "raise":
        bad = np.flatnonzero(zero)[:5].tolist()
        raise ValueError(f"saliency map(s) {bad} are all zero after cutting negatives: the cosine is undefined "
                         "(pass zero_saliency='zero' or 'nan' to score them anyway)")
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (s * a).sum(axis=(1, 2)) / (s_norm * a_norm)
    cos[zero] = 0.0 if zero_saliency == "zero" else np.nan
    cos = np.clip(cos, 0.0, 1.0)
    return float(cos[0]) if single else cos


def class_average(scores, labels, classes: Sequence[str] | None = None,
                  exclude: Sequence[str] = ("neutral",)) -> tuple[float, dict[str, float]]:
    """Average per class, then over the classes: (overall, {class: mean}). NaN scores are skipped.

    classes: the classes to average over (default: the labels present, minus `exclude`), in that order.
    A requested class with no finite score is NaN in the dict and left out of the overall mean."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=object).ravel()
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels: give one label per score")
    if classes is None:
        classes = [c for c in dict.fromkeys(sorted(labels.tolist())) if c not in set(exclude)]
    per = {}
    for c in classes:
        v = scores[(labels == c) & np.isfinite(scores)]
        per[c] = float(v.mean()) if len(v) else float("nan")
    finite = [v for v in per.values() if np.isfinite(v)]
    if not finite:
        raise ValueError(f"no finite scores for any of the classes {list(classes)}")
    return float(np.mean(finite)), per


__all__ = ["map_cosine", "class_average", "upsample"]
