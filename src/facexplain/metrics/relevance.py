"""Where the relevance sits: relevance mass mu (seed 001, after Kohlbrenner et al.), rank accuracy, pointing game.

mu = positive relevance inside a region / positive relevance over the whole image, for one map. Seed 001 uses
the boxes of each AU spanned by 68 landmarks; the synthetic faces also know the AU's true pixels, so the same
measure can be taken against ground truth. Batched helpers average mu per AU over the correctly predicted
positives, as in the paper's Table 3.
"""

from __future__ import annotations

import numpy as np


def _as_numpy(a, name: str, shape: str = "one 2-D (H, W) map") -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}): give {shape}")
    return a


def _boolean(m: np.ndarray, name: str) -> np.ndarray:
    """A mask as bool; 0/1 numbers are accepted, anything else (0.5, NaN) is a ValueError naming `name`."""
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1): True marks the region's pixels")
        m = m.astype(bool)
    return m


def _check(relevance, mask) -> tuple[np.ndarray, np.ndarray]:
    """One (H, W) float map and a same-shape boolean mask, or a ValueError that names the fix."""
    r = _as_numpy(relevance, "relevance").astype(np.float64)
    if r.ndim != 2:
        raise ValueError(f"relevance must be ONE 2-D map (H, W); got shape {r.shape} "
                         "(sum over channels, and use the batched helpers for several maps)")
    if not np.all(np.isfinite(r)):
        raise ValueError("relevance contains NaN or inf: check the explanation (e.g. an unstable LRP rule)")
    m = _as_numpy(mask, "mask")
    if m.shape != r.shape:
        raise ValueError(f"mask shape {m.shape} does not match the relevance map's {r.shape}: "
                         "build the mask at the map's resolution")
    m = _boolean(m, "mask")
    if not m.any():
        raise ValueError("mask selects no pixel: the region is empty, so no mass can lie inside it")
    return r, m


def relevance_mass(relevance, mask) -> float:
    """mu: share of the map's positive relevance that lies inside `mask` (one (H, W) map; seed 001's eq. 2)."""
    r, m = _check(relevance, mask)
    pos = np.clip(r, 0, None)
    pos = pos / pos.max() if pos.max() > 0 else pos        # scale-free: huge maps cannot overflow the sums
    total = pos.sum()
    if not total > 0:
        raise ValueError("the relevance map has no positive relevance (all zero or negative): mu is undefined")
    return float(pos[m].sum() / total)


def relevance_rank_accuracy(relevance, mask) -> float:
    """``|top-K pixels ∩ mask| / |mask|`` with ``K = |mask|`` (ties broken by pixel order, deterministic)."""
    r, m = _check(relevance, mask)
    if not np.any(r != 0):
        raise ValueError("the relevance map is all zero: no pixel ranks above another")
    k = int(m.sum())
    order = np.argsort(-r.ravel(), kind="stable")[:k]
    return float(m.ravel()[order].sum() / k)


def pointing_game(relevance, mask) -> bool:
    """True when the map's maximum (first one in pixel order) lies inside `mask`."""
    r, m = _check(relevance, mask)
    if not np.any(r != 0):
        raise ValueError("the relevance map is all zero: it points nowhere")
    return bool(m.ravel()[int(np.argmax(r.ravel()))])


