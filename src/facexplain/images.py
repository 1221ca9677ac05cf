"""Reading images as 8-bit arrays by scaling, never by clipping: 16-bit and float files (and arrays) keep their contrast.

Pillow's `convert("L")` clips a 16-bit image's values at 255, so a 16-bit copy of an 8-bit frame (values x 257)
loads as a white image. Here every depth is scaled to 0..255 by one rule (`to_uint8`):

- uint8: as it is; bool: 0 / 255;
- uint16 (PNG/TIFF "I;16"): x * 255 / 65535 (so a 16-bit copy of an 8-bit image gives back the 8-bit values);
- floats in [0, 1]: x * 255;
- other numbers in [0, 255]: as they are; whole numbers up to 65535 (Pillow's 32-bit mode "I" holding 16-bit data):
  x * 255 / 65535;
- anything else (negative values, NaN, inf, larger values) is refused with a ValueError naming the image.

This module sits below every layer (faces, data, ...), like cache.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Pillow modes read through to_uint8 (their values are not 8-bit); the others go through Image.convert.
DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def to_uint8(image, what: str = "image") -> np.ndarray:
    """An array of any depth as uint8 by the module's scaling rule, or a ValueError naming `what`."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if a.dtype.kind not in "uif":
        raise ValueError(f"{what} has dtype {a.dtype}: expected a numeric image (uint8, uint16 or floats)")
    if a.size == 0:
        raise ValueError(f"{what} is empty (shape {a.shape})")
    f = a.astype(np.float64)
    if not np.isfinite(f).all():
        raise ValueError(f"{what} contains NaN or infinite values: an image needs finite pixel values")
    lo, hi = float(f.min()), float(f.max())
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:
        scale = 255.0 / 65535.0
    elif lo < 0:
        raise ValueError(f"{what} has negative values (min {lo:g}): expected uint8, uint16, or floats in [0, 1] "
                         "or [0, 255]")
    elif a.dtype.kind == "f" and hi <= 1.0:
        scale = 255.0
    elif hi <= 255.0:
        scale = 1.0
    elif hi <= 65535.0 and np.all(f == np.round(f)):
        scale = 255.0 / 65535.0
    else:
        raise ValueError(f"{what} has values up to {hi:g}: expected uint8, uint16, or floats in [0, 1] or [0, 255]")
    return np.round(f * scale).astype(np.uint8)


def pil_to_array(im, mode: str = "L", what: str = "image") -> np.ndarray:
    """A Pillow image as uint8 (H, W) grey (mode="L") or (H, W, 3) (mode="RGB"), deep modes scaled, not clipped."""
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' (grey) or 'RGB'; got {mode!r}")
    if im.mode in DEEP_MODES:
        grey = to_uint8(np.asarray(im), what)
        return grey if mode == "L" else np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(im.convert(mode), dtype=np.uint8)


def read_image(path, mode: str = "L") -> np.ndarray:
    """An image file as uint8 grey (mode="L") or RGB (mode="RGB"). Raises FileNotFoundError when there is no such
    file, ValueError (naming the file) when it is not a readable image or its values cannot be scaled."""
    from PIL import Image, UnidentifiedImageError

    path = Path(os.fspath(path)).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an image file: pass the path of one image")
    if not path.is_file():
        raise FileNotFoundError(f"image {path} is missing")
    try:
        with Image.open(path) as im:
            im.load()
            return pil_to_array(im, mode, what=f"image {path}")
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"corrupt or unreadable image {path}: {err}") from None


__all__ = ["DEEP_MODES", "pil_to_array", "read_image", "to_uint8"]
