"""Landmark sequences for the landmark chapter: tensors of P frames x 2 coordinates x L landmarks per clip.

Generated clips (the synthetic generator's neutral -> apex sequences) or real CK+ sequences (P frames spread from
the first, neutral frame to the peak). Either way the 468 landmarks of every frame come from MediaPipe Face Mesh run
on the frame, as in Di Luzio et al. (cached by the frames' bytes); for generated clips the generator's exact points
are kept beside them as ground truth (`exact`), and `landmarks="exact"` hands those to the networks instead. Six
emotions (contempt and neutral left out, as in the paper), one-vs-rest labels per emotion, per-sequence
normalisation, and the paper's augmentation (a flipped copy of every training clip) as an option.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .. import checks
from ..faces.codebooks import EMOTIONS

NORMALISATIONS = ("sequence", "neutral", "none")
AUGMENTATIONS = (None, "mirror", "vertical")
#: Where a generated clip's landmarks come from: MediaPipe Face Mesh on the rendered frames, or the generator.
LANDMARK_SOURCES = ("mediapipe", "exact")
#: A generated clip whose frames MediaPipe finds less often than this is dropped; missing frames of the others are
#: filled in time (linear between the nearest found frames, held at the ends), as a video tracker would.
MIN_FOUND = 0.5


@dataclass
class SequenceSet:
    """Landmark clips: x (N, P, 2, L) float32 normalised; raw (N, P, L, 2) pixel landmarks the networks see
    (MediaPipe's, or the generator's with landmarks="exact"); emotion, subject (N,); apex (N, H, W) uint8 last-frame
    images (for figures); emotions: the class names in order; exact (N, P, L, 2): the generator's own points (ground
    truth; None for real data)."""

    x: np.ndarray
    raw: np.ndarray
    emotion: np.ndarray
    subject: np.ndarray
    apex: np.ndarray | None
    emotions: tuple[str, ...]
    info: dict
    exact: np.ndarray | None = None

    @property
    def truth(self) -> np.ndarray:
        """The landmarks that say where the face really moved: the generator's points, else the detected ones."""
        return self.raw if self.exact is None else self.exact

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
                           None if self.apex is None else self.apex[index], self.emotions, dict(self.info),
                           None if self.exact is None else self.exact[index])


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


