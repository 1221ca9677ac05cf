"""CK+ (Extended Cohn-Kanade) from its native folders: posed sequences neutral -> peak, with FACS and emotion labels."""

from __future__ import annotations

from pathlib import Path

from .. import checks
from ._native import (assemble, check_choice, check_size, crop_resize, centre_box, dataset_root, find_layout, hidden,
                      image_files, label_code, landmark_box, limit, read_facs, read_grey, read_points, read_rows)
from .errors import DatasetError

#: CK+ emotion codes -> the book's names.
CKPLUS_EMOTIONS = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness",
                   6: "sadness", 7: "surprise"}

EXPECTED = ("cohn-kanade-images/ and Emotion/ and/or FACS/ (optionally Landmarks/), "
            "e.g. cohn-kanade-images/S005/001/*.png")
FRAMES = ("peak", "first_last", "all")


def load_ckplus(data_dir, image_size: int = 112, frames: str = "peak", crop: str = "face",
                crop_scale: float = 1.25, require_emotion: bool = False, unscored_intensity: float = 1.0,
                max_items: int | None = None, progress: bool = True):
    """Load CK+ from `data_dir` (the folder holding cohn-kanade-images/, Emotion/, FACS/, Landmarks/).

    frames   "peak": the labelled (last) frame of each sequence; "first_last": its neutral first frame and
             the peak; "all": every frame. Peak frames carry the Emotion/FACS labels; first frames are
             labelled "neutral" with all AUs 0 (CK+ sequences start at a neutral face); frames in between
             have emotion None and NaN AUs (not coded).
    crop     "face": a square around the frame's 68 landmarks (side = crop_scale x their extent; needs
             Landmarks/); "centre": the largest centred square of the frame. Landmarks are moved with the crop.
    require_emotion
             keep only the sequences that have an Emotion file (327 of 593 in CK+).
    unscored_intensity
             CK+ FACS writes intensity 0 for an AU that is present but whose intensity was not
             scored; records carry it as this value (1.0 = FACS trace "A") so that "present" means > 0.

    extra["sequence"] is "S005_001"; extra["path"] the image path relative to data_dir.
    """
    size = check_size(image_size)
    check_choice("frames", frames, FRAMES)
    check_choice("crop", crop, ("face", "centre"))
    crop_scale = checks.real("crop_scale", crop_scale, 0, low_open=True)
    unscored_intensity = checks.real("unscored_intensity", unscored_intensity, 0, 5, low_open=True)
    require_emotion = checks.flag("require_emotion", require_emotion)
    root = find_layout(dataset_root(data_dir, "CK+", EXPECTED), "CK+", ("cohn-kanade-images",),
                       ("CK+", "extended-cohn-kanade-images"), EXPECTED)
    emotion_dir, facs_dir, lm_dir = root / "Emotion", root / "FACS", root / "Landmarks"
    if not emotion_dir.is_dir() and not facs_dir.is_dir():
        raise DatasetError(f"no CK+ labels found in {root}: expected {EXPECTED}")
    if crop == "face" and not lm_dir.is_dir():
        raise DatasetError(f"crop='face' needs CK+ landmarks but {root} has no Landmarks/ folder: "
                           f"add Landmarks/S005/001/S005_001_00000001_landmarks.txt ... or pass crop='centre'")

    items, au_numbers = [], set()
    for seq_dir in _sequences(root / "cohn-kanade-images"):
        subject, seq = seq_dir.parent.name, seq_dir.name
        frame_files = image_files(seq_dir)
        if not frame_files:
            continue
        emotion, peak_stem = _emotion(emotion_dir / subject / seq)
        if require_emotion and emotion is None:
            continue
        aus, facs_stem = _facs(facs_dir / subject / seq, unscored_intensity)
        au_numbers |= set(aus or ())
        stems = [p.stem for p in frame_files]
        peak = stems.index(peak_stem or facs_stem) if (peak_stem or facs_stem) in stems else len(stems) - 1
        chosen = {"peak": [peak], "first_last": sorted({0, peak}), "all": range(len(stems))}[frames]
        for i in chosen:
            path = frame_files[i]
            if i == peak:
                labels = (emotion, aus)
            elif i == 0:
                labels = ("neutral", {})
            else:
                labels = (None, None)
            items.append({"path": path, "landmarks": lm_dir / subject / seq / f"{path.stem}_landmarks.txt",
                          "emotion": labels[0], "aus": labels[1], "subject": subject, "frame": i,
                          "sequence": f"{subject}_{seq}", "rel": str(path.relative_to(root))})
    if not items:
        what = "with an Emotion file " if require_emotion else ""
        raise DatasetError(f"no CK+ sequences {what}found in {root / 'cohn-kanade-images'}: "
                           f"expected S005/001/S005_001_00000001.png ...")

    def load(item):
        image = read_grey(item["path"])
        points = read_points(item["landmarks"], 68) if lm_dir.is_dir() else None
        if crop == "face":
            box = landmark_box(points, crop_scale)
        else:
            box = centre_box(image)
        return crop_resize(image, box, size, points)

    info = {"source": str(root), "frames": frames, "crop": crop, "image_size": size,
            "unscored_intensity": unscored_intensity}
    return assemble("ckplus", limit(items, max_items), load, au_numbers, ("sequence", "rel"), info, progress)


def _sequences(images_dir: Path) -> list[Path]:
    """Every <subject>/<sequence> folder under cohn-kanade-images, sorted."""
    return [q for s in sorted(images_dir.iterdir()) if s.is_dir() and not s.name.startswith(".")
            for q in sorted(s.iterdir()) if q.is_dir() and not q.name.startswith(".")]


def _label_file(folder: Path, suffix: str) -> tuple[Path | None, str | None]:
    """The sequence's one label file ending in `suffix` and the frame stem it names, or (None, None)."""
    files = sorted(p for p in folder.glob(f"*{suffix}") if not hidden(p)) if folder.is_dir() else []
    if len(files) > 1:
        raise DatasetError(f"{folder} holds {len(files)} *{suffix} files: expected one per sequence "
                           f"(next to its peak frame)")
    return (files[0], files[0].name[: -len(suffix)]) if files else (None, None)


def _emotion(folder: Path) -> tuple[str | None, str | None]:
    path, stem = _label_file(folder, "_emotion.txt")
    if path is None:
        return None, None
    rows = read_rows(path)
    if len(rows) != 1 or len(rows[0][1]) != 1:
        raise DatasetError(f"{path}: expected one number (e.g. '   3.0000000e+00'), found {len(rows)} line(s)")
    lineno, values = rows[0]
    return label_code(path, CKPLUS_EMOTIONS, lineno, values[0]), stem


def _facs(folder: Path, unscored: float) -> tuple[dict[int, float] | None, str | None]:
    path, stem = _label_file(folder, "_facs.txt")
    if path is None:
        return None, None
    return {au: (level if level > 0 else float(unscored)) for au, level in read_facs(path).items()}, stem
