"""RAF-DB basic from its native folders: aligned in-the-wild faces with one of 7 emotion labels."""

from __future__ import annotations

from ._native import (assemble, check_choice, check_size, crop_resize, centre_box, dataset_root, find_layout,
                      label_code, limit, read_grey, read_label_text)
from .errors import DatasetError

#: RAF-DB basic emotion codes -> the book's names.
RAFDB_EMOTIONS = {1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness", 6: "anger", 7: "neutral"}

LABELS = "EmoLabel/list_patition_label.txt"
EXPECTED = f"basic/Image/aligned/ and basic/{LABELS}"


def load_rafdb(data_dir, image_size: int = 112, split: str = "train", max_items: int | None = None,
               progress: bool = True):
    """Load RAF-DB basic from `data_dir` (the RAF-DB folder holding basic/, or basic/ itself).

    split  "train", "test" or "all" (RAF-DB's own partition, by the file-name prefix in the label list).
    Images are the 100x100 aligned faces, resized to image_size. RAF-DB has no identities, no 68
    landmarks and no AU coding: subject is the image name (every face its own subject, so subject-wise
    splits are image-wise), landmarks are None and au_numbers is empty.
    extra["path"] is the image path relative to data_dir's basic/ folder.
    Label list: a UTF-8 byte-order mark is ignored; an image listed twice with the same code is kept once, with
    two different codes it is an error (naming both lines).
    """
    size = check_size(image_size)
    check_choice("split", split, ("train", "test", "all"))
    root = find_layout(dataset_root(data_dir, "RAF-DB", EXPECTED), "RAF-DB", ("Image/aligned", LABELS), ("basic",),
                       EXPECTED)
    label_file = root / LABELS
    items, seen = [], {}
    for lineno, line in enumerate(read_label_text(label_file).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].lower().endswith((".jpg", ".png")):
            raise DatasetError(f"{label_file}, line {lineno}: expected '<name>.jpg <code>' "
                               f"(e.g. 'train_00001.jpg 5'), got {line.strip()!r}")
        name, code = parts
        part = name.split("_")[0]
        if part not in ("train", "test"):
            raise DatasetError(f"{label_file}, line {lineno}: image name {name!r} should start with "
                               f"'train_' or 'test_'")
        emotion = label_code(label_file, RAFDB_EMOTIONS, lineno, code)
        if name in seen:
            first, first_emotion = seen[name]
            if first_emotion != emotion:
                raise DatasetError(f"{label_file}: {name} is labelled twice with different codes, {first_emotion} "
                                   f"on line {first} and {emotion} on line {lineno}; keep one line per image")
            continue                                  # the same line twice: one face
        seen[name] = (lineno, emotion)
        if split != "all" and part != split:
            continue
        stem = name.rsplit(".", 1)[0]
        rel = f"Image/aligned/{stem}_aligned.jpg"
        items.append({"path": root / rel, "emotion": emotion, "aus": None, "subject": stem, "frame": 0,
                      "split": part, "rel": rel})
    if not items:
        raise DatasetError(f"{label_file} lists no {split!r} images: expected lines like 'train_00001.jpg 5'")

    def load(item):
        image = read_grey(item["path"])
        return crop_resize(image, centre_box(image), size)[0], None

    info = {"source": str(root), "split": split, "image_size": size}
    return assemble("rafdb", limit(items, max_items), load, (), ("split", "rel"), info, progress)
