"""Seed 001's verification pipeline (Rieger et al.) as the chapter runs it: presets, data, the paper's numbers,
the tables set beside them, the shortcut experiment and the claim check.

Train an AU detector (models/au_detector.py), explain it with LRP (explain/lrp.py), and measure how much of the
positive relevance falls inside each AU's landmark box (metrics/relevance.py). The paper's numbers below are
copied from its Tables 1-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..faces.aus import PAIN_AUS
from ..faces.template import PHOTOS
from .settings import Param, resolve

#: Torch threads in the chapter's kernel (the folds already train on one thread each, in the grid). With another
#: process busy on the second core, two threads made the LRP cell crawl (explain_heldout over 5 minutes in the kernel,
#: while the same step with three composites took 34 s on one thread in a script; 2026-11-30, load about 4).
TORCH_THREADS = 1

#: How far above its always-present floor (2p / (1 + p)) the book asks every AU's F1 to be before calling it learnt.
F1_MARGIN = 0.10

LRP_METHODS = ("lrp.epsilon_plus_flat", "lrp.epsilon_gamma_box", "lrp.epsilon_alpha2_beta1_flat", "lrp.epsilon_plus")

#: preset -> values of the parameters left at None; k_folds "loso" = leave one subject out
PRESETS = {
    "cpu": dict(n_faces=900, n_shifted=300, epochs=20, k_folds=3, widths=(16, 32, 64, 128), max_per_au=40,
                composites=LRP_METHODS, n_ranks=3, training="one_cycle"),
    # the paper: leave-one-subject-out, 25 epochs per fold with its SGD, every correctly detected positive explained
    "paper": dict(n_faces=6000, n_shifted=2000, epochs=25, k_folds="loso", widths=(16, 32, 64, 128), max_per_au=None,
                  composites=LRP_METHODS, n_ranks=7, training="paper"),
    "paper-smoke": dict(n_faces=120, n_shifted=24, epochs=1),     # LOSO, paper widths, every positive; tiny counts
}

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=("synthetic", "ckplus", "unbc")),
    "n_faces": Param("int", None, low=20),
    "n_shifted": Param("int", None, low=1),
    "epochs": Param("int", None, low=1),
    "k_folds": Param("int", None, low=2, choices=("loso",)),
    "widths": Param("ints", None, low=1),
    "training": Param("str", None, choices=("one_cycle", "paper")),
    "composites": Param("strs", None, choices=LRP_METHODS),
    "main_composite": Param("str", "lrp.epsilon_gamma_box", choices=LRP_METHODS),
    "max_per_au": Param("int", None, low=1, none=True),
    "shortcut_strength": Param("float", 0.9, low=0, high=1),
    "n_ranks": Param("int", None, low=1),
    "cross_dataset": Param("str", None, choices=("ckplus", "unbc"), none=True),
    "cross_data_dir": Param("path", None, none=True),
    "unseen_photo": Param("str", "grace_hopper", choices=tuple(PHOTOS)),
}

# --- the paper's numbers ---------------------------------------------------------------------------------
#: Table 1: F1 per AU, subject-wise CV on the Actor Study (ResNet) and the OpenFace cross-dataset baseline
PAPER_F1 = {4: 0.68, 6: 0.55, 7: 0.62, 9: 0.48, 10: 0.32, 25: 0.83, 26: 0.60, 27: 0.57}
OPENFACE_F1 = {4: 0.42, 6: 0.47, 7: 0.33, 9: 0.21, 10: 0.19, 25: 0.44, 26: 0.37}
#: Table 2: cross-domain F1 of the best fold's model on UNBC-McMaster (AU27 left out: 16 images)
PAPER_F1_CROSS = {4: 0.19, 6: 0.43, 7: 0.38, 9: 0.09, 10: 0.02, 25: 0.34, 26: 0.03}
#: Table 3: mean mu (and n) over correctly predicted positives, per dataset
PAPER_MU = {
    "Actor Study": {4: (0.50, 11249), 6: (0.42, 6887), 7: (0.43, 13098), 9: (0.36, 3363), 10: (0.20, 3143),
                    25: (0.47, 13497), 26: (0.49, 7537), 27: (0.49, 1214)},
    "CK+": {4: (0.554, 3753), 6: (0.475, 2174), 7: (0.52, 2222), 9: (0.736, 1191), 10: (0.516, 383),
            25: (0.35, 5358), 26: (0.326, 882), 27: (0.341, 1285)},
    "UNBC": {4: (0.50, 291), 6: (0.50, 1740), 7: (0.57, 1439), 9: (0.69, 213), 10: (0.44, 7), 25: (0.35, 738),
             26: (0.20, 33)},
}


def settings(preset: str = "cpu", **given):
    """Chapter 01's parameters: the given ones, the rest from the preset, every one checked."""
    cfg = resolve("01_au_lrp", PARAMETERS, PRESETS, preset, given)
    cfg["composites"], cfg["widths"] = tuple(cfg.composites), tuple(cfg.widths)
    return cfg


def cross_validate(source, detector_config, cfg, device: str = "cpu"):
    """Subject-wise cross-validation of the detector with the chapter's k_folds (a number, or "loso")."""
    from ..models.au_detector import cross_validate as run

    from .. import grid

    def on_grid(fn, folds, shared):
        return grid.run(fn, folds, shared=shared, key=lambda job: f"fold {job[0]}", scheduler=cfg.get("scheduler"),
                        progress=cfg.get("progress", False), desc="cross-validation folds")

    return run(source, detector_config, k=cfg["k_folds"], seed=detector_config.seed, device=device,
               map_folds=on_grid)


