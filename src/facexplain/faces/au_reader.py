"""Read Action Units from a photo: MediaPipe Face Mesh -> 468 points -> scale-free face measures -> AU intensities.

`read_aus(image, neutral=None)` is the one call. The model behind it is deliberately simple, so that a browser can
run exactly the same computation on the points Face Mesh finds there (`read_aus_model()` exports it as JSON-able
numbers and `apply_model(model, points, neutral_points)` is the reference implementation in plain numpy):

1. **Alignment.** The 468 points are mapped onto a stored reference shape by the least-squares similarity
   transform (scale, rotation, shift) fitted on the eye corners and the nose bridge. The reference is the mean
   neutral shape Face Mesh finds on generated faces of many identities, scaled so that the eye centres (the
   midpoints of each eye's corners) are one unit apart: every measure below is in inter-ocular distances.
2. **Measures** (`MEASURES`): distances a FACS coder looks at, each the mean x or y of a few aligned points minus
   that of a few others: brow heights above the eye line and the gap between the inner brows; the heights of the
   upper and lower lids and the eye aperture; how far below the eye line the rows of cheek points under the lower
   lid lie; the height and width of the nose wings; philtrum length; lip-corner height relative to the mouth
   centre; mouth width; lip thickness; mouth opening; chin height. With no neutral photo they are used as they
   are; with one, minus the same measures of the aligned neutral photo.
3. **Per AU**, on the measures of the face area its muscle moves only (`AU_AREAS`; an AU is never read from
   another area): standardise, a logistic regression gives the probability, a threshold decides presence, and
   a ridge regression gives the FACS intensity (clipped to 0.5-5).

The model is fitted on Face Mesh landmarks of generated faces (not on the generator's exact points) of hundreds of
identities, with AUs switched on independently of each other (no emotion co-occurrences to lean on), so that a
person's own face shape is noise it has learnt to ignore. Each threshold is set so that faces at rest seldom read
the AU: without a neutral photo, the 95th percentile of the AU's probability over the neutral faces of the
calibration subjects; with one, over pairs of two neutral faces of the same subject (`REST_QUANTILE`). It is
cached under data/cache/read_aus/; `held_out_scores()` reports per-AU F1 on subjects left out of fitting.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .aus import GENERATOR_AUS
from .mesh import NoFaceFound, detect_landmarks

#: Alignment points: the four eye corners and the nose bridge, which the generated AUs move least.
ALIGN_POINTS = (33, 133, 362, 263, 168, 6, 197, 195)
#: Eye corners (right eye outer, inner; left eye inner, outer): the eye line and the eye centres.
EYE_CORNERS = (33, 133, 362, 263)
_EYE = EYE_CORNERS
_LOWER_LID = (7, 163, 144, 145, 153, 154, 155, 249, 390, 373, 374, 380, 381, 382)
_UPPER_LID = (246, 161, 160, 159, 158, 157, 173, 466, 388, 387, 386, 385, 384, 398)

#: Scale-free face measures: name -> (axis, points, minus points): mean x ("x") or y ("y", downwards) of the aligned
#: `points` minus that of `minus points`, in inter-ocular distances. Both sides of the face are pooled.
MEASURES: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]] = {
    "inner brow height": ("y", _EYE, (107, 55, 336, 285)),
    "middle brow height": ("y", _EYE, (105, 52, 334, 282)),
    "outer brow height": ("y", _EYE, (70, 63, 46, 53, 300, 293, 276, 283)),
    "inner brow gap": ("x", (336, 285), (107, 55)),
    "upper lid height": ("y", _EYE, (159, 158, 160, 386, 385, 387)),
    "lower lid depth": ("y", (145, 144, 153, 374, 373, 380), _EYE),
    "eye aperture": ("y", _LOWER_LID, _UPPER_LID),
    "cheek row 1 depth": ("y", (25, 110, 24, 23, 22, 26, 112, 255, 339, 254, 253, 252, 256, 341), _EYE),
    "cheek row 2 depth": ("y", (31, 228, 229, 230, 231, 232, 233, 261, 448, 449, 450, 451, 452, 453), _EYE),
    "cheek row 3 depth": ("y", (111, 117, 118, 119, 120, 121, 128, 340, 346, 347, 348, 349, 350, 357), _EYE),
    "cheek row 4 depth": ("y", (116, 123, 50, 101, 100, 47, 114, 345, 352, 280, 330, 329, 277, 343), _EYE),
    "nose wing depth": ("y", (98, 64, 129, 327, 294, 358), _EYE),
    "nose wing width": ("x", (327, 294), (98, 64)),
    "nose tip depth": ("y", (1, 4), _EYE),
    "philtrum length": ("y", (0, 37, 267), (2, 94)),
    "upper lip depth": ("y", (0,), _EYE),
    "lip corners below mouth centre": ("y", (61, 291), (13, 14)),
    "lip corners below upper lip": ("y", (61, 291), (13,)),
    "lip corner depth": ("y", (61, 291), _EYE),
    "mouth width": ("x", (291,), (61,)),
    "inner mouth width": ("x", (308,), (78,)),
    "mouth opening": ("y", (14,), (13,)),
    "lower lip drop": ("y", (17,), (13,)),
    "upper lip thickness": ("y", (13,), (0,)),
    "lower lip thickness": ("y", (17,), (14,)),
    "chin depth": ("y", (152,), _EYE),
    "chin below lower lip": ("y", (152,), (17,)),
    "lower lip below lip corners": ("y", (17,), (61, 291)),
}

#: The measures of each face area.
AREAS: dict[str, tuple[str, ...]] = {
    "brows": ("inner brow height", "middle brow height", "outer brow height", "inner brow gap"),
    "eyes": ("upper lid height", "lower lid depth", "eye aperture"),
    "cheeks": ("cheek row 1 depth", "cheek row 2 depth", "cheek row 3 depth", "cheek row 4 depth", "lower lid depth"),
    "nose": ("nose wing depth", "nose wing width", "nose tip depth", "philtrum length"),
    "upper lip": ("philtrum length", "upper lip depth", "upper lip thickness", "lip corners below upper lip"),
    "lip corners": ("lip corners below mouth centre", "lip corners below upper lip", "lip corner depth",
                    "mouth width", "inner mouth width"),
    "lips": ("upper lip thickness", "lower lip thickness", "mouth width", "inner mouth width",
             "lower lip below lip corners", "chin below lower lip", "mouth opening"),
    "mouth": ("mouth opening", "lower lip drop", "chin depth", "chin below lower lip", "lower lip below lip corners",
              "inner mouth width"),
}

#: The areas each AU is read from.
AU_AREAS: dict[int, tuple[str, ...]] = {
    1: ("brows",), 2: ("brows",), 4: ("brows",), 5: ("eyes",), 6: ("cheeks",), 7: ("eyes",),
    9: ("nose", "upper lip"), 10: ("nose", "upper lip"),
    12: ("lip corners",), 14: ("lip corners",), 15: ("lip corners",), 20: ("lip corners",),
    16: ("lips", "mouth"), 17: ("lips", "mouth"), 23: ("lips",), 24: ("lips",),
    25: ("mouth",), 26: ("mouth",), 27: ("mouth",),
}

#: Face regions as a reader names them (what Chapter 02's instructions point at).
READ_REGIONS: dict[str, tuple[int, ...]] = {
    "brows": (1, 2, 4), "upper lids": (5, 7), "cheeks": (6,), "nose": (9,),
    "lip corners": (12, 14, 15, 20), "lips": (10, 16, 17, 23, 24), "mouth opening": (25, 26, 27),
}

#: A face at rest reads an AU with probability about 1 - REST_QUANTILE (the thresholds' rule, see the docstring).
REST_QUANTILE = 0.95
#: Logistic regression's inverse regularisation strength (on standardised measures).
C = 0.1
MODEL_VERSION = 2


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


def _measures(model: dict, aligned: np.ndarray) -> np.ndarray:
    return np.array([aligned[m["points"], m["axis"]].mean() - aligned[m["minus"], m["axis"]].mean()
                     for m in model["measures"]])


def model_features(model: dict, points, neutral_points=None) -> np.ndarray:
    """The model's measures of these 468 points (aligned onto the reference), minus those of the aligned neutral
    points when given: (len(model["measures"]),), in inter-ocular distances."""
    ref = np.asarray(model["reference"], np.float64)
    f = _measures(model, similarity_align(points, ref, model["align_points"]))
    if neutral_points is not None:
        f = f - _measures(model, similarity_align(neutral_points, ref, model["align_points"]))
    return f


def _standardised(model: dict, points, neutral_points=None) -> tuple[dict, np.ndarray]:
    head = model["heads"]["template" if neutral_points is None else "neutral"]
    f = model_features(model, points, neutral_points)
    return head, (f - np.asarray(head["mean"])) / np.asarray(head["scale"])


def presence_probabilities(model: dict, points, neutral_points=None) -> np.ndarray:
    """P(present) of every AU of the model (in model["aus"] order) on these 468 points; an AU is read when its
    probability reaches the head's threshold."""
    head, z = _standardised(model, points, neutral_points)
    return 1.0 / (1.0 + np.exp(-(np.asarray(head["coef"]) @ z + np.asarray(head["intercept"]))))


