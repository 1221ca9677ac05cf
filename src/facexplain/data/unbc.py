"""UNBC-McMaster Shoulder Pain from its native folders: video frames with frame-level FACS, PSPI and AAM landmarks."""

from __future__ import annotations

from .. import checks
from ._native import (aam66_to_ibug68, assemble, check_choice, check_size, crop_resize, centre_box, dataset_root,
                      find_layout, image_files, landmark_box, limit, read_facs, read_grey, read_points, read_rows)
from .errors import DatasetError

#: The AUs UNBC codes on every frame (a frame's FACS file lists the active ones; the others are 0).
UNBC_AUS = (4, 6, 7, 9, 10, 12, 20, 25, 26, 27, 43)
EXPECTED = ("Images/<subject>/<sequence>/<frame>.png, Frame_Labels/FACS/<subject>/<sequence>/<frame>_facs.txt "
            "(optionally Frame_Labels/PSPI/ and AAM_landmarks/)")


def load_unbc(data_dir, image_size: int = 112, crop: str = "face", crop_scale: float = 1.25, frame_step: int = 1,
              max_items: int | None = None, progress: bool = True):
    """Load UNBC-McMaster from `data_dir` (the folder holding Images/, Frame_Labels/, AAM_landmarks/).

    crop
        "face": a square around the frame's landmarks (side = crop_scale x their extent; needs
        AAM_landmarks/); "centre": the largest centred square of the frame.
    frame_step
        keep every n-th frame of each sequence (UNBC has 48,398 frames; 1 keeps all).

    Landmarks: UNBC's 66 AAM points are the iBUG 68 without the inner-mouth corners 60 and 64; records
    carry 68 points with 60 and 64 copied from the outer mouth corners 48 and 54 (see aam66_to_ibug68).
    AUs: columns UNBC_AUS plus any other AU found; a frame without a FACS file gets NaN (not coded).
    emotion is None (UNBC is a pain dataset). extra: "pspi" (float, NaN without a PSPI file),
    "sequence", "path" (relative to data_dir).
    """
    size = check_size(image_size)
    check_choice("crop", crop, ("face", "centre"))
    frame_step = checks.integer("frame_step", frame_step, 1)
    crop_scale = checks.real("crop_scale", crop_scale, 0, low_open=True)
    root = find_layout(dataset_root(data_dir, "UNBC-McMaster", EXPECTED), "UNBC-McMaster",
                       ("Images", "Frame_Labels/FACS"), ("UNBC", "UNBC-McMaster"), EXPECTED)
    facs_dir, pspi_dir, lm_dir = root / "Frame_Labels" / "FACS", root / "Frame_Labels" / "PSPI", root / "AAM_landmarks"
    if crop == "face" and not lm_dir.is_dir():
        raise DatasetError(f"crop='face' needs UNBC landmarks but {root} has no AAM_landmarks/ folder: "
                           f"add AAM_landmarks/<subject>/<sequence>/<frame>_aam.txt ... or pass crop='centre'")

    items, au_numbers = [], set(UNBC_AUS)
    for subject_dir in _dirs(root / "Images"):
        for seq_dir in _dirs(subject_dir):
            rel = seq_dir.relative_to(root / "Images")
            for i, path in list(enumerate(image_files(seq_dir)))[:: int(frame_step)]:
                facs = facs_dir / rel / f"{path.stem}_facs.txt"
                aus = read_facs(facs) if facs.is_file() else None
                au_numbers |= set(aus or ())
                items.append({"path": path, "landmarks": lm_dir / rel / f"{path.stem}_aam.txt",
                              "emotion": None, "aus": aus, "subject": subject_dir.name, "frame": i,
                              "pspi": _pspi(pspi_dir / rel / f"{path.stem}_facs.txt"),
                              "sequence": seq_dir.name, "rel": str(path.relative_to(root))})
    if not items:
        raise DatasetError(f"no UNBC frames found in {root / 'Images'}: expected {EXPECTED}")

    def load(item):
        image = read_grey(item["path"])
        points = aam66_to_ibug68(read_points(item["landmarks"], 66)) if lm_dir.is_dir() else None
        box = landmark_box(points, crop_scale) if crop == "face" else centre_box(image)
        return crop_resize(image, box, size, points)

    info = {"source": str(root), "crop": crop, "image_size": size, "frame_step": int(frame_step),
            "landmarks": "66 AAM points -> iBUG 68 (60 := 48, 64 := 54)"}
    return assemble("unbc", limit(items, max_items), load, au_numbers, ("pspi", "sequence", "rel"), info, progress)


def _dirs(folder):
    return [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]


def _pspi(path) -> float:
    """The frame's PSPI pain score (0-16), NaN when the frame has no PSPI file."""
    if not path.is_file():
        return float("nan")
    rows = read_rows(path)
    if len(rows) != 1 or len(rows[0][1]) != 1 or not 0 <= rows[0][1][0] <= 16:
        raise DatasetError(f"{path}: expected one PSPI score between 0 and 16 (e.g. '   2.0000000e+00')")
    return float(rows[0][1][0])