def fill_missing(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """One clip's landmarks (P, L, 2) with the frames not found (found False; any values) filled in time: linear
    between the nearest found frames, held at the ends. Needs at least one found frame."""
    found = np.asarray(found, bool)
    if not found.any():
        raise ValueError("a clip needs at least one frame with landmarks to fill the others from")
    t, have = np.arange(len(found)), np.flatnonzero(found)
    out = np.array(points, dtype=np.float32, copy=True)
    for f in np.flatnonzero(~found):
        j = np.searchsorted(have, f)
        lo, hi = have[max(j - 1, 0)], have[min(j, len(have) - 1)]
        w = 0.0 if hi == lo else (t[f] - lo) / (hi - lo)
        out[f] = (1 - w) * points[lo] + w * points[hi]
    return out


def detected_clips(frames: np.ndarray, min_found: float = MIN_FOUND) -> tuple[np.ndarray, np.ndarray, dict]:
    """MediaPipe Face Mesh on every frame of (N, P, H, W) clips (cached by the frames' bytes): (landmarks (N, P,
    468, 2) with missing frames filled in time (fill_missing), kept (N,) bool: clips with at least `min_found` of
    their frames found, counts {frames, frames_missing, clips_dropped})."""
    from ..faces.mesh import cached_landmarks

    n, p = frames.shape[:2]
    points, found = cached_landmarks(frames.reshape(n * p, *frames.shape[2:]))
    points, found = points.reshape(n, p, 468, 2), found.reshape(n, p)
    kept = found.mean(1) >= float(min_found)
    out = np.zeros_like(points)
    for i in np.flatnonzero(kept):
        out[i] = fill_missing(points[i], found[i])
    return out, kept, dict(frames=int(n * p), frames_missing=int((~found).sum()), clips_dropped=int((~kept).sum()))


def load_sequences(dataset: str = "synthetic", data_dir=None, n_sequences: int = 180, n_frames: int = 8,
                   seed: int = 0, normalisation: str = "sequence", image_size: int = 112,
                   emotions=EMOTIONS, landmarks: str = "mediapipe", **options) -> SequenceSet:
    """Landmark clips of the six emotions. synthetic: `n_sequences` generated clips of `n_frames` frames (neutral
    -> apex; ``options`` go to the generator), with the 468 landmarks MediaPipe Face Mesh finds on each rendered frame
    (landmarks="mediapipe", cached; clips it finds in fewer than MIN_FOUND of the frames are dropped, counted in
    info) or the generator's exact points (landmarks="exact"); the exact points are kept as `exact` either way.
    ckplus: every CK+ sequence with an emotion label but contempt, `n_frames` frames from the first to the peak, 468
    landmarks by MediaPipe Face Mesh (cached)."""
    emotions = tuple(emotions)
    bad = [e for e in emotions if e not in EMOTIONS]
    if bad:
        raise ValueError(f"emotions must be among the six {EMOTIONS} (contempt and neutral are left out); got {bad}")
    n_frames = checks.integer("n_frames", n_frames, 2)             # a clip runs from neutral to apex
    n_sequences, seed = checks.integer("n_sequences", n_sequences, 1), checks.integer("seed", seed, 0)
    image_size = checks.integer("image_size", image_size, 8)
    if landmarks not in LANDMARK_SOURCES:
        raise ValueError(f"landmarks must be one of {LANDMARK_SOURCES}; got {landmarks!r}")
    key = str(dataset).lower().replace("+", "plus").replace("-", "")
    if key == "ckplus" and landmarks == "exact":
        raise ValueError("CK+ has no exact landmarks, only those MediaPipe finds: use landmarks='mediapipe'")
    exact, counts = None, {}
    if key == "synthetic":
        from . import load_dataset
        ds = load_dataset("synthetic", n=int(n_sequences), n_frames=int(n_frames), seed=int(seed),
                          emotions=emotions, image_size=int(image_size), **options)
        n, p = int(n_sequences), int(n_frames)
        exact = ds.landmarks.reshape(n, p, 468, 2)
        first = np.arange(n) * p
        emotion, subject = ds.emotion[first].astype(str), ds.subject[first].astype(str)
        frames = ds.images.reshape(n, p, *ds.images.shape[1:])
        apex = frames[:, -1]
        raw = exact
        if landmarks == "mediapipe":
            raw, kept, counts = detected_clips(frames)
            if not kept.any():
                raise ValueError(f"MediaPipe found too few frames of every clip ({counts}): use larger frames "
                                 "(image_size) or landmarks='exact'")
            raw, exact, emotion, subject, apex = raw[kept], exact[kept], emotion[kept], subject[kept], apex[kept]
    elif key == "ckplus":
        raw, emotion, subject, apex = _ckplus(data_dir, int(n_frames), int(image_size), emotions, **options)
    else:
        raise ValueError(f"unknown dataset {dataset!r} for landmark sequences: use 'synthetic' or 'ckplus'")
    info = dict(dataset=key, n_frames=int(n_frames), seed=int(seed), normalisation=normalisation,
                landmarks="mediapipe" if key == "ckplus" else landmarks, **counts)
    return SequenceSet(normalise(raw, normalisation), raw.astype(np.float32), np.asarray(emotion, dtype=object),
                       np.asarray(subject, dtype=object), apex, emotions, info,
                       None if exact is None else exact.astype(np.float32))


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


def centre_on_training(seqs: SequenceSet, train_idx) -> SequenceSet:
    """The clips minus the training clips' mean frame (per coordinate and landmark; fitted on `train_idx` only).

    Clips normalised per sequence (or not at all) keep each face's shape: every landmark sits at a large offset of
    its own, against which the expression's motion is small, and the chapter's small nets collapse on such input to
    one constant output (balanced accuracy 0.5 for every emotion, measured). Subtracting one fixed mean frame keeps
    every difference between clips, so IG's (x - x') is unchanged; only the nets' starting point moves."""
    train_idx = np.asarray(train_idx)
    if len(train_idx) == 0:
        raise ValueError("centre_on_training needs at least one training clip")
    mean = seqs.x[train_idx].mean(axis=(0, 1), dtype=np.float64, keepdims=True)
    info = dict(seqs.info, centred=f"minus the mean frame of {len(train_idx)} training clips")
    return replace(seqs, x=np.ascontiguousarray(seqs.x - mean.astype(np.float32)), info=info)


def split_by_subject(seqs: SequenceSet, test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A subject-disjoint (train_idx, test_idx) split; every emotion must appear on both sides."""
    from .splits import subject_split
    train, test = subject_split(seqs.subject, test_fraction=test_fraction, seed=seed)
    for side, idx in (("training", train), ("test", test)):
        missing = sorted(set(seqs.emotions) - set(seqs.emotion[idx]))
        if missing:
            raise ValueError(f"the {side} split has no sequence of {missing}: use more sequences (n_sequences)")
    return train, test


__all__ = ["AUGMENTATIONS", "LANDMARK_SOURCES", "MIN_FOUND", "NORMALISATIONS", "SequenceSet", "augment",
           "centre_on_training", "detected_clips", "fill_missing", "load_sequences", "mirror_permutation", "normalise",
           "select_landmarks", "split_by_subject"]