def apply_model(model: dict, points, neutral_points=None) -> dict[int, float]:
    """AU -> intensity (0.5-5, rounded to 0.01) of the AUs the model finds present on these 468 points."""
    head, z = _standardised(model, points, neutral_points)
    prob = presence_probabilities(model, points, neutral_points)
    inten = np.asarray(head["int_coef"]) @ z + np.asarray(head["int_intercept"])
    lo, hi = model["intensity_range"]
    return {int(a): round(float(np.clip(inten[j], lo, hi)), 2)
            for j, a in enumerate(model["aus"]) if prob[j] >= head["threshold"][j]}


# --- fitting on generated faces ------------------------------------------------------------------------------

def _skeleton(reference: np.ndarray) -> dict:
    """The model's fixed part: reference shape, alignment points, measures, AU areas, regions."""
    return dict(version=MODEL_VERSION, aus=list(GENERATOR_AUS), reference=np.asarray(reference).round(6).tolist(),
                align_points=list(ALIGN_POINTS), intensity_range=[0.5, 5.0],
                measures=[dict(name=name, axis="xy".index(axis), points=list(plus), minus=list(minus))
                          for name, (axis, plus, minus) in MEASURES.items()],
                areas={k: list(v) for k, v in AREAS.items()}, au_areas={str(a): list(v) for a, v in AU_AREAS.items()},
                regions={k: list(v) for k, v in READ_REGIONS.items()})


