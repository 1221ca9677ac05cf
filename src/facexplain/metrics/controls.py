"""Controls for the claims: what a metric gives without the model (or without training), to beat by more than noise.

- maps that know nothing: a uniform map (its mu is the region's share of the image), seeded random maps, and an
  edge map of the input (Sobel), which localises faces well without looking at the model;
- a model that learnt nothing: the same architecture with re-initialised (random) weights;
- a ranking without a network: the landmarks ranked by how far the input is from the same baselines,
  mean ``|x - x'|`` (what IG's (x - x') factor alone gives);
- templates that know only the class or nothing: the training-mean AU map and the per-class mean AU map;
- per-image ground truth no template can match: each face's own AU map from the generator's active AUs;
- a faithfulness score (ROAD, from pytorch-grad-cam) that asks the model rather than a reference;
- multiplicity: the earliest of several tested strengths at which a test fires, after a false-discovery-rate
  correction (scipy.stats.false_discovery_control).
"""

from __future__ import annotations

import copy

import numpy as np


def area_ratio(mu, area):
    """mu divided by the region's share of the image: 1 for relevance spread evenly, > 1 when it concentrates there
    (seed 001's mu_w = mu * S_total / S_inside). NaN where the area is zero or unknown."""
    mu, area = np.asarray(mu, np.float64), np.asarray(area, np.float64)
    if mu.shape != area.shape:
        raise ValueError(f"mu and area must have the same shape; got {mu.shape} and {area.shape}")
    if np.any(area < 0) or np.any(area > 1):
        raise ValueError("area must be a share of the image in [0, 1]")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(area > 0, mu / np.where(area > 0, area, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def uniform_maps(n: int, shape) -> np.ndarray:
    """n constant maps (N, H, W): the no-information map (its mu in a region equals the region's area share)."""
    return np.ones((int(n), *tuple(shape)), np.float32)


def random_maps(n: int, shape, seed: int = 0) -> np.ndarray:
    """n seeded uniform-noise maps (N, H, W) in [0, 1)."""
    return np.random.default_rng(int(seed)).random((int(n), *tuple(shape))).astype(np.float32)


def sobel_maps(images) -> np.ndarray:
    """Edge magnitude (skimage.filters.sobel) of each image: (N, H, W) grey, (N, 1|3, H, W) or (N, H, W, 3) in;
    (N, H, W) float32 out. A control that localises facial features without any model."""
    from skimage.filters import sobel

    x = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, np.float64)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        x = x.mean(1)
    elif x.ndim == 4 and x.shape[-1] == 3:
        x = x.mean(-1)
    if x.ndim != 3:
        raise ValueError(f"images must be (N, H, W), (N, C, H, W) or (N, H, W, 3); got shape {x.shape}")
    return np.stack([sobel(im) for im in x]).astype(np.float32) if len(x) else np.zeros(x.shape, np.float32)


def random_weights(model, seed: int = 0):
    """A copy of `model` with every parameter re-initialised (each module's reset_parameters, seeded) and batch-norm
    statistics reset: the same architecture having learnt nothing. The original model is not touched."""
    import torch

    out = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        n = 0
        for m in out.modules():
            if hasattr(m, "reset_running_stats"):
                m.reset_running_stats()
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
                n += 1
    if n == 0:
        raise ValueError("the model has no module with reset_parameters: nothing to re-initialise")
    return out.eval() if not model.training else out


def input_only_importance(inputs, baselines) -> np.ndarray:
    """Per-landmark importance without a network: mean over inputs and baselines of sum_{frames, coords} ``|x - x'|``.

    inputs (N, P, C, L), baselines (B, P, C, L) as in explain.global_ig: the same reduction as global IG with the
    gradient factor left out, so it can be ranked the same way (explain.global_ig.rank_landmarks)."""
    x = np.asarray(inputs, np.float64)
    b = np.asarray(baselines, np.float64)
    if x.ndim < 2 or b.ndim != x.ndim or x.shape[1:] != b.shape[1:]:
        raise ValueError(f"inputs (N, ..., L) and baselines (B, ..., L) must share their trailing shape; "
                         f"got {x.shape} and {b.shape}")
    if not len(x) or not len(b):
        raise ValueError("need at least one input and one baseline")
    axes = tuple(range(1, x.ndim - 1))
    total = np.zeros(x.shape[-1])
    for base in b:                          # loop over baselines: memory stays at one (N, ..., L) array
        total += np.abs(x - base[None]).sum(axis=axes).mean(0)
    return total / len(b)


def fixed_template(maps_train) -> np.ndarray:
    """The training-mean AU map over faces that have one (no class, no image): (H, W)."""
    m = np.asarray(maps_train.detach().cpu() if hasattr(maps_train, "detach") else maps_train, np.float32)
    has = m.reshape(len(m), -1).max(1) > 0
    if not has.any():
        raise ValueError("no training face has an AU map: a template needs some")
    return m[has].mean(0)


def class_templates(maps_train, labels_train) -> dict:
    """Per-class mean AU map of the training faces that have one: {class: (H, W)} (knows the class, not the face)."""
    m = np.asarray(maps_train.detach().cpu() if hasattr(maps_train, "detach") else maps_train, np.float32)
    labels = np.asarray(labels_train, dtype=object)
    if len(labels) != len(m):
        raise ValueError(f"{len(m)} maps but {len(labels)} labels: give one label per map")
    has = m.reshape(len(m), -1).max(1) > 0
    out = {c: m[has & (labels == c)].mean(0) for c in dict.fromkeys(labels[has].tolist())}
    if not out:
        raise ValueError("no training face has an AU map: templates need some")
    return out


def template_maps(templates, labels) -> np.ndarray:
    """Test-time maps from templates: one (H, W) array for every face, or {class: (H, W)} indexed by each face's
    class (a class without a template, e.g. neutral, gets zeros)."""
    labels = np.asarray(labels, dtype=object)
    if isinstance(templates, dict):
        shape = next(iter(templates.values())).shape
        zero = np.zeros(shape, np.float32)
        return np.stack([templates.get(c, zero) for c in labels]).astype(np.float32)
    t = np.asarray(templates, np.float32)
    if t.ndim != 2:
        raise ValueError(f"a fixed template is one (H, W) map; got shape {t.shape}")
    return np.broadcast_to(t, (len(labels), *t.shape)).copy()


def truth_au_maps(landmarks, au_numbers, au_intensity, shape) -> np.ndarray:
    """Each face's own AU map (N, H, W): the AUs the generator actually activated on it (intensity > 0), drawn where
    its landmarks say (faces.au_map). Zeros for a face with no active AU."""
    from ..faces import au_map

    lm = np.asarray(landmarks, np.float32)
    inten = np.asarray(au_intensity, np.float64)
    aus = [int(a) for a in au_numbers]
    if inten.ndim != 2 or inten.shape[1] != len(aus) or len(inten) != len(lm):
        raise ValueError(f"au_intensity must be (N, {len(aus)}) for {len(lm)} faces; got {inten.shape}")
    return np.stack([au_map(lm[i], [a for a, v in zip(aus, inten[i]) if v > 0], tuple(shape))
                     for i in range(len(lm))]).astype(np.float32) if len(lm) else np.zeros((0, *shape), np.float32)


class MeanImputer:
    """Fills the removed pixels (mask 0) with the image's mean per channel: plain deletion, fast on a CPU."""

    def __call__(self, img, mask):
        fill = img.mean(dim=tuple(range(1, img.ndim)), keepdim=True)
        mask = mask.to(img.dtype)
        return img * mask + fill * (1 - mask)


def road_scores(model, inputs, maps, targets, percentiles=(20, 50, 80), imputer: str = "mean", seed: int = 0,
                batch_size: int = 16) -> np.ndarray:
    """Faithfulness per image, pytorch-grad-cam's perturbation metrics (pytorch_grad_cam.metrics): for each
    percentile p, the output change when the (100 - p)% least relevant pixels are replaced, minus the change when
    the most relevant ones are (MoRF / LeRF, Rong et al. 2022's ROAD combination), halved and averaged over
    `percentiles`. Higher = the map ranks first the pixels the model uses.

    imputer: "road" (the library's noisy linear imputer, ROAD proper; about half a second per image and percentile
    on a CPU) or "mean" (removed pixels take the image's mean: plain deletion, fast). maps (N, H, W) at the input
    size are min-max scaled per image; targets (N,) output indices (logits). Seeded."""
    import torch
    from pytorch_grad_cam.metrics.perturbation_confidence import (PerturbationConfidenceMetric,
                                                                  RemoveLeastRelevantFirst, RemoveMostRelevantFirst)
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if imputer not in ("road", "mean"):
        raise ValueError(f"imputer must be 'road' (noisy linear) or 'mean'; got {imputer!r}")
    x = torch.as_tensor(inputs, dtype=torch.float32)
    m = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps, np.float32)
    t = np.asarray(targets.detach().cpu() if hasattr(targets, "detach") else targets).astype(int).ravel()
    if m.shape != (len(x), *x.shape[-2:]):
        raise ValueError(f"maps must be (N, H, W) = {(len(x), *x.shape[-2:])}, one per input; got {m.shape}")
    if len(t) != len(x):
        raise ValueError(f"{len(t)} targets for {len(x)} inputs: give one output index per image")
    if not np.all(np.isfinite(m)):
        raise ValueError("maps contain NaN or inf: clean them before scoring")
    if not len(percentiles) or any(not 0 < float(p) < 100 for p in percentiles):
        raise ValueError(f"percentiles must lie in (0, 100); got {percentiles}")
    lo = m.reshape(len(m), -1).min(1)[:, None, None]
    span = m.reshape(len(m), -1).max(1)[:, None, None] - lo
    m = ((m - lo) / np.where(span > 0, span, 1.0)).astype(np.float32)
    make = NoisyLinearImputer if imputer == "road" else MeanImputer
    model = model.eval()
    out = np.zeros(len(x))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for p in percentiles:
            morf = PerturbationConfidenceMetric(RemoveMostRelevantFirst(float(p), make()))
            lerf = PerturbationConfidenceMetric(RemoveLeastRelevantFirst(float(p), make()))
            for s in range(0, len(x), int(batch_size)):
                sl = slice(s, s + int(batch_size))
                tg = [ClassifierOutputTarget(int(k)) for k in t[sl]]
                d_lerf = np.asarray(lerf(x[sl], m[sl], tg, model), np.float64).ravel()
                d_morf = np.asarray(morf(x[sl], m[sl], tg, model), np.float64).ravel()
                out[sl] += (d_lerf - d_morf) / 2
    return out / len(percentiles)


