"""Read Action Units from a photo: MediaPipe Face Mesh -> 468 points -> a small linear model -> AU intensities.

`read_aus(image, neutral=None)` is the one call. The model behind it is deliberately simple, so that a browser can
run exactly the same computation on the points Face Mesh finds there (`read_aus_model()` exports it as JSON-able
numbers and `apply_model(model, points, neutral_points)` is the reference implementation in plain numpy):

1. **Alignment.** The 468 points are mapped onto a stored reference shape by the least-squares similarity
   transform (scale, rotation, shift) fitted on points that no AU moves (temples, nose bridge, inner eye corners,
   forehead). The reference is the mean neutral shape Face Mesh finds on generated faces, scaled so that the
   outer eye corners are one unit apart.
2. **Features.** The aligned x and y of selected points of the brows, eyes, cheeks, nose, lips and chin, minus the
   same points of the reference shape (no neutral photo) or of the aligned neutral photo (`neutral` given).
3. **Per AU**, on the features of the face area its muscle moves only (so an AU is never read from another one):
   standardise, a logistic regression gives the probability, a threshold decides presence, and a ridge regression
   gives the FACS intensity (clipped to 0.5-5).

The model is fitted on Face Mesh landmarks of generated faces (not on the generator's exact points), of many
identities, with AUs switched on independently of each other (no emotion co-occurrences to lean on), so that it
transfers to strangers' photos. It is cached under data/cache/read_aus/.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .aus import GENERATOR_AUS
from .mesh import NoFaceFound, detect_landmarks

# Points no generated AU moves: temples, cheekbones' outer edge, inner eye corners, nose bridge, forehead.
ALIGN_POINTS = (10, 6, 168, 197, 127, 356, 234, 454, 133, 362, 67, 297, 103, 332)
OUTER_EYE_CORNERS = (33, 263)

#: Face Mesh points that describe each face area (both sides).
AREAS: dict[str, tuple[int, ...]] = {
    "brows": (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285, 9, 151),
    "eyes": (33, 246, 161, 160, 159, 158, 157, 173, 133, 7, 163, 144, 145, 153, 154, 155,
             263, 466, 388, 387, 386, 385, 384, 398, 362, 249, 390, 373, 374, 380, 381, 382),
    "cheeks": (116, 117, 118, 119, 100, 36, 101, 205, 50, 123, 345, 346, 347, 348, 329, 266, 330, 425, 280, 352),
    "nose": (4, 5, 1, 2, 45, 275, 48, 278, 64, 294, 98, 327, 129, 358, 97, 326, 49, 279),
    "lips": (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
             78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95),
    "chin": (152, 148, 176, 149, 150, 377, 400, 378, 379, 199, 175, 18, 200, 421, 201),
}

#: The areas each AU is read from.
AU_AREAS: dict[int, tuple[str, ...]] = {
    1: ("brows",), 2: ("brows",), 4: ("brows",),
    5: ("eyes",), 6: ("eyes", "cheeks"), 7: ("eyes", "cheeks"),
    9: ("nose", "lips"), 10: ("nose", "lips"),
    12: ("lips", "cheeks"), 14: ("lips",), 15: ("lips", "chin"), 20: ("lips",),
    16: ("lips", "chin"), 17: ("lips", "chin"), 23: ("lips",), 24: ("lips",),
    25: ("lips", "chin"), 26: ("lips", "chin"), 27: ("lips", "chin"),
}

#: Face regions as a reader names them (what Chapter 02's instructions point at).
READ_REGIONS: dict[str, tuple[int, ...]] = {
    "brows": (1, 2, 4), "upper lids": (5, 7), "cheeks": (6,), "nose": (9,),
    "lip corners": (12, 14, 15, 20), "lips": (10, 16, 17, 23, 24), "mouth opening": (25, 26, 27),
}

MODEL_VERSION = 1


def _feature_points() -> list[int]:
    seen: list[int] = []
    for pts in AREAS.values():
        seen += [p for p in pts if p not in seen]
    return seen


FEATURE_POINTS: tuple[int, ...] = tuple(_feature_points())


# --- the computation a browser mirrors ----------------------------------------------------------------------

def similarity_align(points, reference, align_points=ALIGN_POINTS) -> np.ndarray:
    """Map (468, 2) points onto `reference` by the least-squares similarity fitted on `align_points`."""
    p = np.asarray(points, np.float64)
    ref = np.asarray(reference, np.float64)
    idx = list(align_points)
    s, d = p[idx], ref[idx]
    ms, md = s.mean(0), d.mean(0)
    s, d = s - ms, d - md
    ss = float((s ** 2).sum())
    a = float((s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum()) / ss
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / ss
    q = p - ms
    return np.stack([a * q[:, 0] - b * q[:, 1], b * q[:, 0] + a * q[:, 1]], 1) + md


def model_features(model: dict, points, neutral_points=None) -> np.ndarray:
    """The feature vector (2 * len(feature_points),): aligned x, y of each feature point minus the base's."""
    ref = np.asarray(model["reference"], np.float64)
    fp = list(model["feature_points"])
    q = similarity_align(points, ref, model["align_points"])
    base = ref if neutral_points is None else similarity_align(neutral_points, ref, model["align_points"])
    return (q[fp] - base[fp]).reshape(-1)


