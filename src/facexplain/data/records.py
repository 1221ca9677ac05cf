"""The one record shape every dataset returns, generated or real."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


@dataclass
class FaceRecord:
    """One face: what every chapter needs, whatever dataset it came from.

    image      grey uint8 (H, W)
    landmarks  (468, 2) or (68, 2) float32 pixel coordinates (x, y), or None when the dataset has none
    aus        AU number -> intensity (FACS 0-5 scale; 0 or missing = absent)
    emotion    "anger" | "disgust" | "fear" | "happiness" | "sadness" | "surprise" | "neutral" | "contempt" | None
    subject    identity id (str)
    frame      frame index within its sequence (0 for still images)
    regions    AU number -> bool (H, W) ground-truth pixel region (generated data only, else None)
    """

    image: np.ndarray
    landmarks: np.ndarray | None
    aus: dict[int, float]
    emotion: str | None
    subject: str
    frame: int = 0
    regions: dict[int, np.ndarray] | None = None
    meta: dict = field(default_factory=dict)


class FaceDataset:
    """A dataset held as arrays (fast for training) that also reads as a sequence of FaceRecords.

    images     uint8 (N, H, W)
    landmarks  float32 (N, L, 2) with L = 468 or 68, or None
    au_numbers tuple of AU numbers = the columns of `au_intensity`
    au_intensity float32 (N, len(au_numbers)); NaN where a dataset does not code that AU for that face
    emotion    object (N,) of str or None;  subject object (N,) of str;  frame int (N,)
    region_bits uint32 (N, H, W) or None: bit k set where au_numbers[k] acts (generated data only)
    extra      dict of per-face arrays (e.g. "shortcut", "pose", "sequence") of length N
    """

    def __init__(self, name, images, landmarks, au_numbers, au_intensity, emotion, subject, frame,
                 region_bits=None, extra=None, info=None):
        self.name = name
        self.images = np.asarray(images)
        n = len(self.images)
        self.landmarks = None if landmarks is None else np.asarray(landmarks, np.float32)
        self.au_numbers = tuple(int(a) for a in au_numbers)
        self.au_intensity = np.asarray(au_intensity, np.float32).reshape(n, len(self.au_numbers))
        self.emotion = np.asarray(emotion, dtype=object)
        self.subject = np.asarray(subject, dtype=object)
        self.frame = np.asarray(frame, dtype=np.int64)
        self.region_bits = region_bits
        self.extra = dict(extra or {})
        self.info = dict(info or {})
        for key, arr in [("landmarks", self.landmarks), ("emotion", self.emotion), ("subject", self.subject),
                         ("frame", self.frame), ("region_bits", region_bits), *self.extra.items()]:
            if arr is not None and len(arr) != n:
                raise ValueError(f"{key} has {len(arr)} entries for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[FaceRecord]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i):
        if not isinstance(i, (int, np.integer)):
            return self.subset(i)
        i = int(i)
        row = self.au_intensity[i]
        aus = {a: float(v) for a, v in zip(self.au_numbers, row) if np.isfinite(v) and v > 0}
        regions = None
        if self.region_bits is not None:
            regions = {a: self.region(i, a) for a in aus}
        return FaceRecord(self.images[i], None if self.landmarks is None else self.landmarks[i], aus,
                          self.emotion[i], str(self.subject[i]), int(self.frame[i]), regions,
                          {k: v[i] for k, v in self.extra.items()})

    def subset(self, index) -> "FaceDataset":
        """A new dataset with the faces selected by an index array or boolean mask."""
        idx = np.arange(len(self))[index]
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return FaceDataset(self.name, self.images[idx], pick(self.landmarks), self.au_numbers,
                           self.au_intensity[idx], self.emotion[idx], self.subject[idx], self.frame[idx],
                           pick(self.region_bits), {k: v[idx] for k, v in self.extra.items()}, self.info)

    # --- convenient views -------------------------------------------------------------------------------
    def au_present(self, aus=None) -> np.ndarray:
        """Binary (N, len(aus)) AU occurrence (intensity > 0; uncoded counts as absent)."""
        cols = [self.au_column(a) for a in (aus or self.au_numbers)]
        x = self.au_intensity[:, cols]
        return (np.nan_to_num(x, nan=0.0) > 0).astype(np.float32)

    def au_column(self, au) -> int:
        from ..faces.aus import au_number
        n = au_number(au)
        if n not in self.au_numbers:
            raise ValueError(f"AU{n} is not coded in dataset {self.name!r}: it has {list(self.au_numbers)}")
        return self.au_numbers.index(n)

    def region(self, i: int, au) -> np.ndarray:
        """Ground-truth pixel region (bool H x W) of AU `au` on face i (generated data only)."""
        if self.region_bits is None:
            raise ValueError(f"dataset {self.name!r} has no ground-truth AU regions (only generated data has)")
        k = self.au_column(au)
        return (self.region_bits[i] >> np.uint32(k)) & np.uint32(1) == 1

    @property
    def landmarks68(self) -> np.ndarray | None:
        from ..faces.landmarks import as_ibug68
        return None if self.landmarks is None else as_ibug68(self.landmarks)

    def table(self):
        """One row per face: subject, frame, emotion and the AU intensities (a pandas DataFrame)."""
        import pandas as pd
        df = pd.DataFrame(self.au_intensity, columns=[f"AU{a}" for a in self.au_numbers])
        df.insert(0, "emotion", self.emotion)
        df.insert(0, "frame", self.frame)
        df.insert(0, "subject", self.subject)
        return df
