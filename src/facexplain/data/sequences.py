"""Landmark sequences for the landmark chapter: tensors of P frames x 2 coordinates x L landmarks per clip.

Generated clips (the synthetic generator's neutral -> apex sequences, 468 Face Mesh landmarks) or real CK+
sequences (MediaPipe Face Mesh run on P frames spread from the first, neutral frame to the peak). Six emotions
(contempt and neutral left out, as in Di Luzio et al.), one-vs-rest labels per emotion, per-sequence
normalisation, and the paper's augmentation (a flipped copy of every training clip) as an option.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import checks
from ..faces.codebooks import EMOTIONS

NORMALISATIONS = ("sequence", "neutral", "none")
AUGMENTATIONS = (None, "mirror", "vertical")


@dataclass
class SequenceSet:
    """Landmark clips: x (N, P, 2, L) float32 normalised; raw (N, P, L, 2) pixel landmarks; emotion, subject (N,);
    apex (N, H, W) uint8 last-frame images (for figures); emotions: the class names in order."""

    x: np.ndarray
    raw: np.ndarray
    emotion: np.ndarray
    subject: np.ndarray
    apex: np.ndarray | None
    emotions: tuple[str, ...]
    info: dict

    def __len__(self) -> int:
        return len(self.x)

    @property
    def n_frames(self) -> int:
        return self.x.shape[1]

    @property
    def n_landmarks(self) -> int:
        return self.x.shape[-1]

    def binary(self, emotion: str) -> np.ndarray:
        """One-vs-rest labels: 1 for `emotion`, 0 for the other emotions (the paper's binary sets)."""
        if emotion not in self.emotions:
            raise ValueError(f"unknown emotion {emotion!r}: expected one of {self.emotions}")
        return (self.emotion == emotion).astype(np.int64)

    def subset(self, index) -> "SequenceSet":
        index = np.asarray(index)
        return SequenceSet(self.x[index], self.raw[index], self.emotion[index], self.subject[index],
                           None if self.apex is None else self.apex[index], self.emotions, dict(self.info))


def select_landmarks(x: np.ndarray, landmarks) -> np.ndarray:
    """x (N, P, C, L) restricted to the given landmark indices (in the order given)."""
    idx = np.asarray(landmarks, dtype=np.int64)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= x.shape[-1]:
        raise ValueError(f"landmarks must be a non-empty list of indices in [0, {x.shape[-1]}); got {idx[:8]}...")
    return np.ascontiguousarray(x[..., idx])


def normalise(raw: np.ndarray, how: str = "sequence") -> np.ndarray:
    """(N, P, L, 2) pixel landmarks -> (N, P, 2, L) inputs. "sequence": minus the clip's mean position (per
    coordinate, over frames and landmarks), divided by the clip's spread (one scalar), so identity size and
    position do not matter but motion within the clip does; "neutral": the same scale, but minus the clip's
    first (neutral) frame, so only the motion is left; "none": raw coordinates."""
    if how not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}; got {how!r}")
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 4 or raw.shape[-1] != 2:
        raise ValueError(f"raw landmarks must be (N, P, L, 2); got shape {raw.shape}")
    x = raw
    if how in ("sequence", "neutral"):
        centred = raw - raw.mean(axis=(1, 2), keepdims=True)
        spread = np.sqrt((centred ** 2).sum(-1).mean(axis=(1, 2), keepdims=True))[..., None]
        x = (centred if how == "sequence" else raw - raw[:, :1]) / spread
    return np.ascontiguousarray(x.transpose(0, 1, 3, 2)).astype(np.float32)


@lru_cache(maxsize=1)
def mirror_permutation() -> np.ndarray:
    """For each of the 468 Face Mesh landmarks, its left-right partner (midline points map to themselves):
    the template mesh is reflected, aligned back onto itself and matched one-to-one (Hungarian assignment)."""
    from scipy.optimize import linear_sum_assignment
    from ..faces.template import astronaut_mesh

    mesh = np.asarray(astronaut_mesh(), np.float64)[:, :2]
    a = mesh - mesh.mean(0)
    b = a * np.array([-1.0, 1.0])
    for _ in range(3):  # align the reflection to the mesh (rotation + scale), re-matching each time
        cost = ((a[:, None] - b[None]) ** 2).sum(-1)
        _, col = linear_sum_assignment(cost)
        u, s, vt = np.linalg.svd(b[col].T @ a)
        r = u @ vt
        b = b @ r * (s.sum() / (b ** 2).sum())
    cost = ((a[:, None] - b[None]) ** 2).sum(-1)
    return linear_sum_assignment(cost)[1]


def augment(x: np.ndarray, labels, kind: str | None = "mirror"):
    """The paper's augmentation: every clip plus a flipped copy. "mirror": left-right flip (x -> -x, landmarks
    re-indexed to their mirror partners, as re-detecting on mirrored frames would give); "vertical": the literal
    upside-down flip the paper describes (y -> -y); None: no augmentation. Returns (x, labels) concatenated."""
    if kind not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {AUGMENTATIONS}; got {kind!r}")
    labels = np.asarray(labels)
    if kind is None:
        return x, labels
    flip = np.array(x, copy=True)
    if kind == "mirror":
        if x.shape[-1] != 468:
            raise ValueError("augmentation='mirror' needs all 468 Face Mesh landmarks (augment before selecting)")
        flip[:, :, 0] *= -1
        flip = flip[..., mirror_permutation()]
    else:
        flip[:, :, 1] *= -1
    return np.concatenate([x, flip]), np.concatenate([labels, labels])