def relevance_masses(maps, masks, area_normalised: bool = False) -> np.ndarray:
    """mu for a batch: maps (N, H, W) with one mask each (N, H, W) -> (N,), or with several regions each
    (N, R, H, W) -> (N, R). NaN where a map has no positive relevance, and for an empty region of (N, R, H, W).

    area_normalised=True divides mu by the region's share of the image (mu_w: 1 = what a uniform map gives), so
    small and large regions can be compared; NaN for an empty region.
    Maps holding NaN or inf raise a ValueError naming them (they are not silently read as zero relevance)."""
    r = _as_numpy(maps, "maps", "a batch (N, H, W) of N >= 1 maps").astype(np.float64)
    m = _as_numpy(masks, "masks", "one mask (N, H, W) or R regions (N, R, H, W) per map")
    per_region = m.ndim == 4
    if r.ndim != 3 or (m.shape != r.shape and not (per_region and m.shape[0] == r.shape[0]
                                                    and m.shape[2:] == r.shape[1:])):
        raise ValueError(f"maps must be (N, H, W) and masks of the same shape (N, H, W) or (N, R, H, W) with the "
                         f"same N, H, W; got {r.shape} and {m.shape}")
    finite = np.isfinite(r).reshape(len(r), -1).all(axis=1)
    if not finite.all():
        raise ValueError(f"maps {np.flatnonzero(~finite)[:5].tolist()} contain NaN or inf: check the explanation "
                         "(e.g. an unstable LRP rule or a non-finite input) before measuring mu")
    m = _boolean(m, "masks")
    pos = np.clip(r, 0, None)
    peak = pos.max(axis=(1, 2), keepdims=True) if len(pos) else pos
    pos = pos / np.where(peak > 0, peak, 1.0)              # scale-free: huge maps cannot overflow the sums
    total = pos.sum((1, 2))
    if per_region:
        inside, total = np.einsum("nhw,nrhw->nr", pos, m.astype(np.float64)), total[:, None]
        area = m.mean((2, 3))
    else:
        inside, area = (pos * m).sum((1, 2)), m.mean((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)
        if per_region or area_normalised:
            mu = np.where(area > 0, mu, np.nan)
        return mu / area if area_normalised else mu


def au_masks(dataset, index, au, region: str = "box") -> np.ndarray:
    """Masks (len(index), H, W) of AU `au` on the faces `index`: region="box" (seed 001's landmark boxes from the
    68 landmarks) or "truth" (the generator's true AU pixels)."""
    from ..faces.regions import au_box_mask

    index = np.asarray(index, dtype=int)
    shape = dataset.images.shape[1:3]
    if region == "box":
        l68 = dataset.landmarks68
        if l68 is None:
            raise ValueError(f"dataset {dataset.name!r} has no landmarks: AU boxes need the 68 landmarks of each face")
        return np.stack([au_box_mask(l68[i], au, shape) for i in index]) if len(index) else np.zeros((0, *shape), bool)
    if region == "truth":
        return np.stack([dataset.region(int(i), au) for i in index]) if len(index) else np.zeros((0, *shape), bool)
    raise ValueError(f"unknown region {region!r}: use 'box' (landmark boxes) or 'truth' (generator regions)")


def correct_positives(y_true, y_pred) -> list[np.ndarray]:
    """Per output column, the indices of faces where the AU is present and predicted present (true positives)."""
    y_true, y_pred = np.asarray(y_true) > 0.5, np.asarray(y_pred) > 0.5
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ValueError(f"y_true and y_pred must be (N, n_aus) of the same shape; got {y_true.shape}, {y_pred.shape}")
    return [np.flatnonzero(y_true[:, k] & y_pred[:, k]) for k in range(y_true.shape[1])]


def mu_records(model, inputs, dataset, aus, y_true, y_pred, methods, regions=("box", "truth"),
               max_per_au: int | None = None, batch_size: int = 64, keep_maps: bool = False, **options):
    """mu of every correctly predicted positive, per AU, LRP method and region.

    Returns (records, maps): records is a DataFrame (au, composite, index, mu_<region>...), one row per
    explained face; maps[(au, method)] = (index, maps) when keep_maps. The explanation of output column k is
    seeded at AU aus[k]'s logit; max_per_au keeps the first that many positives of each AU (deterministic)."""
    import pandas as pd

    from ..explain import explain

    if isinstance(methods, str):
        methods = [methods]
    regions = [regions] if isinstance(regions, str) else list(regions)
    rows, kept = [], {}
    for k, au in enumerate(aus):
        idx = correct_positives(y_true, y_pred)[k]
        if max_per_au is not None:
            idx = idx[:int(max_per_au)]
        if not len(idx):
            continue
        masks = {reg: au_masks(dataset, idx, au, reg) for reg in regions}
        for method in methods:
            maps = explain(model, inputs[idx], k, method=method, batch_size=batch_size, **options).cpu().numpy()
            mus = {reg: relevance_masses(maps, masks[reg]) for reg in regions}
            for j, i in enumerate(idx):
                rows.append(dict(au=int(au), composite=method, index=int(i),
                                 **{f"mu_{reg}": float(mus[reg][j]) for reg in regions},
                                 **{f"area_{reg}": float(masks[reg][j].mean()) for reg in regions}))
            if keep_maps:
                kept[(int(au), method)] = (idx, maps.astype(np.float32))
    cols = ["au", "composite", "index"] + [f"mu_{reg}" for reg in regions] + [f"area_{reg}" for reg in regions]
    return pd.DataFrame(rows, columns=cols), kept


def mu_summary(records, **labels):
    """Table-3 analog from mu_records: one row per (au, composite, region) with the mean mu, n (NaN-free) and, when
    recorded, the region's mean share of the image ("area": the mu of a map spread evenly, i.e. chance level)."""
    import pandas as pd

    out = []
    regions = [c[3:] for c in records.columns if c.startswith("mu_")]
    for (au, comp), g in records.groupby(["au", "composite"], sort=True):
        for reg in regions:
            v = g[f"mu_{reg}"].dropna()
            area = g.loc[v.index, f"area_{reg}"].mean() if f"area_{reg}" in g and len(v) else np.nan
            out.append(dict(au=int(au), composite=comp, mu=float(v.mean()) if len(v) else np.nan, n=int(len(v)),
                            region=reg, area=float(area), **labels))
    return pd.DataFrame(out, columns=["au", "composite", "mu", "n", "region", "area", *labels])


__all__ = ["relevance_mass", "relevance_rank_accuracy", "pointing_game", "relevance_masses", "au_masks",
           "correct_positives", "mu_records", "mu_summary"]