def load_data(dataset: str = "synthetic", data_dir=None, n_faces: int = 900, n_shifted: int = 300, seed: int = 0,
              shortcut: float = 0.0, cross_dataset: str | None = None, cross_data_dir=None, image_size: int = 112,
              unseen_photo: str | None = None):
    """(source, cross) datasets: synthetic source + shifted domain, or a real dataset (+ an optional real
    cross-domain one, e.g. UNBC). `cross` is None when there is none. unseen_photo: the shifted domain's subjects
    are blended from this template photo alone (the cross-domain detector is trained without it); None: from all."""
    from ..data import load_dataset

    if dataset == "synthetic":
        source = load_dataset("synthetic", n=int(n_faces), seed=int(seed), image_size=image_size,
                              shortcut=float(shortcut))
        photos = {} if unseen_photo is None else dict(templates=(unseen_photo,))
        cross = (load_dataset("synthetic", n=int(n_shifted), seed=int(seed) + 1, image_size=image_size,
                              domain="shifted", shortcut=float(shortcut), **photos) if cross_dataset is None else None)
    else:
        source = load_dataset(dataset, data_dir=data_dir, image_size=image_size, progress=False)
        cross = None
    if cross_dataset is not None:
        cross = load_dataset(cross_dataset, data_dir=cross_data_dir, image_size=image_size, progress=False)
    return source, cross


def unseen_photo_detector(job, config, photo: str, n_faces: int, seed: int, device: str = "cpu",
                          image_size: int = 112):
    """The detector of the cross-domain test: `config` trained on `n_faces` source-domain faces whose subjects are
    blended from every template photo except `photo`, so that the shifted set's photo is one it never saw."""
    from ..data import load_dataset
    from ..models.au_detector import inputs_from, targets_from, train_detector

    seen = tuple(p for p in PHOTOS if p != photo)
    faces = load_dataset("synthetic", n=int(n_faces), seed=int(seed) + 2, image_size=image_size, templates=seen)
    return train_detector(inputs_from(faces), targets_from(faces, config.aus), config, device=device).cpu()


def tests_unseen_photo(cfg) -> bool:
    """Whether the chapter's cross-domain set is generated (and so blended from cfg.unseen_photo alone)."""
    return cfg.dataset == "synthetic" and cfg.cross_dataset is None


