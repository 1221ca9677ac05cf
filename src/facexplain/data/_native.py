"""Shared helpers for the native-layout loaders: checked file reading, face crops and label maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .. import checks
from ..images import read_image
from .errors import DatasetError

#: The book's emotion names (records carry these strings, whatever a dataset's codes are).
BOOK_EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def dataset_root(data_dir, name: str, expected: str) -> Path:
    """`data_dir` as a Path, or a DatasetError that says what should be there."""
    if data_dir is None:
        raise DatasetError(f"no data_dir given for {name}: pass the folder that holds {expected}")
    root = Path(data_dir).expanduser()
    if not root.exists():
        raise DatasetError(f"{name} folder {root} does not exist: expected a folder holding {expected}")
    if not root.is_dir():
        raise DatasetError(f"{name} data_dir {root} is a file, not a folder: expected a folder holding {expected}")
    return root


def find_layout(root: Path, name: str, required: tuple[str, ...], nests: tuple[str, ...] = (),
                expected: str | None = None) -> Path:
    """The folder (root itself or root/<nest>) that holds all `required` entries, else a DatasetError."""
    for base in (root, *(root / n for n in nests)):
        if all((base / r).exists() for r in required):
            return base
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())[:12]
    raise DatasetError(f"no {name} found in {root}: expected {expected or ', '.join(required)}"
                       f"{' (or under ' + ', '.join(n + '/' for n in nests) + ')' if nests else ''}; "
                       f"found {found or 'an empty folder'}")


def hidden(path: Path) -> bool:
    """Dot-files and dot-folders (macOS "._x.png" resource forks, ".DS_Store", ...): never data."""
    return path.name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name (frame order for sequences); dot-files are skipped."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not hidden(p) and p.suffix.lower() in IMAGE_SUFFIXES)


def read_label_text(path: Path, what: str = "label file") -> str:
    """A label file's text (UTF-8, a byte-order mark dropped), or a DatasetError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as err:
        raise DatasetError(f"cannot read {what} {path}: {err}") from None


def read_grey(path: Path) -> np.ndarray:
    """An image file as grey uint8 (H, W), or a DatasetError naming the file. 16-bit and float images are scaled
    to 0..255, not clipped (see facexplain.images)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"image {path} is missing")
    try:
        return read_image(path, "L")
    except (OSError, ValueError) as err:
        raise DatasetError(str(err)) from None


def read_rows(path: Path, width: int | None = None) -> list[tuple[int, list[float]]]:
    """Whitespace-separated numbers per non-blank line as (line number, values); checks the row width."""
    rows = []
    text = read_label_text(path)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise DatasetError(f"{path}, line {lineno}: expected numbers, got {line.strip()!r}") from None
        if not all(np.isfinite(values)):
            raise DatasetError(f"{path}, line {lineno}: expected finite numbers, got {line.strip()!r} "
                               "(NaN or inf: re-export the file or leave the frame out)")
        if width is not None and len(values) < width:
            raise DatasetError(f"{path}, line {lineno}: expected {width} numbers, got {line.strip()!r}")
        rows.append((lineno, values))
    return rows


def read_points(path: Path, n: int) -> np.ndarray:
    """A landmark file of `n` lines "x y" as float32 (n, 2), or a DatasetError naming the file."""
    rows = read_rows(path, 2)
    if len(rows) != n:
        raise DatasetError(f"landmark file {path}: expected {n} lines 'x y', found {len(rows)}")
    return np.array([v[:2] for _, v in rows], dtype=np.float32)


def read_facs(path: Path, allowed=(0.0, 5.0)) -> dict[int, float]:
    """A FACS file ("AU intensity" per line, floats) as {AU: intensity}; an empty file means no AU."""
    aus = {}
    for lineno, values in read_rows(path, 2):
        au, level = values[0], values[1]
        if au != int(au) or au < 1:
            raise DatasetError(f"{path}, line {lineno}: AU code {au:g} is not a positive whole number")
        if not allowed[0] <= level <= allowed[1]:
            raise DatasetError(f"{path}, line {lineno}: intensity {level:g} of AU{int(au)} is outside the "
                               f"allowed {allowed[0]:g}..{allowed[1]:g}")
        aus[int(au)] = float(level)
    return aus


def label_code(path: Path, codes: dict[int, str], lineno: int, value) -> str:
    """The book emotion for a dataset's label code, or a DatasetError naming file, line and allowed codes."""
    try:
        f = float(value)
        code = int(f)
        ok = f == code and code in codes
    except (TypeError, ValueError):
        ok = False
    if not ok:
        allowed = ", ".join(f"{c} {e}" for c, e in sorted(codes.items()))
        raise DatasetError(f"{path}, line {lineno}: unknown label code {str(value).strip()!r}; "
                           f"allowed codes are {allowed}")
    return codes[code]


