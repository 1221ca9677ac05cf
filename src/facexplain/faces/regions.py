"""Where each Action Unit happens, derived from 68 landmarks: as boxes (seed 001's mu) and as soft maps (seed 004).

Boxes follow seed 001's idea (one or two rectangles per AU spanned by the landmarks of the muscles' area, with a
margin relative to the inter-ocular distance). Soft maps follow the recipe of seed 004's public code: a blob per AU
site, the blobs of one image combined by pixel-wise max and scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np

from .aus import au_number
from .landmarks import as_ibug68, interocular_distance

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def _span(l68, idx, pad_x, pad_y) -> Box:
    pts = l68[list(idx)]
    return (pts[:, 0].min() - pad_x, pts[:, 1].min() - pad_y, pts[:, 0].max() + pad_x, pts[:, 1].max() + pad_y)


def au_boxes(landmarks, au) -> list[Box]:
    """The box(es) in which AU `au` happens on a face with these landmarks (468 or 68 points)."""
    l68 = as_ibug68(landmarks)
    n = au_number(au)
    d = float(interocular_distance(l68))
    m = 0.12 * d
    brow_top = lambda idx: l68[list(idx), 1].min()  # noqa: E731
    if n == 1:
        return [_span(l68, (19, 20, 21, 22, 23, 24), m, 0.35 * d)]
    if n == 2:
        return [_span(l68, (17, 18, 19), m, 0.35 * d), _span(l68, (24, 25, 26), m, 0.35 * d)]
    if n == 4:
        x0, x1 = l68[19, 0], l68[24, 0]
        return [(x0 - m, brow_top(range(17, 27)) - 0.25 * d, x1 + m, l68[(39, 42), 1].mean())]
    if n in (5, 7, 43, 45):
        pad_y = 0.18 * d if n == 5 else 0.12 * d
        return [_span(l68, range(36, 42), m, pad_y), _span(l68, range(42, 48), m, pad_y)]
    if n in (6, 13):
        top, bottom = l68[36:48, 1].max(), l68[31:36, 1].mean()
        return [(l68[36, 0] - m, top, l68[39, 0], bottom + 0.1 * d), (l68[42, 0], top, l68[45, 0] + m, bottom + 0.1 * d)]
    if n == 9:
        return [_span(l68, (27, 28, 29, 30, 31, 32, 33, 34, 35, 39, 42), 0.05 * d, 0.08 * d)]
    if n in (10, 11):
        top, bottom = l68[31:36, 1].min(), l68[(50, 51, 52), 1].max()
        return [(l68[48, 0] - m, top, l68[54, 0] + m, bottom + 0.05 * d)]
    if n in (12, 14, 15, 20):
        pad = 0.3 * d
        return [_span(l68, (48, 49, 59, 60), pad, pad), _span(l68, (53, 54, 55, 64), pad, pad)]
    if n == 16:
        return [_span(l68, (55, 56, 57, 58, 59, 65, 66, 67), m, 0.12 * d)]
    if n == 17:
        return [_span(l68, (6, 7, 8, 9, 10, 56, 57, 58), 0.05 * d, 0.05 * d)]
    if n in (18, 22, 23, 24, 25, 28):
        return [_span(l68, range(48, 68), m, 0.1 * d)]
    if n in (26, 27):
        return [_span(l68, tuple(range(48, 68)) + (7, 8, 9), m, 0.1 * d)]
    raise ValueError(f"no box is defined for AU{n}")


def boxes_to_mask(boxes: list[Box], shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask that is True inside any of the boxes (clipped to the image)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        mask |= (xx + 0.5 >= x0) & (xx + 0.5 <= x1) & (yy + 0.5 >= y0) & (yy + 0.5 <= y1)
    return mask


def au_box_mask(landmarks, au, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of AU `au`'s box(es)."""
    return boxes_to_mask(au_boxes(landmarks, au), shape)


# --- seed 004's soft AU maps ---------------------------------------------------------------------------------

