"""AffectNet from its native folders: in-the-wild photos, a face box, 68 landmarks and an expression label each."""

from __future__ import annotations

import csv

import numpy as np

from .. import checks
from ._native import (assemble, check_choice, check_size, crop_resize, dataset_root, find_layout, label_code, limit,
                      read_grey, square_box)
from .errors import DatasetError

#: AffectNet expression codes -> the book's names; 8 none, 9 uncertain and 10 no-face are not emotions.
AFFECTNET_EMOTIONS = {0: "neutral", 1: "happiness", 2: "sadness", 3: "surprise", 4: "fear", 5: "disgust",
                      6: "anger", 7: "contempt"}
NOT_EMOTIONS = {8: "none", 9: "uncertain", 10: "no-face"}

COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")
IMAGES, LISTS = "Manually_Annotated_Images", "Manually_Annotated_file_lists"
EXPECTED = f"{IMAGES}/<subdir>/<file>.jpg and {LISTS}/training.csv, validation.csv"
SPLITS = {"train": "training.csv", "validation": "validation.csv", "test": "validation.csv"}


def load_affectnet(data_dir, image_size: int = 112, split: str = "train", crop_scale: float = 1.0,
                   include_contempt: bool = True, max_items: int | None = None, progress: bool = True):
    """Load AffectNet (manually annotated part) from `data_dir` (the folder holding the two folders above).

    split  "train" (training.csv) or "validation" (validation.csv; "test" is an alias, since AffectNet's
           test set is not public and papers report on validation).

    Each face is cropped to the square around its face box (side = crop_scale x the longer box edge),
    resized to image_size; its 68 landmarks are moved with the crop. Rows coded 8 (none), 9 (uncertain) or
    10 (no-face) are skipped (counted in info["skipped"]); include_contempt=False also skips contempt (the
    7-class setting). AffectNet has no identities and no AU coding: subject is the image path, au_numbers
    is empty. extra: "valence", "arousal" (floats), "path" (relative to the images folder).
    """
    size = check_size(image_size)
    check_choice("split", split, tuple(SPLITS))
    crop_scale = checks.real("crop_scale", crop_scale, 0, low_open=True)
    include_contempt = checks.flag("include_contempt", include_contempt)
    root = find_layout(dataset_root(data_dir, "AffectNet", EXPECTED), "AffectNet", (IMAGES, LISTS),
                       ("AffectNet",), EXPECTED)
    list_file = root / LISTS / SPLITS[split]
    if not list_file.is_file():
        raise DatasetError(f"AffectNet list {list_file} is missing: expected {EXPECTED}")
    items, skipped = [], {name: 0 for name in NOT_EMOTIONS.values()}
    if not include_contempt:
        skipped["contempt"] = 0
    codes = {**AFFECTNET_EMOTIONS, **NOT_EMOTIONS}
    for lineno, row in _rows(list_file):
        emotion = label_code(list_file, codes, lineno, row["expression"])
        if emotion in skipped:
            skipped[emotion] += 1
            continue
        try:
            box = [float(row[k]) for k in ("face_x", "face_y", "face_width", "face_height")]
            points = np.array([float(v) for v in row["facial_landmarks"].split(";") if v.strip()], np.float32)
            valence, arousal = float(row["valence"]), float(row["arousal"])
        except ValueError as err:
            raise DatasetError(f"{list_file}, line {lineno}: expected numbers in the face box, landmarks, "
                               f"valence and arousal ({err})") from None
        for what, values in (("face box", box), ("facial_landmarks", points), ("valence/arousal", (valence, arousal))):
            if not np.all(np.isfinite(values)):
                raise DatasetError(f"{list_file}, line {lineno}: {what} holds NaN or inf; expected finite numbers "
                                   "(drop the row or fix its annotation)")
        if points.size != 136:
            raise DatasetError(f"{list_file}, line {lineno}: facial_landmarks has {points.size} numbers; "
                               f"expected 68 points as 'x;y;x;y;...' (136 numbers)")
        if box[2] <= 0 or box[3] <= 0:
            raise DatasetError(f"{list_file}, line {lineno}: face box {box} has no area")
        rel = row["subDirectory_filePath"].strip().replace("\\", "/")
        items.append({"path": root / IMAGES / rel, "box": box, "points": points.reshape(68, 2),
                      "emotion": emotion, "aus": None, "subject": rel, "frame": 0,
                      "valence": valence, "arousal": arousal, "rel": rel})
    if not items:
        raise DatasetError(f"{list_file} has no rows with an emotion label (codes 0-7): expected columns "
                           f"{', '.join(COLUMNS)}")

    def load(item):
        image = read_grey(item["path"])
        return crop_resize(image, square_box(*item["box"], scale=crop_scale), size, item["points"])

    info = {"source": str(root), "split": split, "image_size": size, "skipped": skipped}
    return assemble("affectnet", limit(items, max_items), load, (), ("valence", "arousal", "rel"), info, progress)


def _rows(path):
    """(line number, row dict) of an AffectNet list; a header row is used when present (validation.csv
    is often distributed without one), else the standard column order."""
    header = list(COLUMNS)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:      # -sig: a BOM is dropped
        for lineno, fields in enumerate(csv.reader(f), 1):
            if not any(v.strip() for v in fields):
                continue
            if lineno == 1 and fields[0].strip() == COLUMNS[0]:
                header = [v.strip() for v in fields]
                missing = sorted(set(COLUMNS) - set(header))
                if missing:
                    raise DatasetError(f"{path}: header lacks columns {missing}; expected {', '.join(COLUMNS)}")
                continue
            if len(fields) < len(COLUMNS):
                raise DatasetError(f"{path}, line {lineno}: {len(fields)} fields; expected {len(COLUMNS)} "
                                   f"({', '.join(COLUMNS)})")
            yield lineno, dict(zip(header, fields))