def start_unseen_photo(cfg, det_cfg):
    """Start training the cross-domain test's detector (generated faces only; else None) as a grid task, beside the
    cross-validation's folds. It trains on about as many faces as one fold does (the folds split by subject), none
    of them blended from cfg.unseen_photo."""
    from .. import grid

    if not tests_unseen_photo(cfg):
        return None
    k = cfg["k_folds"]
    n_train = cfg.n_faces - (cfg.n_faces // k if k != "loso" else 1)
    shared = dict(config=det_cfg, photo=cfg.unseen_photo, n_faces=n_train, seed=cfg.seed, device=cfg.device)
    return grid.submit(unseen_photo_detector, f"without {cfg.unseen_photo}", shared=shared, key=str,
                       scheduler=cfg.get("scheduler"))


def prevalence(dataset, aus) -> pd.DataFrame:
    """How often each AU occurs (positives, share) in a dataset."""
    from ..models.au_detector import targets_from
    y = targets_from(dataset, aus).numpy()
    return pd.DataFrame(dict(au=list(aus), positives=np.nansum(y, 0).astype(int),
                             share=np.round(np.nanmean(y, 0), 3)))


def chance_f1(y_true) -> np.ndarray:
    """F1 of a detector that says 'present' for every face (2p / (1 + p)): the floor a real detector must beat."""
    p = np.nanmean(np.asarray(y_true, np.float64), 0)
    return 2 * p / (1 + p)


def f1_beside_paper(ours: pd.DataFrame, paper: dict, other: dict | None = None, other_name: str = "OpenFace") -> pd.DataFrame:
    """Our F1 per AU with the paper's column(s) beside it."""
    t = ours[["au", "f1", "support"]].copy()
    t.insert(1, "paper_resnet", [paper.get(a, np.nan) for a in t.au])
    if other is not None:
        t.insert(1, f"paper_{other_name.lower()}", [other.get(a, np.nan) for a in t.au])
    return t


def mu_beside_paper(summary: pd.DataFrame, composite: str, domain: str, paper_set: str) -> pd.DataFrame:
    """Table-3 analog for one composite and domain: mu (box), mu (truth), the box's share of the image (the mu of
    evenly spread relevance), mu as the ratio to that share (1: no better than a uniform map), n, with the paper's
    mu and n."""
    s = summary[(summary.composite == composite) & (summary.domain == domain) & summary.region.isin(["box", "truth"])]
    wide = s.pivot_table(index="au", columns="region", values="mu").add_prefix("mu_")
    box = s[s.region == "box"].set_index("au")
    t = wide.join(box["area"].rename("box_area")).join(box["n"].rename("n")).reset_index()
    t.insert(t.columns.get_loc("box_area") + 1, "mu_box / area", t["mu_box"] / t["box_area"])
    t["paper_mu"] = [PAPER_MU[paper_set].get(a, (np.nan, 0))[0] for a in t.au]
    t["paper_n"] = [PAPER_MU[paper_set].get(a, (np.nan, 0))[1] for a in t.au]
    return t


def explanation_masses(model, dataset, index, aus, methods, max_per_au=None, regions=("box", "truth"),
                       device: str = "cpu", extra_masks: dict | None = None):
    """LRP maps and mu for the correctly detected positives among faces `index` (see metrics.relevance)."""
    from ..metrics.relevance import mu_records, relevance_masses
    from ..models.au_detector import inputs_from, predict_logits, targets_from

    sub = dataset.subset(np.asarray(index))
    x = inputs_from(sub)
    y = targets_from(sub, aus).numpy()
    pred = (predict_logits(model, x, device) > 0).numpy()
    if sub.region_bits is None:
        regions = tuple(r for r in regions if r != "truth")
    model = model.to(device)
    records, maps = mu_records(model, x.to(device), sub, aus, np.nan_to_num(y), pred, methods, regions=regions,
                               max_per_au=max_per_au, keep_maps=True)
    if extra_masks:                                      # e.g. the share of relevance on the shortcut mark
        parts = []
        for (au, method), (idx, m) in maps.items():
            part = {"au": au, "composite": method, "index": idx}
            for name, mask in extra_masks.items():
                part[f"mu_{name}"] = relevance_masses(m, np.broadcast_to(mask, m.shape))
            parts.append(pd.DataFrame(part))
        records = records.merge(pd.concat(parts, ignore_index=True), on=["au", "composite", "index"], how="left")
    return sub, records, maps


def fold_of_best(cv) -> tuple[int, np.ndarray, np.ndarray]:
    """(fold, train_idx, test_idx) of the cross-validation's best model."""
    f = cv.best
    tr, te = cv.folds[f]
    return f, tr, te


def control_masses(model, dataset, index, aus, method, max_per_au=None, device: str = "cpu", seed: int = 0):
    """The random-weights control of mu: the detector's architecture with re-initialised weights, explained with
    `method` on the same faces and AUs as the trained detector (its correctly detected positives)."""
    from ..metrics.controls import random_weights
    from ..metrics.relevance import mu_records
    from ..models.au_detector import inputs_from, predict_logits, targets_from

    sub = dataset.subset(np.asarray(index))
    x = inputs_from(sub)
    y = targets_from(sub, aus).numpy()
    pred = (predict_logits(model, x, device) > 0).numpy()
    regions = ("box",) if sub.region_bits is None else ("box", "truth")
    control = random_weights(model, seed=seed).to(device)
    records, _ = mu_records(control, x.to(device), sub, aus, np.nan_to_num(y), pred, [method], regions=regions,
                            max_per_au=max_per_au)
    return records


def mu_controls(records, random_records, f1: dict, floor: dict) -> pd.DataFrame:
    """Per AU (only those whose F1 clears the always-present floor): mean mu in the box with its standard error,
    the box's share of the image (a uniform map's mu), mu / area, and the random-weights detector's mu on the same
    faces. One row per AU, plus "mean" over the images of all kept AUs. Records with the true AU regions
    (mu_truth, generated faces) add the same columns for them (mu_truth, ..., ratio_truth)."""
    from ..claims import se_mean
    from ..metrics.controls import area_ratio, aus_above_floor

    keep = aus_above_floor(f1, floor)
    r = records[records.au.isin(keep)]
    c = random_records[random_records.au.isin(keep)]
    regions = [("box", "")] + ([("truth", "_truth")] if "mu_truth" in r and "mu_truth" in c else [])
    rows = []
    for au, g in list(r.groupby("au")) + [("mean", r)]:
        gc = c if au == "mean" else c[c.au == au]
        row = dict(au=au, n=len(g))
        for region, tag in regions:
            mu, area = f"mu_{region}", f"area_{region}"
            both = g.merge(gc[["au", "index", mu]], on=["au", "index"], suffixes=("", "_random"))
            d = both[mu] - both[f"{mu}_random"]
            row.update({f"mu{tag}": g[mu].mean(), f"mu{tag}_se": se_mean(g[mu]), f"area{tag}": g[area].mean(),
                        f"ratio{tag}": area_ratio(g[mu].mean(), g[area].mean()), f"mu{tag}_random": gc[mu].mean(),
                        f"diff{tag}_random_se": se_mean(d), f"diff{tag}_area_se": se_mean(g[mu] - g[area])})
        rows.append(row)
    return pd.DataFrame(rows)


def truth_ratios(mu: pd.DataFrame, domain: str = "source") -> pd.DataFrame:
    """mu in each AU's true region divided by the region's share of the image (1: no better than relevance spread
    evenly), per AU (rows) and composite (columns), with a last row counting the AUs at 2x or more. Empty without
    true regions (real datasets)."""
    from ..viz.au_lrp import short

    t = mu[(mu.domain == domain) & (mu.region == "truth")]
    if t.empty:
        return pd.DataFrame()
    wide = t.assign(ratio=t.mu / t.area).pivot_table(index="au", columns="composite", values="ratio")
    wide.columns = [short(c) for c in wide.columns]
    wide.loc["AUs >= 2x"] = (wide >= 2).sum()
    return wide.round(2)


def claims(f1_cv: pd.DataFrame, f1_cross: pd.DataFrame | None, controls: pd.DataFrame, floor: dict,
           shortcut: dict | None = None, shortcut_records=None, clean_records=None) -> pd.DataFrame:
    """The claim-check table (claims.CLAIM columns): every verdict from claims.judge* against a named control.

    controls: mu_controls(...) (AUs above the F1 floor, with the uniform-map and random-weights controls);
    shortcut: shortcut_numbers(...); shortcut_records / clean_records: per-image mu of the cue model and the clean
    model on the same fold (for the noise of the shortcut rows)."""
    from ..claims import ClaimTable, judge, judge_paired, not_comparable, se_mean

    t = ClaimTable()
    f1 = f1_cv.set_index("au").f1
    fl = pd.Series({a: floor[a] for a in f1.index})
    t.add("A ResNet detects the pain AUs well (subject-wise CV F1, Table 1)",
          f"mean F1 {np.mean(list(PAPER_F1.values())):.2f} over 8 AUs (OpenFace 0.35)",
          f"mean F1 {f1.mean():.2f} over {len(f1)} AUs; above the floor for {(f1 > fl).sum()}/{len(f1)}, by "
          f"{F1_MARGIN:.2f} or more for {(f1 >= fl + F1_MARGIN).sum()}/{len(f1)}",
          f"always-present detector: mean F1 {fl.mean():.2f}",
          judge_paired(f1.to_numpy(), fl.to_numpy(), full=bool((f1 > fl).all()),
                       partly_why="not every AU clears the floor", why="over AUs; synthetic faces"))
    if f1_cross is not None and len(f1_cross):
        common = sorted(set(f1.index) & set(f1_cross.au))
        fc = f1_cross.set_index("au").f1.loc[common]
        t.add("F1 falls on another domain (cross-domain test, Table 2)",
              f"mean F1 {np.mean(list(PAPER_F1_CROSS.values())):.2f} on UNBC vs "
              f"{np.mean([PAPER_F1[a] for a in PAPER_F1_CROSS]):.2f} in-domain",
              f"mean F1 {fc.mean():.2f} on the shifted domain", f"the same detector in-domain: {f1.loc[common].mean():.2f}",
              judge_paired(fc.to_numpy(), f1.loc[common].to_numpy(), direction="lower", why="over AUs"))
    m = controls.set_index("au").loc["mean"] if len(controls) else None
    paper_mu = np.mean([v[0] for v in PAPER_MU["Actor Study"].values()])
    kept = [a for a in controls.au if a != "mean"]
    if m is None or not m.n:
        t.add("mu hardly exceeds 0.5 (Table 3)", f"mean mu {paper_mu:.2f} (Actor Study)", "no AU clears the F1 floor",
              "always-present detector (F1 floor)", not_comparable("mu means nothing for a detector at its F1 floor"))
    else:
        ours = (f"mu {m.mu:.2f} ± {m.mu_se:.2f} (SE, {int(m.n)} explained faces of {len(kept)} AUs above the F1 "
                f"floor) = {m.ratio:.1f}x the box's share of the image")
        ctrl = f"uniform map: mu = box area {m.area:.2f}; random-weights detector: mu {m.mu_random:.2f}"
        t.add("Less than half the positive relevance lies in the AU's box: the detector does not attend to the AU "
              "(mu hardly exceeds 0.5, Table 3)", f"mean mu {paper_mu:.2f} (Actor Study), 0.20-0.74 per AU and dataset",
              ours, ctrl,
              judge(m.mu, max(m.area, m.mu_random), noise=max(m.diff_area_se, m.diff_random_se), direction="lower",
                    why="mu below 0.5 alone is met by any map at this box size; read against the controls"),
              evidence="a low mu only says the detector looks elsewhere if it is no better than a map that knows "
                       "nothing (uniform) or a detector that learnt nothing (random weights)")
        t.add("(book) LRP relevance depends on what the detector learnt", "not tested in the paper",
              f"mu {m.mu:.2f} (trained) vs {m.mu_random:.2f} (random weights), same faces",
              "random-weights detector (chapter 10 checks the LRP rules against cascading randomisation: they react "
              "late)", judge(m.mu, m.mu_random, noise=m.diff_random_se, why="paired SE over the explained faces"))
        if "mu_truth" in controls:
            per_au = controls[controls.au != "mean"]
            t.add("(book) LRP relevance lies where the AU acts (the generator's true AU regions)",
                  "not measurable on real data (no pixel truth)",
                  f"mu {m.mu_truth:.2f} ± {m.mu_truth_se:.2f} (SE) in the true regions = {m.ratio_truth:.1f}x their "
                  f"share of the image; 2x or more for {int((per_au.ratio_truth >= 2).sum())}/{len(per_au)} AUs",
                  f"uniform map: mu = region area {m.area_truth:.2f}; random-weights detector: mu "
                  f"{m.mu_truth_random:.2f}",
                  judge(m.mu_truth, max(m.area_truth, m.mu_truth_random),
                        noise=max(m.diff_truth_area_se, m.diff_truth_random_se),
                        why="paired SE over the explained faces, against the stronger control"))
    if shortcut is not None and shortcut_records is not None and clean_records is not None:
        sc = shortcut
        mark = judge(sc["mark_shortcut"], sc["mark_clean"],
                     noise=np.hypot(se_mean(shortcut_records.mu_mark), se_mean(clean_records.mu_mark)),
                     why="SE over the explained faces of each model")
        t.add("High F1 does not show that a detector uses the right evidence (the paper's concern, tested with a "
              "planted cue)", "suspected from low mu (bias in the data or overfitting), not tested",
              f"cue on {sc['strength']:.0%} of faces: F1 {sc['f1_clean']:.2f} (clean) vs {sc['f1_shortcut']:.2f} (cue "
              f"model, cued faces), {sc['f1_no_mark']:.2f} with the cue removed; relevance on the cue "
              f"{sc['mark_clean']:.2f} -> {sc['mark_shortcut']:.2f}",
              "the clean model on the same fold", mark)
        t.add("mu in the AU boxes exposes a model that relies on evidence off the AU",
              "proposed as the verification step",
              f"mu (box) {sc['mu_clean']:.2f} (clean) -> {sc['mu_shortcut']:.2f} (cue model)",
              "the clean model on the same fold",
              judge(sc["mu_shortcut"], sc["mu_clean"], direction="lower",
                    noise=np.hypot(se_mean(shortcut_records.mu_box), se_mean(clean_records.mu_box)),
                    why="SE over the explained faces of each model"))
    return t.frame()


def shortcut_experiment(cfg, train_idx, test_idx, n_faces: int, seed: int, strength: float, method: str,
                        max_per_au=None, device: str = "cpu", image_size: int = 112) -> dict:
    """Train the detector on the same faces carrying the label-coded mark (probability `strength`), on the same
    fold; F1 on held-out subjects with and without the mark, and LRP mass in the AU boxes and on the mark's strip."""
    import torch

    from ..data import load_dataset
    from ..metrics.relevance import mu_summary
    from ..models.au_detector import cue_strip_mask, f1_table, inputs_from, predict_logits, targets_from, \
        train_detector

    marked = load_dataset("synthetic", n=int(n_faces), seed=int(seed), image_size=image_size, shortcut=float(strength))
    plain = load_dataset("synthetic", n=int(n_faces), seed=int(seed), image_size=image_size)
    xm, ym = inputs_from(marked), targets_from(marked, cfg.aus)
    model = train_detector(xm[torch.as_tensor(train_idx)], ym[torch.as_tensor(train_idx)], cfg, device=device)
    te = torch.as_tensor(test_idx)
    f1 = f1_table(ym[te].numpy(), (predict_logits(model, xm[te], device) > 0).numpy(), cfg.aus)
    f1_plain = f1_table(ym[te].numpy(), (predict_logits(model, inputs_from(plain)[te], device) > 0).numpy(), cfg.aus)
    strip = cue_strip_mask(marked.images.shape[1:])
    sub, records, maps = explanation_masses(model, marked, test_idx, cfg.aus, [method], max_per_au=max_per_au,
                                            device=device, extra_masks={"mark": strip})
    return dict(model=model, dataset=sub, records=records, maps=maps, f1=f1, f1_without_mark=f1_plain,
                summary=mu_summary(records, shortcut=float(strength), domain="source"), strip=strip,
                marked_share=float(marked.extra["shortcut"][test_idx].mean()))


def shortcut_table(clean_f1, clean_records, sc: dict, method: str, strength: float) -> pd.DataFrame:
    """Per AU: F1 and mean mu (box, truth, mark strip) of the clean and the shortcut model (same faces, fold)."""
    def per_au(records):
        r = records[records.composite == method]
        cols = [c for c in ("mu_box", "mu_truth", "mu_mark") if c in r.columns]
        return r.groupby("au")[cols].mean()

    c, s = per_au(clean_records), per_au(sc["records"])
    t = pd.DataFrame({"f1_clean": clean_f1.set_index("au").f1, "f1_shortcut": sc["f1"].set_index("au").f1,
                      "f1_shortcut_no_mark": sc["f1_without_mark"].set_index("au").f1})
    for col in c.columns:
        t[f"{col}_clean"] = c[col]
        t[f"{col}_shortcut"] = s[col]
    return t.reset_index().rename(columns={"index": "au"})


def shortcut_numbers(table: pd.DataFrame, strength: float) -> dict:
    """Means over AUs of the shortcut table's columns, for the claim check."""
    m = table.mean(numeric_only=True)
    return dict(strength=float(strength), f1_clean=m.f1_clean, f1_shortcut=m.f1_shortcut,
                f1_no_mark=m.f1_shortcut_no_mark, mu_clean=m.mu_box_clean, mu_shortcut=m.mu_box_shortcut,
                mark_clean=m.mu_mark_clean, mark_shortcut=m.mu_mark_shortcut)


def low_high_panels(sets: dict, au: int, method: str, k: int = 2, region: str = "box") -> list:
    """Fig. 2 analog: per named (dataset, records, maps) the k lowest- and k highest-mu heatmaps of AU `au`."""
    panels = []
    for name, (ds, records, maps) in sets.items():
        if (au, method) not in maps:
            continue
        idx, m = maps[(au, method)]
        r = records[(records.au == au) & (records.composite == method)].set_index("index").loc[idx]
        mu = r[f"mu_{region}"].to_numpy()
        order = [j for j in np.argsort(mu, kind="stable") if np.isfinite(mu[j])]
        pick = order[:k] + order[-k:] if len(order) > 2 * k else order
        l68 = ds.landmarks68
        panels.append((name, [(ds.images[idx[j]], m[j], l68[idx[j]], au, f"mu={mu[j]:.2f}") for j in pick]))
    return panels


# --- the chapter's steps, as its notebook runs them -----------------------------------------------------------

@dataclass
class Fit:
    """The cross-validated detector: folds, F1, the always-present floor, the best fold's model and split."""

    cv: object
    config: object
    f1_cv: pd.DataFrame
    chance: dict
    best: int
    train_idx: np.ndarray
    test_idx: np.ndarray
    model: object


def data(cfg):
    """(source, cross, detector config): the chapter's faces (and cross-domain set, or None) and the detector's
    config (the AUs the source set codes, the preset's widths and epochs)."""
    source, cross = load_data(cfg.dataset, cfg.data_dir, cfg.n_faces, cfg.n_shifted, cfg.seed,
                              cross_dataset=cfg.cross_dataset, cross_data_dir=cfg.cross_data_dir,
                              unseen_photo=cfg.unseen_photo)
    return source, cross, detector_config(cfg, source)


def detector_config(cfg, source):
    """The detector's config for the chapter's settings: the AUs `source` codes, the widths, epochs, seed and
    training recipe (models.au_detector.RECIPES) of `cfg`."""
    from ..models.au_detector import DetectorConfig, detector_aus

    return DetectorConfig.recipe(cfg["training"], aus=detector_aus(source), widths=cfg["widths"],
                                 epochs=cfg["epochs"], seed=cfg["seed"])


def describe(cfg, source, cross, det_cfg) -> str:
    text = (f"{cfg.dataset}: {len(source)} faces of {len(set(source.subject))} subjects; detector outputs AUs "
            f"{list(det_cfg.aus)}")
    if cross is not None:
        text += f"\ncross-domain set: {len(cross)} faces of {len(set(cross.subject))} subjects"
        if tests_unseen_photo(cfg):
            text += f", blended from the photo {cfg.unseen_photo} alone (the tested detector never sees it)"
    return text


def fit_detector(source, det_cfg, cfg) -> Fit:
    """Subject-wise cross-validation with the chapter's k_folds; the best fold's model is explained further on."""
    from ..models.au_detector import targets_from

    cv = cross_validate(source, det_cfg, cfg, device=cfg.device)
    chance = dict(zip(det_cfg.aus, chance_f1(targets_from(source, det_cfg.aus).numpy())))
    best, train_idx, test_idx = fold_of_best(cv)
    return Fit(cv, det_cfg, cv.mean_f1(), chance, best, train_idx, test_idx, cv.models[best])


def table1(fit: Fit) -> pd.DataFrame:
    """Table 1 analog: F1 per AU beside the paper's ResNet and OpenFace, with the always-present floor."""
    t = f1_beside_paper(fit.f1_cv, PAPER_F1, OPENFACE_F1)
    t["always_present"] = [fit.chance[a] for a in t.au]
    return t.round(3)


def table1_note(fit: Fit) -> str:
    per_fold = fit.cv.per_fold.groupby("fold").f1.mean().round(3).tolist()
    return (f"mean F1 {fit.f1_cv.f1.mean():.3f} (paper ResNet {np.mean(list(PAPER_F1.values())):.3f}); "
            f"best fold {fit.best} (mean F1 per fold: {per_fold})")


def cross_model(fit: Fit, started=None):
    """The detector the cross-domain test uses: start_unseen_photo's (trained without the shifted set's photo), or
    the best fold's model when there is none (a real cross-domain dataset)."""
    return fit.model if started is None else started.result().to(next(fit.model.parameters()).device).eval()


def cross_domain(fit: Fit, cross, cfg, model=None):
    """(F1 per AU on the cross-domain set, Table 2 analog), or (None, None) without one. model: the detector
    tested (cross_model's); the table adds the best fold's model on the same faces when that is another one."""
    from ..models.au_detector import detector_aus, f1_table, inputs_from, predict_logits, targets_from

    if cross is None:
        return None, None
    model = fit.model if model is None else model
    aus = fit.config.aus
    cross_aus = tuple(a for a in aus if a in detector_aus(cross, aus))
    x, y = inputs_from(cross), targets_from(cross, aus).numpy()
    f1_cross = f1_table(y, (predict_logits(model, x, cfg.device) > 0).numpy(), aus).query("au in @cross_aus")
    table2 = f1_beside_paper(f1_cross, PAPER_F1_CROSS)
    table2.insert(2, "ours_in_domain", [fit.f1_cv.set_index("au").f1[a] for a in table2.au])
    if model is not fit.model:     # the same faces, read by a detector whose training saw their photo
        seen = f1_table(y, (predict_logits(fit.model, x, cfg.device) > 0).numpy(), aus).set_index("au").f1
        table2.insert(3, "best_fold_model", [seen[a] for a in table2.au])
    return f1_cross, table2.round(3)


def f1_figure(fit: Fit, f1_cross=None):
    """F1 per pain AU: ours (CV, cross-domain) beside the paper's."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    bars = pd.DataFrame({"ours, CV": fit.f1_cv.set_index("au").f1, "paper, CV": pd.Series(PAPER_F1)})
    if f1_cross is not None:
        bars["ours, cross-domain"] = f1_cross.set_index("au").f1
        bars["paper, cross-domain (UNBC)"] = pd.Series(PAPER_F1_CROSS)
    bars.loc[list(fit.config.aus)].plot.bar(ax=ax, width=0.8)
    ax.set(xlabel="AU", ylabel="F1", ylim=(0, 1), title="F1 per pain AU")
    ax.legend(fontsize=7, ncol=2)
    return fig


@dataclass
class Explained:
    """LRP maps and mu of the best fold's held-out faces, per composite (main: the one used further on)."""

    faces: object
    records: pd.DataFrame
    maps: dict
    methods: tuple
    main: str
    picks: dict


def explain_heldout(fit: Fit, source, cfg) -> Explained:
    """Every composite on the held-out correctly detected positives; mu in the AU box, the true region and the strip
    where the shortcut mark goes; picks: per AU the face of median mu (for the figure)."""
    from ..models.au_detector import cue_strip_mask

    methods = cfg.composites
    main = main_composite(cfg)
    strip = cue_strip_mask(source.images.shape[1:])
    faces, records, maps = explanation_masses(fit.model, source, fit.test_idx, fit.config.aus, methods,
                                              max_per_au=cfg.max_per_au, device=cfg.device,
                                              extra_masks={"mark": strip})
    picks = {}
    for au, g in records[records.composite == main].groupby("au"):
        g = g.dropna(subset=["mu_box"]).sort_values(["mu_box", "index"])
        picks[au] = int(g["index"].iloc[len(g) // 2])
    return Explained(faces, records, maps, methods, main, picks)


def mu_all(fit: Fit, held: Explained, cross, cfg, model=None) -> pd.DataFrame:
    """mu per AU, composite and region on the source domain (and on the cross-domain set with the main composite,
    explaining `model`: cross_model's, by default the best fold's)."""
    from ..metrics.relevance import mu_summary

    parts = [mu_summary(held.records, shortcut=0.0, domain="source")]
    if cross is not None:
        _, cross_records, _ = explanation_masses(fit.model if model is None else model, cross, np.arange(len(cross)),
                                                 fit.config.aus, [held.main], max_per_au=cfg.max_per_au,
                                                 device=cfg.device)
        parts.append(mu_summary(cross_records, shortcut=0.0, domain="cross"))
    return pd.concat(parts, ignore_index=True)


def mu_tables(mu: pd.DataFrame, main: str) -> dict[str, pd.DataFrame]:
    """Table 3 analog (main composite, source domain), mu per composite, and the cross-domain table if any."""
    from ..viz.au_lrp import short

    out = {f"{short(main)}, held-out faces of the source domain": mu_beside_paper(mu, main, "source", "Actor Study")}
    wide = mu[(mu.domain == "source") & mu.region.isin(["box", "truth"])].pivot_table(
        index="au", columns=["region", "composite"], values="mu")
    wide.columns = [f"{r}:{short(c)}" for r, c in wide.columns]
    out["mu per composite"] = wide
    if (mu.domain == "cross").any():
        out["cross domain"] = mu_beside_paper(mu, main, "cross", "UNBC")
    return {k: v.round(3) for k, v in out.items()}


def mu_figure(mu: pd.DataFrame, aus):
    """mu in the AU box per AU and composite, with the paper's Actor Study values."""
    from ..viz.au_lrp import mu_chart

    # the red ticks: each box's share of the image, the mu of evenly spread relevance (chance level)
    return mu_chart(mu, aus, paper=PAPER_MU["Actor Study"], paper_label="paper (Actor Study)").figure


def main_composite(cfg) -> str:
    """The composite of Table 3, the controls and the shortcut experiment: main_composite if among the composites."""
    return cfg.main_composite if cfg.main_composite in cfg.composites else cfg.composites[0]


def _shortcut_task(job, **kwargs) -> dict:
    """shortcut_experiment(**kwargs) as a grid task (job names it)."""
    return shortcut_experiment(**kwargs)


def start_shortcut(cfg, fit: Fit):
    """Start the planted-cue experiment on the best fold (generated faces only; else None) as a grid task: on a
    Dask cluster a worker trains the cue model while the notebook explains the clean one; without one it runs when
    shortcut_run asks for it. Same numbers either way."""
    from .. import grid

    if cfg.dataset != "synthetic":
        return None
    kwargs = dict(cfg=fit.config, train_idx=fit.train_idx, test_idx=fit.test_idx, n_faces=cfg.n_faces,
                  seed=cfg.seed, strength=cfg.shortcut_strength, method=main_composite(cfg),
                  max_per_au=cfg.max_per_au, device=cfg.device)
    return grid.submit(_shortcut_task, f"shortcut fold {fit.best}", shared=kwargs, key=str,
                       scheduler=cfg.get("scheduler"))


def shortcut_run(cfg, fit: Fit, held: Explained, started=None):
    """The planted-cue experiment on the best fold (generated faces only): dict(run, table, numbers) or None.
    started: start_shortcut(cfg, fit)'s task, if the notebook started it earlier (else it runs now)."""
    if cfg.dataset != "synthetic":
        return None
    sc = (started or start_shortcut(cfg, fit)).result()
    table = shortcut_table(fit.cv.per_fold[fit.cv.per_fold.fold == fit.best], held.records, sc, held.main,
                           cfg.shortcut_strength)
    return dict(run=sc, table=table, numbers=shortcut_numbers(table, cfg.shortcut_strength))


def shortcut_note(sc, fit: Fit, held: Explained) -> str:
    from ..viz.au_lrp import short

    if sc is None:
        return "the shortcut experiment needs generated faces (dataset='synthetic')"
    return (f"{short(held.main)}; fold {fit.best}; {sc['run']['marked_share']:.0%} of the held-out faces carry the "
            f"mark; means over AUs: {({k: round(float(v), 3) for k, v in sc['numbers'].items()})}")


def shortcut_view(sc):
    """The shortcut table (per AU: F1 and mu of the clean and the cue model), or None without the experiment."""
    return None if sc is None else sc["table"].round(3)


def low_high_figure(sc, held: Explained, cfg):
    """Fig. 2 analog: the lowest- and highest-mu heatmaps of one AU, clean and shortcut model (None without)."""
    import matplotlib.pyplot as plt

    from ..viz.au_lrp import low_high_figure as draw, short

    if sc is None or not len(sc["run"]["records"]):
        return None
    run = sc["run"]
    counts = run["records"].groupby("au").size()
    fig_au = 4 if counts.get(4, 0) >= 4 else int(counts.idxmax())
    panels = low_high_panels({"clean": (held.faces, held.records, held.maps),
                              f"shortcut {cfg.shortcut_strength:.0%}": (run["dataset"], run["records"], run["maps"])},
                             fig_au, held.main)
    fig = draw(panels)
    plt.suptitle(f"AU{fig_au}: lowest and highest mu ({short(held.main)})", fontsize=9, y=1.02)
    return fig


def write_tables(cfg, fit: Fit, f1_cross, mu: pd.DataFrame, held: Explained, sc, table2=None) -> pd.DataFrame:
    """f1_per_au.csv, mu_per_au.csv, mu_controls.csv (mu of the AUs above the F1 floor beside a uniform map and a
    random-weights detector on the same faces), shortcut_per_au.csv and claims.csv in results_dir; returns the
    claims. table2: cross_domain's table; its best_fold_model column becomes the split cross_domain_best_fold."""
    from ..cache import atomic_to_csv
    from ..claims import write_claims

    best = fit.cv.per_fold[fit.cv.per_fold.fold == fit.best]
    f1_rows = [fit.f1_cv.assign(split="cv_mean", floor=[fit.chance[a] for a in fit.f1_cv.au])]
    if f1_cross is not None:
        f1_rows.append(f1_cross.assign(split="cross_domain"))
        if table2 is not None and "best_fold_model" in table2:
            f1_rows.append(table2[["au", "best_fold_model", "support"]].rename(columns={"best_fold_model": "f1"})
                           .assign(split="cross_domain_best_fold"))
    if sc is not None:
        s = cfg.shortcut_strength
        f1_rows += [best[["au", "f1", "support"]].assign(split="clean_best_fold"),
                    sc["run"]["f1"].assign(split=f"shortcut_{s}"),
                    sc["run"]["f1_without_mark"].assign(split=f"shortcut_{s}_without_mark")]
    f1_out = pd.concat(f1_rows, ignore_index=True)[["au", "f1", "support", "split", "floor"]]
    mu_out = pd.concat([mu] + ([sc["run"]["summary"]] if sc is not None else []), ignore_index=True)
    mu_out = mu_out[mu_out.region.isin(["box", "truth"])][["au", "composite", "mu", "n", "region", "shortcut",
                                                           "domain", "area"]]
    main_records = held.records[held.records.composite == held.main]
    random_records = control_masses(fit.model, held.faces, np.arange(len(held.faces)), fit.config.aus, held.main,
                                    max_per_au=cfg.max_per_au, device=cfg.device, seed=cfg.seed)
    f1 = dict(zip(fit.f1_cv.au, fit.f1_cv.f1))
    controls = mu_controls(main_records, random_records, f1, fit.chance)
    table = claims(fit.f1_cv, f1_cross, controls, fit.chance, shortcut=None if sc is None else sc["numbers"],
                   shortcut_records=None if sc is None else sc["run"]["records"], clean_records=main_records)
    tables = {"f1_per_au.csv": f1_out, "mu_per_au.csv": mu_out, "mu_controls.csv": controls}
    if sc is not None:
        tables["shortcut_per_au.csv"] = sc["table"]
    for name, df in tables.items():
        atomic_to_csv(df.round(4), cfg.out / name)
    write_claims(table, cfg.out)
    return table


def prose_numbers(cfg) -> dict:
    """The run-dependent numbers the chapter's text quotes (from this run's f1_per_au.csv, mu_per_au.csv and
    mu_controls.csv), by name (glued into the Markdown with myst-nb): how many AUs clear their F1 floor by F1_MARGIN
    and the closest one; how many AUs get twice the even share of relevance in their true regions, with the main
    composite and across composites; mu in the box over the AUs above the F1 floor, the box's share of the image,
    their ratio, and the random-weights detector's mu on the same faces; mean F1 in-domain and on the cross-domain
    set (of the tested detector and of the best fold's model), and the planted-cue experiment's mean F1 and relevance
    share on the mark (shortcut_per_au.csv), as text ("n/a" without that set, column or experiment)."""
    from ..viz.au_lrp import short

    c = pd.read_csv(cfg.out / "mu_controls.csv")
    every = pd.read_csv(cfg.out / "f1_per_au.csv")
    f1 = every[every.split == "cv_mean"]
    mean_f1 = lambda split: (f"{every[every.split == split].f1.mean():.2f}"  # noqa: E731
                             if (every.split == split).any() else "n/a")
    out = dict(f1_in_domain=mean_f1("cv_mean"), f1_cross=mean_f1("cross_domain"),
               f1_cross_best_fold=mean_f1("cross_domain_best_fold"))
    cue = cfg.out / "shortcut_per_au.csv"
    cue = pd.read_csv(cue).mean(numeric_only=True) if cue.exists() else {}
    for name, column in (("cue_f1_clean", "f1_clean"), ("cue_f1_marked", "f1_shortcut"),
                         ("cue_f1_no_mark", "f1_shortcut_no_mark"), ("cue_mark_clean", "mu_mark_clean"),
                         ("cue_mark_marked", "mu_mark_shortcut")):
        out[name] = f"{cue[column]:.2f}" if column in cue else "n/a"
    out.update(n_aus=len(f1), f1_margin=F1_MARGIN, main_short=short(cfg.main_composite), n_truth_2x=0,
               n_truth_2x_best=0, truth_2x_best="none (no true regions)", n_truth_2x_worst=0,
               truth_2x_worst="none (no true regions)")
    if "floor" in f1:
        margin = f1.f1 - f1.floor
        out.update(n_f1_margin=int((margin >= F1_MARGIN - 1e-9).sum()), f1_margin_min=float(margin.min()),
                   f1_margin_min_au=f"AU{int(f1.au.iloc[int(np.argmin(margin.to_numpy()))])}")
    mu = pd.read_csv(cfg.out / "mu_per_au.csv")
    ratios = truth_ratios(mu[mu.shortcut == 0])
    if len(ratios):
        counts = ratios.loc["AUs >= 2x"]
        out.update(n_truth_2x=int(counts.get(short(cfg.main_composite), 0)),
                   n_truth_2x_best=int(counts.max()), truth_2x_best=str(counts.idxmax()),
                   n_truth_2x_worst=int(counts.min()), truth_2x_worst=str(counts.idxmin()))
    m = c[c.au.astype(str) == "mean"]
    if m.empty:
        return dict(out, n_aus_kept=0)
    m = m.iloc[0]
    return dict(out, n_aus_kept=int((c.au.astype(str) != "mean").sum()), mu_kept=float(m.mu),
                mu_area=float(m.area), mu_ratio=float(m.ratio), mu_random=float(m.mu_random))


__all__ = ["Explained", "Fit", "LRP_METHODS", "PARAMETERS", "PRESETS", "cross_domain", "cross_validate", "data",
           "detector_config",
           "describe", "explain_heldout", "f1_figure", "fit_detector", "low_high_figure", "mu_all", "mu_figure",
           "mu_tables", "shortcut_note", "shortcut_run", "shortcut_view", "table1", "table1_note", "write_tables", "PAPER_F1", "OPENFACE_F1", "PAPER_F1_CROSS", "PAPER_MU", "settings",
           "load_data", "prevalence", "chance_f1", "f1_beside_paper", "mu_beside_paper", "explanation_masses",
           "fold_of_best", "prose_numbers", "control_masses", "mu_controls", "claims", "shortcut_experiment", "shortcut_table", "shortcut_numbers",
           "low_high_panels", "truth_ratios", "F1_MARGIN", "cross_model", "start_unseen_photo",
           "tests_unseen_photo", "unseen_photo_detector"]