def mean_neutral_shape(neutral_points: np.ndarray) -> np.ndarray:
    """The reference: the mean of the neutral shapes, each aligned onto the running mean (twice), centred on the
    alignment points and scaled so that the eye centres (midpoints of each eye's corners) are one unit apart."""
    ref = np.asarray(neutral_points, np.float64).mean(0)
    for _ in range(2):
        ref = _batch_align(neutral_points, ref).mean(0)
        right, left = ref[list(EYE_CORNERS[:2])].mean(0), ref[list(EYE_CORNERS[2:])].mean(0)
        ref = (ref - ref[list(ALIGN_POINTS)].mean(0)) / np.linalg.norm(left - right)
    return ref


def _batch_align(points: np.ndarray, reference, align_points=ALIGN_POINTS) -> np.ndarray:
    """similarity_align of a stack of faces (N, 468, 2), vectorised (the same numbers)."""
    p = np.asarray(points, np.float64)
    ref = np.asarray(reference, np.float64)
    idx = list(align_points)
    s, d = p[:, idx], ref[idx]
    ms, md = s.mean(1, keepdims=True), d.mean(0)
    s, d = s - ms, d - md
    ss = (s ** 2).sum((1, 2))
    a = (s[..., 0] * d[:, 0] + s[..., 1] * d[:, 1]).sum(1) / ss
    b = (s[..., 0] * d[:, 1] - s[..., 1] * d[:, 0]).sum(1) / ss
    q = p - ms
    return np.stack([a[:, None] * q[..., 0] - b[:, None] * q[..., 1],
                     b[:, None] * q[..., 0] + a[:, None] * q[..., 1]], -1) + md


def _batch_features(model: dict, points: np.ndarray) -> np.ndarray:
    """model_features of a stack of faces (N, 468, 2) -> (N, n_measures), vectorised (the same numbers)."""
    aligned = _batch_align(points, model["reference"], model["align_points"])
    return np.stack([aligned[:, m["points"], m["axis"]].mean(1) - aligned[:, m["minus"], m["axis"]].mean(1)
                     for m in model["measures"]], 1)