def _frames(n_total: int, n_frames: int, peak: int | None = None) -> np.ndarray:
    last = n_total - 1 if peak is None else peak
    return np.round(np.linspace(0, last, n_frames)).astype(int)


def load_sequences(dataset: str = "synthetic", data_dir=None, n_sequences: int = 180, n_frames: int = 8,
                   seed: int = 0, normalisation: str = "sequence", image_size: int = 112,
                   emotions=EMOTIONS, **options) -> SequenceSet:
    """Landmark clips of the six emotions. synthetic: `n_sequences` generated clips of `n_frames` frames (neutral
    -> apex; `options` go to the generator). ckplus: every CK+ sequence with an emotion label but contempt,
    `n_frames` frames from the first to the peak, 468 landmarks by MediaPipe Face Mesh (cached)."""
    emotions = tuple(emotions)
    bad = [e for e in emotions if e not in EMOTIONS]
    if bad:
        raise ValueError(f"emotions must be among the six {EMOTIONS} (contempt and neutral are left out); got {bad}")
    n_frames = checks.integer("n_frames", n_frames, 2)             # a clip runs from neutral to apex
    n_sequences, seed = checks.integer("n_sequences", n_sequences, 1), checks.integer("seed", seed, 0)
    image_size = checks.integer("image_size", image_size, 8)
    key = str(dataset).lower().replace("+", "plus").replace("-", "")
    if key == "synthetic":
        from . import load_dataset
        ds = load_dataset("synthetic", n=int(n_sequences), n_frames=int(n_frames), seed=int(seed),
                          emotions=emotions, image_size=int(image_size), **options)
        n, p = int(n_sequences), int(n_frames)
        raw = ds.landmarks.reshape(n, p, 468, 2)
        first = np.arange(n) * p
        emotion, subject = ds.emotion[first].astype(str), ds.subject[first].astype(str)
        apex = ds.images.reshape(n, p, *ds.images.shape[1:])[:, -1]
    elif key == "ckplus":
        raw, emotion, subject, apex = _ckplus(data_dir, int(n_frames), int(image_size), emotions, **options)
    else:
        raise ValueError(f"unknown dataset {dataset!r} for landmark sequences: use 'synthetic' or 'ckplus'")
    info = dict(dataset=key, n_frames=int(n_frames), seed=int(seed), normalisation=normalisation)
    return SequenceSet(normalise(raw, normalisation), raw.astype(np.float32), np.asarray(emotion, dtype=object),
                       np.asarray(subject, dtype=object), apex, emotions, info)


def _ckplus(data_dir, n_frames: int, image_size: int, emotions, max_items=None, crop: str = "face",
            progress: bool = False):
    """CK+ sequences -> (raw (N, P, 468, 2), emotion, subject, apex images) with Face Mesh landmarks, cached."""
    from ..cache import cached_arrays
    from ..faces.mesh import detect_many
    from . import _native, ckplus, load_dataset

    if data_dir is None:
        raise ValueError("dataset='ckplus' is read from disk: pass data_dir=<folder holding cohn-kanade-images/ "
                         "and Emotion/> (see data/README.md)")

    def build():
        ds = load_dataset("ckplus", data_dir=data_dir, frames="all", require_emotion=True,
                          image_size=image_size, crop=crop, max_items=max_items, progress=progress)
        seqs = ds.extra["sequence"].astype(str)
        out = dict(raw=[], emotion=[], subject=[], apex=[])
        for s in dict.fromkeys(seqs):
            rows = np.flatnonzero(seqs == s)
            rows = rows[np.argsort(ds.frame[rows])]
            labelled = [r for r in rows if ds.emotion[r] not in (None, "neutral")]
            if not labelled or ds.emotion[labelled[-1]] not in emotions:
                continue                              # contempt (or unlabelled) sequences are left out
            peak = int(np.flatnonzero(rows == labelled[-1])[0])
            pick = rows[_frames(len(rows), n_frames, peak)]
            lm, found = detect_many(ds.images[pick])
            if not found.all():
                continue                              # a frame without a detected face: drop the clip
            out["raw"].append(lm)
            out["emotion"].append(ds.emotion[labelled[-1]])
            out["subject"].append(ds.subject[rows[0]])
            out["apex"].append(ds.images[pick[-1]])
        if not out["raw"]:
            raise ValueError(f"no CK+ sequence of {emotions} with a face found by MediaPipe in {data_dir}")
        return dict(raw=np.stack(out["raw"]).astype(np.float32), emotion=np.array(out["emotion"], dtype=str),
                    subject=np.array(out["subject"], dtype=str), apex=np.stack(out["apex"]))

    arrays = cached_arrays("ckplus_sequences", dict(data_dir=str(data_dir), n_frames=n_frames,
                                                    image_size=image_size, emotions=list(emotions), crop=crop,
                                                    max_items=max_items), build,
                           code=(detect_many, _native, ckplus))
    return arrays["raw"], arrays["emotion"], arrays["subject"], arrays["apex"]


def split_by_subject(seqs: SequenceSet, test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A subject-disjoint (train_idx, test_idx) split; every emotion must appear on both sides."""
    from .splits import subject_split
    train, test = subject_split(seqs.subject, test_fraction=test_fraction, seed=seed)
    for side, idx in (("training", train), ("test", test)):
        missing = sorted(set(seqs.emotions) - set(seqs.emotion[idx]))
        if missing:
            raise ValueError(f"the {side} split has no sequence of {missing}: use more sequences (n_sequences)")
    return train, test


__all__ = ["AUGMENTATIONS", "NORMALISATIONS", "SequenceSet", "augment", "load_sequences", "mirror_permutation",
           "normalise", "select_landmarks", "split_by_subject"]