def _sites(l68: np.ndarray, n: int, d: float) -> list[tuple[float, float, float, float]]:
    """Blob sites (cx, cy, rx, ry) for AU n, after seed 004's public recipe (see reference/facts.md)."""
    p = l68
    r = 0.18 * d
    mid = lambda a, b: (p[a] + p[b]) / 2  # noqa: E731

    def eye_box(idx, taller=1.0):
        pts = p[list(idx)]
        c = pts.mean(0)
        return (c[0], c[1], (np.ptp(pts[:, 0]) / 2 + 0.05 * d), (np.ptp(pts[:, 1]) / 2 + 0.08 * d) * taller)

    if n == 1:
        return [(*p[20], r, 0.6 * r), (*p[23], r, 0.6 * r)]
    if n == 2:
        return [(*p[18], r, 0.6 * r), (*p[25], r, 0.6 * r)]
    if n == 4:
        return [(*mid(19, 24), 1.6 * r, 0.7 * r)]
    if n in (5, 43, 45):
        return [eye_box(range(36, 42)), eye_box(range(42, 48))]
    if n == 7:
        return [eye_box(range(36, 42), 1.6), eye_box(range(42, 48), 1.6)]
    if n in (6, 13):
        return [(p[41, 0], p[41, 1] + 0.3 * d, r, 0.7 * r), (p[46, 0], p[46, 1] + 0.3 * d, r, 0.7 * r)]
    if n == 9:
        return [(p[31, 0], p[29, 1], 0.6 * r, 0.6 * r), (p[35, 0], p[29, 1], 0.6 * r, 0.6 * r)]
    if n in (10, 11):
        return [(p[48, 0], p[50, 1], 0.6 * r, 0.6 * r), (p[52, 0], p[54, 1], 0.6 * r, 0.6 * r)]
    if n in (12, 15):
        return [(*p[48], 0.7 * r, 0.7 * r), (*p[54], 0.7 * r, 0.7 * r)]
    if n == 14:
        return [(p[48, 0] - 0.1 * d, p[48, 1], 0.7 * r, 0.7 * r), (p[54, 0] + 0.1 * d, p[54, 1], 0.7 * r, 0.7 * r)]
    if n == 16:
        return [(*p[59], 0.7 * r, 0.7 * r), (*p[55], 0.7 * r, 0.7 * r)]
    if n == 17:
        return [(*mid(59, 8), 1.2 * r, 0.7 * r)]
    if n == 20:
        return [(*mid(48, 6), 0.7 * r, 0.7 * r), (*mid(54, 10), 0.7 * r, 0.7 * r)]
    if n == 25:
        return [(*p[51], 0.9 * r, 0.5 * r), (*p[57], 0.9 * r, 0.5 * r)]
    if n in (18, 22, 23, 24, 26, 27, 28):
        c = (p[48] + p[54] + p[51] + p[57]) / 4
        return [(c[0], c[1], abs(p[54, 0] - p[48, 0]) / 2 + 0.05 * d, abs(p[57, 1] - p[51, 1]) / 2 + 0.08 * d)]
    raise ValueError(f"no AU-map site is defined for AU{n}")


def au_map(landmarks, aus, shape: tuple[int, int]) -> np.ndarray:
    """Soft map in [0, 1] of where the AUs `aus` happen: one Gaussian blob per site, combined by max.

    Returns all zeros for an empty AU list (a neutral face has no map)."""
    aus = [au_number(a) for a in aus]
    h, w = shape
    out = np.zeros((h, w), np.float32)
    if not aus:
        return out
    l68 = as_ibug68(landmarks)
    d = float(interocular_distance(l68))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    for n in aus:
        for cx, cy, rx, ry in _sites(l68, n, d):
            blob = np.exp(-0.5 * (((xx - cx) / max(rx, 1.0)) ** 2 + ((yy - cy) / max(ry, 1.0)) ** 2))
            np.maximum(out, blob, out=out)
    lo, hi = out.min(), out.max()
    return (out - lo) / (hi - lo) if hi > lo else out