def square_box(x0: float, y0: float, w: float, h: float, scale: float = 1.0) -> tuple[int, int, int]:
    """An integer square (left, top, side) centred on a box, its side `scale` x the longer edge."""
    side = max(1, int(round(max(w, h) * scale)))
    cx, cy = x0 + w / 2, y0 + h / 2
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def landmark_box(points: np.ndarray, scale: float) -> tuple[int, int, int]:
    """The square around a face's landmarks, enlarged by `scale` (forehead and chin margin)."""
    lo, hi = points.min(0), points.max(0)
    return square_box(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1], scale)


def centre_box(image: np.ndarray) -> tuple[int, int, int]:
    """The largest centred square of an image (used when a frame has no landmarks)."""
    h, w = image.shape
    side = min(h, w)
    return (w - side) // 2, (h - side) // 2, side


def crop_resize(image: np.ndarray, box: tuple[int, int, int], size: int, points: np.ndarray | None = None):
    """Crop a square box (zero padding outside the image), resize to size x size, move landmarks along.

    Landmarks use the pixel-centre convention (pixel (0, 0) covers -0.5..0.5), so a point stays on the
    same image content: x' = (x + 0.5 - left) * size / side - 0.5.
    """
    left, top, side = box
    crop = Image.fromarray(image).crop((left, top, left + side, top + side))
    out = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))
    if points is None:
        return out, None
    s = size / side
    moved = (np.asarray(points, np.float64) + 0.5 - (left, top)) * s - 0.5
    return out, moved.astype(np.float32)


def aam66_to_ibug68(points: np.ndarray) -> np.ndarray:
    """66 AAM points (iBUG 68 without the inner-mouth corners 60 and 64) -> 68, filling 60/64 from 48/54."""
    p = np.asarray(points, np.float32)
    if p.shape != (66, 2):
        raise ValueError(f"expected 66 AAM points of shape (66, 2); got {p.shape}")
    return np.concatenate([p[:60], p[48:49], p[60:63], p[54:55], p[63:66]])


def limit(items: list, max_items: int | None) -> list:
    """The first `max_items` items (all when None), checking the option."""
    if max_items is None:
        return items
    return items[: checks.integer("max_items", max_items, 1)]


def check_size(image_size) -> int:
    return checks.integer("image_size", image_size, 8)


def check_choice(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name}={value!r}: expected one of {', '.join(map(repr, allowed))}")


def assemble(name: str, items: list[dict], load, au_numbers, extra_keys=(), info=None, progress=True):
    """Read every planned item with `load(item) -> (image, landmarks|None)` and stack a FaceDataset.

    Items carry "aus" (dict AU -> intensity, coded AUs missing from it are 0; None = not coded -> NaN),
    "emotion", "subject", "frame" and the `extra_keys`.
    """
    from tqdm.auto import tqdm

    from .records import FaceDataset

    if not items:
        raise DatasetError(f"{name}: nothing to load (the options selected no faces)")
    au_numbers = tuple(sorted(au_numbers))
    images, marks = [], []
    for item in tqdm(items, desc=f"loading {name}", disable=not progress or len(items) < 500, leave=False):
        image, points = load(item)
        images.append(image)
        marks.append(points)
    au = np.full((len(items), len(au_numbers)), np.nan, np.float32)
    for i, item in enumerate(items):
        if item["aus"] is not None:
            au[i] = [item["aus"].get(a, 0.0) for a in au_numbers]
    landmarks = None
    if any(m is not None for m in marks):
        n_points = next(m for m in marks if m is not None).shape[0]
        landmarks = np.stack([np.full((n_points, 2), np.nan, np.float32) if m is None else m for m in marks])
    extra = {k: np.asarray([item[k] for item in items]) for k in extra_keys}
    return FaceDataset(name, np.stack(images), landmarks, au_numbers, au,
                       [item["emotion"] for item in items], [str(item["subject"]) for item in items],
                       [int(item["frame"]) for item in items], extra=extra, info=info)