def _batch_probabilities(head: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(head["mean"])) / np.asarray(head["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(head["coef"]).T + np.asarray(head["intercept"]))))


def _columns(model: dict) -> dict[int, list[int]]:
    names = [m["name"] for m in model["measures"]]
    return {a: sorted({names.index(m) for area in AU_AREAS[a] for m in AREAS[area]}) for a in GENERATOR_AUS}


def _fit_head(x: np.ndarray, y: np.ndarray, rest: np.ndarray, cols_of: dict[int, list[int]]) -> dict:
    """Per AU: logistic presence and ridge intensity on the AU's standardised measures; threshold = the
    REST_QUANTILE quantile of the presence probability over `rest` (measures of faces at rest)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    mean, scale = x.mean(0), x.std(0) + 1e-9
    z, zr = (x - mean) / scale, (rest - mean) / scale
    k, f = len(GENERATOR_AUS), x.shape[1]
    coef, intercept = np.zeros((k, f)), np.zeros(k)
    int_coef, int_intercept, threshold = np.zeros((k, f)), np.zeros(k), np.zeros(k)
    for j, a in enumerate(GENERATOR_AUS):
        cols = cols_of[a]
        present = y[:, j] > 0
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(z[:, cols], present)
        coef[j, cols], intercept[j] = clf.coef_[0], clf.intercept_[0]
        threshold[j] = float(np.quantile(clf.predict_proba(zr[:, cols])[:, 1], REST_QUANTILE))
        reg = Ridge(alpha=10.0).fit(z[present][:, cols], y[present, j])
        int_coef[j, cols], int_intercept[j] = reg.coef_, reg.intercept_
    return dict(mean=mean.tolist(), scale=scale.tolist(), coef=coef.tolist(), intercept=intercept.tolist(),
                threshold=threshold.tolist(), int_coef=int_coef.tolist(), int_intercept=int_intercept.tolist())


def _rest_pairs(subject: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, k) of two calibration faces of the same subject (each face's neutral image is a face at
    rest; two of them differ by head pose, lighting and Face Mesh's noise only)."""
    first, second = [], []
    for s in np.unique(subject):
        rows = np.flatnonzero(subject == s)
        first += list(rows[:-1])
        second += list(rows[1:])
    return np.asarray(first, int), np.asarray(second, int)


def _fit_heads(model: dict, feats: np.ndarray, neutral_feats: np.ndarray, y: np.ndarray, subject: np.ndarray) -> dict:
    """Both heads on these calibration rows. Template head (no neutral photo): the faces' measures, the neutral
    faces added as faces with no AU, thresholds from the neutral faces. Neutral head: measures minus the subject's
    neutral face's, thresholds from pairs of two neutral faces of the same subject."""
    cols_of = _columns(model)
    x_t = np.concatenate([feats, neutral_feats])
    y_t = np.concatenate([y, np.zeros_like(y)])
    i, k = _rest_pairs(subject)
    return {"template": _fit_head(x_t, y_t, neutral_feats, cols_of),
            "neutral": _fit_head(feats - neutral_feats, y, neutral_feats[i] - neutral_feats[k], cols_of)}


def _calibration(n: int, seed: int, image_size: int) -> dict:
    from .calibration import calibration_landmarks
    return calibration_landmarks(n, seed, image_size)


def fit_model(n: int = 2400, seed: int = 0, image_size: int = 160) -> dict:
    """Fit the reader on Face Mesh landmarks of `n` generated faces (and a neutral face of each one's subject)."""
    cal = _calibration(n, seed, image_size)
    model = _skeleton(mean_neutral_shape(cal["neutral_points"]))
    feats, neutral_feats = _batch_features(model, cal["points"]), _batch_features(model, cal["neutral_points"])
    model["heads"] = _fit_heads(model, feats, neutral_feats, cal["intensity"], cal["subject"])
    model["fitted_on"] = dict(faces=len(feats), subjects=len(np.unique(cal["subject"])), seed=int(seed),
                              image_size=int(image_size), landmarks="MediaPipe Face Mesh on generated faces",
                              rest_quantile=REST_QUANTILE, C=C)
    return model


def _held_out(n: int, seed: int, image_size: int, folds: int) -> str:
    from sklearn.metrics import f1_score, roc_auc_score
    from sklearn.model_selection import GroupKFold

    cal = _calibration(n, seed, image_size)
    pts, npts, y, subject = cal["points"], cal["neutral_points"], cal["intensity"], cal["subject"]
    present = y > 0
    prob = {h: np.zeros(present.shape) for h in ("template", "neutral")}
    pred = {h: np.zeros_like(present) for h in prob}
    rest_hits = np.zeros(len(GENERATOR_AUS))
    for train, test in GroupKFold(folds).split(pts, groups=subject):
        model = _skeleton(mean_neutral_shape(npts[train]))
        f, fn = _batch_features(model, pts), _batch_features(model, npts)
        model["heads"] = _fit_heads(model, f[train], fn[train], y[train], subject[train])
        for h, x in (("template", f[test]), ("neutral", f[test] - fn[test])):
            prob[h][test] = _batch_probabilities(model["heads"][h], x)
            pred[h][test] = prob[h][test] >= np.asarray(model["heads"][h]["threshold"])
        # held-out neutral faces read without a neutral photo: false alarms at rest
        head = model["heads"]["template"]
        rest_hits += (_batch_probabilities(head, fn[test]) >= np.asarray(head["threshold"])).sum(0)
    prev = present.mean(0)
    rows = [dict(au=a, prevalence=float(prev[j]),
                 f1_template=float(f1_score(present[:, j], pred["template"][:, j], zero_division=0)),
                 f1_neutral=float(f1_score(present[:, j], pred["neutral"][:, j], zero_division=0)),
                 chance_f1=float(2 * prev[j] / (1 + prev[j])),
                 auc_template=float(roc_auc_score(present[:, j], prob["template"][:, j])),
                 auc_neutral=float(roc_auc_score(present[:, j], prob["neutral"][:, j])),
                 rest_rate=float(rest_hits[j] / len(pts)))
            for j, a in enumerate(GENERATOR_AUS)]
    return json.dumps(dict(rows=rows, faces=len(pts), subjects=int(len(np.unique(subject))), folds=folds))


def held_out_scores(n: int = 2400, seed: int = 0, image_size: int = 160, folds: int = 4):
    """Per-AU F1 of the reader on generated faces of subjects left out of its fitting (GroupKFold by subject,
    Face Mesh landmarks), without a neutral photo ("template") and with the subject's neutral face ("neutral"),
    beside chance (the F1 of calling every face positive, 2p / (1 + p)), the threshold-free ROC AUC of the
    presence probability (0.5: no signal), and the share of held-out neutral faces that read the AU. A DataFrame
    indexed by AU; cached."""
    import pandas as pd

    from ..cache import cached_json
    key = dict(kind="read-aus-held-out", n=int(n), seed=int(seed), image_size=int(image_size), folds=int(folds))
    out = json.loads(cached_json("read_aus", key, lambda: _held_out(n, seed, image_size, folds),
                                 code=(Path(__file__).parent,)))
    table = pd.DataFrame(out["rows"]).set_index("au")
    table.attrs.update(faces=out["faces"], subjects=out["subjects"], folds=out["folds"])
    return table


@lru_cache(maxsize=1)
def _model_json() -> str:
    from ..cache import cached_json

    key = dict(kind="read-aus")            # the code hash (below) covers every change to the reader
    return cached_json("read_aus", key, lambda: json.dumps(fit_model()), code=(Path(__file__).parent,))


def read_aus_model() -> dict:
    """The fitted reader as JSON-able numbers: reference shape, alignment points, measures (name, axis, points,
    minus points), per-head standardisation, logistic and intensity coefficients over the measures, thresholds,
    AU list. `apply_model` runs it."""
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


__all__ = ["read_aus", "read_aus_model", "apply_model", "presence_probabilities", "model_features", "similarity_align", "fit_model",
           "held_out_scores", "mean_neutral_shape", "regions_of", "READ_REGIONS", "MEASURES", "AREAS", "AU_AREAS",
           "NoFaceFound"]