def apply_model(model: dict, points, neutral_points=None) -> dict[int, float]:
    """AU -> intensity (0.5-5, rounded to 0.01) of the AUs the model finds present on these 468 points."""
    head = model["heads"]["template" if neutral_points is None else "neutral"]
    f = model_features(model, points, neutral_points)
    z = (f - np.asarray(head["mean"])) / np.asarray(head["scale"])
    logit = np.asarray(head["coef"]) @ z + np.asarray(head["intercept"])
    prob = 1.0 / (1.0 + np.exp(-logit))
    inten = np.asarray(head["int_coef"]) @ z + np.asarray(head["int_intercept"])
    lo, hi = model["intensity_range"]
    return {int(a): round(float(np.clip(inten[j], lo, hi)), 2)
            for j, a in enumerate(model["aus"]) if prob[j] >= head["threshold"][j]}


# --- fitting on generated faces ------------------------------------------------------------------------------

def _fit_head(x: np.ndarray, y: np.ndarray, cols_of: dict[int, list[int]], precision_weight: float, C: float) -> dict:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import precision_recall_curve

    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    k, f = y.shape[1], x.shape[1]
    coef, intercept = np.zeros((k, f)), np.zeros(k)
    int_coef, int_intercept, threshold = np.zeros((k, f)), np.zeros(k), np.full(k, 0.5)
    for j, a in enumerate(GENERATOR_AUS):
        cols = cols_of[a]
        present = y[:, j] > 0
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(z[:, cols], present)
        coef[j, cols], intercept[j] = clf.coef_[0], clf.intercept_[0]
        prob = clf.predict_proba(z[:, cols])[:, 1]
        prec, rec, thr = precision_recall_curve(present, prob)
        b2 = precision_weight ** 2          # F-beta with beta < 1 favours precision: strangers get fewer false AUs
        fb = (1 + b2) * prec * rec / np.maximum(b2 * prec + rec, 1e-12)
        threshold[j] = float(thr[int(np.argmax(fb[:-1]))])
        reg = Ridge(alpha=10.0).fit(z[present][:, cols], y[present, j])
        int_coef[j, cols], int_intercept[j] = reg.coef_, reg.intercept_
    return dict(mean=mean.tolist(), scale=scale.tolist(), coef=coef.tolist(), intercept=intercept.tolist(),
                threshold=threshold.tolist(), int_coef=int_coef.tolist(), int_intercept=int_intercept.tolist())