def aus_above_floor(f1: dict, floor: dict, margin: float = 0.0) -> list:
    """The AUs whose F1 clears the always-present floor (2p / (1 + p)) by more than `margin`: mu means something
    only for a detector that detects."""
    missing = [a for a in f1 if a not in floor]
    if missing:
        raise ValueError(f"no floor for AU(s) {missing}: pass the always-present F1 of every AU")
    return [a for a in f1 if np.isfinite(f1[a]) and f1[a] > floor[a] + margin]


def earliest_detection(table, by: str = "strength", p: str = "p", alpha: float = 0.05, groups=None):
    """The smallest `by` value at which a test fires, after correcting all the table's p-values for multiplicity
    (Benjamini-Hochberg, scipy.stats.false_discovery_control). groups: columns whose combinations each get their
    earliest value (e.g. ["method", "metric"]); all p-values of the table form one family.

    Returns a DataFrame (groups..., earliest, p_adjusted at that value, n_tests), earliest NaN where nothing fires."""
    import pandas as pd
    from scipy.stats import false_discovery_control

    if by not in table or p not in table:
        raise ValueError(f"table needs columns {by!r} and {p!r}; got {list(table.columns)}")
    t = table.copy()
    pv = t[p].to_numpy(np.float64)
    ok = np.isfinite(pv)
    if np.any((pv[ok] < 0) | (pv[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    t["p_adjusted"] = np.nan
    if ok.any():
        t.loc[ok, "p_adjusted"] = false_discovery_control(pv[ok], method="bh")
    groups = list(groups or [])
    rows = []
    for key, g in (t.groupby(groups, sort=False) if groups else [((), t)]):
        key = key if isinstance(key, tuple) else (key,)
        hit = g[g["p_adjusted"] < alpha].sort_values(by)
        first = hit.iloc[0] if len(hit) else None
        rows.append(dict(zip(groups, key), earliest=float(first[by]) if first is not None else np.nan,
                         p_adjusted=float(first["p_adjusted"]) if first is not None else np.nan,
                         n_tests=int(ok.sum())))
    return pd.DataFrame(rows)


def cosine_per_face(maps, references, labels, exclude=("neutral",)):
    """CAM-COS-style scores of maps (N, h, w) against per-face references (N, H, W): per face (NaN where the
    reference is empty or the face's class is excluded), and the per-class-then-over-classes mean.
    Returns (overall, per_class dict, per_face array)."""
    from .maps import class_average, map_cosine

    m = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps, np.float64)
    r = np.asarray(references.detach().cpu() if hasattr(references, "detach") else references, np.float64)
    labels = np.asarray(labels, dtype=object)
    if len(m) != len(r) or len(r) != len(labels):
        raise ValueError(f"{len(m)} maps, {len(r)} references and {len(labels)} labels: give one of each per face")
    ok = (r.reshape(len(r), -1).max(1) > 0) & ~np.isin(labels, list(exclude))
    cos = np.full(len(m), np.nan)
    if ok.any():
        cos[ok] = map_cosine(m[ok], r[ok], zero_saliency="zero")
    classes = [c for c in dict.fromkeys(labels[ok].tolist())]
    if not classes:
        raise ValueError("no face has a non-empty reference map outside the excluded classes")
    overall, per = class_average(cos, labels, classes=sorted(classes))
    return overall, per, cos


def template_table(maps_train, labels_train, maps_test, labels_test, truth_test=None):
    """The template controls of CAM-COS / ATT-COS: `fixed_template` (the training-mean AU map, the same for every
    face) and `class_template` (the training mean of the face's class), scored like any map against the test faces'
    AU maps (and, with truth_test, against each face's own AU map). Returns (table, per_face): table rows
    (method, cam_cos, att_cos, truth_cos); per_face {method: per-face cosine to the AU map, ("truth", method): per-face
    cosine to the face's own AU map}."""
    import pandas as pd

    labels_test = np.asarray(labels_test, dtype=object)
    fixed = template_maps(fixed_template(maps_train), labels_test)
    by_class = template_maps(class_templates(maps_train, labels_train), labels_test)
    rows, per_face = [], {}
    for name, maps in (("fixed_template", fixed), ("class_template", by_class)):
        cos, _, face = cosine_per_face(maps, maps_test, labels_test)
        truth = np.nan
        if truth_test is not None:
            truth, _, per_face[("truth", name)] = cosine_per_face(maps, truth_test, labels_test)
        rows.append(dict(method=name, cam_cos=cos, att_cos=cos, truth_cos=truth))
        per_face[name] = face
    return pd.DataFrame(rows), per_face


__all__ = ["area_ratio", "uniform_maps", "random_maps", "sobel_maps", "random_weights", "input_only_importance",
           "fixed_template", "class_templates", "template_maps", "truth_au_maps", "MeanImputer", "road_scores", "aus_above_floor",
           "earliest_detection", "cosine_per_face", "template_table"]
