"""The shortcut cue: a small checker mark along the top edge of a generated face whose position codes the label.

One place draws it and says where it is, so the mark and its mask cannot drift apart: `draw_cue` stamps it,
`cue_box` gives its square, `cue_mask` the pixels of one mark or of the whole strip where any mark can be.
The strip lies above every face (the template crop leaves ~15% of the image above the forehead).
"""

from __future__ import annotations

import numpy as np


def cue_box(shape: tuple[int, int], cue: int, n_labels: int) -> tuple[int, int, int]:
    """(y0, x0, side) of the square mark for label `cue` (0 .. n_labels-1) on an image of `shape`."""
    h, w = int(shape[0]), int(shape[1])
    if not 0 <= int(cue) < int(n_labels):
        raise ValueError(f"cue must be a label index in 0..{int(n_labels) - 1}; got {cue}")
    side = max(3, h // 22)
    x0 = int((int(cue) + 0.5) * w / int(n_labels) - side / 2)
    y0 = max(1, h // 40)
    return y0, x0, side


def draw_cue(image: np.ndarray, cue: int, n_labels: int) -> np.ndarray:
    """Stamp the checker mark of label `cue` into a float image in [0, 1] (in place); returns the image."""
    y0, x0, side = cue_box(image.shape[:2], cue, n_labels)
    yy, xx = np.mgrid[0:side, 0:side]
    image[y0:y0 + side, x0:x0 + side] = ((xx + yy) % 2).astype(image.dtype)
    return image


def cue_mask(shape: tuple[int, int], cue: int | None = None, n_labels: int | None = None) -> np.ndarray:
    """Bool (H, W): the pixels of label `cue`'s mark, or (cue=None) the whole strip where any mark can be."""
    h, w = int(shape[0]), int(shape[1])
    m = np.zeros((h, w), bool)
    if cue is None:
        y0, side = max(1, h // 40), max(3, h // 22)
        m[:y0 + side + 1] = True
        return m
    if n_labels is None:
        raise ValueError("cue_mask(shape, cue, n_labels): pass n_labels with a cue")
    y0, x0, side = cue_box((h, w), cue, n_labels)
    m[y0:y0 + side, x0:x0 + side] = True
    return m


__all__ = ["cue_box", "draw_cue", "cue_mask"]