def fit_model(n: int = 2400, seed: int = 0, image_size: int = 160, precision_weight: float = 0.5, C: float = 0.5) -> dict:
    """Fit the reader on Face Mesh landmarks of `n` generated faces (and a neutral face of each one's subject)."""
    from .calibration import calibration_landmarks
    cal = calibration_landmarks(n, seed, image_size)
    pts, npts, y = cal["points"], cal["neutral_points"], cal["intensity"]
    # reference: the mean neutral shape, iterated once (align to the first mean, average again), unit eye distance
    ref = npts.mean(0).astype(np.float64)
    for _ in range(2):
        ref = np.mean([similarity_align(p, ref) for p in npts], 0)
        ref = (ref - ref[list(ALIGN_POINTS)].mean(0)) / np.linalg.norm(ref[OUTER_EYE_CORNERS[1]] - ref[OUTER_EYE_CORNERS[0]])
    model = dict(version=MODEL_VERSION, aus=list(GENERATOR_AUS), reference=ref.round(6).tolist(),
                 align_points=list(ALIGN_POINTS), feature_points=list(FEATURE_POINTS),
                 feature_names=[f"{c}{p}" for p in FEATURE_POINTS for c in "xy"], intensity_range=[0.5, 5.0],
                 areas={k: list(v) for k, v in AREAS.items()}, au_areas={str(a): list(v) for a, v in AU_AREAS.items()},
                 regions={k: list(v) for k, v in READ_REGIONS.items()})
    cols_of = {}
    for a in GENERATOR_AUS:
        wanted = {p for area in AU_AREAS[a] for p in AREAS[area]}
        cols_of[a] = [2 * i + c for i, p in enumerate(FEATURE_POINTS) if p in wanted for c in (0, 1)]
    x_t = np.stack([model_features(model, p) for p in pts])
    x_n = np.stack([model_features(model, p, q) for p, q in zip(pts, npts)])
    model["heads"] = {"template": _fit_head(x_t, y, cols_of, precision_weight, C),
                      "neutral": _fit_head(x_n, y, cols_of, precision_weight, C)}
    model["fitted_on"] = dict(faces=len(y), seed=int(seed), image_size=int(image_size),
                              landmarks="MediaPipe Face Mesh on generated faces", precision_weight=precision_weight)
    return model


@lru_cache(maxsize=1)
def _model_json() -> str:
    from ..cache import cached_json

    key = dict(kind="read-aus", areas=repr(AREAS), au_areas=repr(AU_AREAS), align=ALIGN_POINTS)
    return cached_json("read_aus", key, lambda: json.dumps(fit_model()), code=(Path(__file__).parent,))


def read_aus_model() -> dict:
    """The fitted reader as JSON-able numbers: reference shape, alignment and feature points, per-head
    standardisation, logistic and intensity coefficients, thresholds, AU list. `apply_model` runs it."""
    return json.loads(_model_json())


def read_aus(image, neutral=None) -> dict[int, float]:
    """AU number -> FACS intensity (0.5-5) of the AUs present on the face in `image`.

    image: grey (H, W), RGB or RGBA (H, W, 3|4), uint8 or float (0-1 or 0-255). neutral: optionally a photo of the
    same person at rest, used as the reference instead of the average face. Raises NoFaceFound if Face Mesh finds
    no face in either image."""
    points = detect_landmarks(image)
    neutral_points = None if neutral is None else detect_landmarks(neutral)
    return apply_model(read_aus_model(), points, neutral_points)


def regions_of(aus) -> set[str]:
    """The face regions (READ_REGIONS) in which these AUs lie."""
    return {name for name, members in READ_REGIONS.items() if any(int(a) in members for a in aus)}


__all__ = ["read_aus", "read_aus_model", "apply_model", "model_features", "similarity_align", "fit_model",
           "regions_of", "READ_REGIONS", "AREAS", "AU_AREAS", "NoFaceFound"]
