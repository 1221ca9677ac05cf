"""Chapter 04 (Belharbi et al. 2024): AU-guided FER. A small ResNet emotion classifier whose layer attention is
aligned with AU maps (models/fer.py), CAM-COS and ATT-COS of the CAM family with and without the alignment, the
lambda ablation, training-seed repeats and the claim check.

The data and the classifier's training are shared with chapters 10-12 (studies/shared.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..explain import explain
from ..metrics.maps import class_average, map_cosine
from ..models.fer import attention, shrink_maps
from ..models.resnet import SmallResNet
from ..train import predict
from .settings import Param, resolve
from .shared import FERData, evaluate_fer, load_fer_data, train_fer

#: CAM methods the chapter scores (ScoreCAM, 128 forward passes per map, only with the paper preset).
_CAMS = ["cam", "gradcam", "gradcam++", "layercam", "xgradcam", "hirescam", "eigencam"]
#: Torch threads in the chapter's kernel: one, as its grid tasks (the lambda sweep and the seed repeats) already use.
#: In the default build beside one other busy process, a classifier took about 500 s to train on 2 threads in the
#: kernel and about 97 s on 1 thread in a grid task (OpenMP's threads waiting on each other).
TORCH_THREADS = 1

#: Chapter 04's knobs per preset: "cpu" takes minutes on 2 cores; "paper" restores the paper's scale (224 px,
#: more data, longer training, the full lambda ablation). n_faces=None: every face of a real set.
PRESETS = {
    "cpu": dict(n_faces=3000, image_size=112, epochs=8, lam=4.0, lambdas=[0, 4, 10], cam_methods=_CAMS,
                n_seeds=3),
    "paper": dict(n_faces=6000, image_size=224, epochs=60, lam=4.0, lambdas=[0, 1, 2, 3, 4, 5, 6, 8, 10],
                  cam_methods=_CAMS + ["scorecam"], n_seeds=5),
    "paper-smoke": dict(n_faces=70, epochs=1),       # 224 px, all nine lambdas, 5 seeds, ScoreCAM; tiny counts
}


#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=("synthetic", "rafdb", "affectnet")),
    "n_faces": Param("int", None, low=20, none=True),
    "test_fraction": Param("float", 0.3, low=0, high=0.95, low_open=True),
    "image_size": Param("int", None, low=32),
    "epochs": Param("int", None, low=1),
    "lam": Param("float", None, low=0),
    "lambdas": Param("floats", None, low=0),
    "layer": Param("str", "layer4", choices=("stem", "layer1", "layer2", "layer3", "layer4")),
    "codebook": Param("str", "seed004", choices=("seed004", "seed004_code", "emfacs")),
    "cam_methods": Param("strs", None, choices=tuple(_CAMS) + ("scorecam",)),
    "targets": Param("str", "label", choices=("label", "predicted")),
    "faces_per_emotion": Param("int", 2, low=0),
    "n_seeds": Param("int", None, low=1),
}


def settings(preset: str = "cpu", **given):
    """Chapter 04's parameters: the given ones, the rest from the preset, every one checked. The paper preset reads
    every face of a real dataset; lambdas always include 0 and lam."""
    cfg = resolve("04_au_guided_fer", PARAMETERS, PRESETS, preset, given)
    if cfg.preset == "paper" and cfg.dataset != "synthetic" and given.get("n_faces") is None:
        cfg["n_faces"] = None
    cfg["lambdas"] = sorted({0.0, cfg.lam, *cfg.lambdas})
    return cfg

# --- the chapter's experiments: CAM-COS per method, lambda sweep, claims ------------------------------------

#: Seed 004's Table 1 (test sets), the rows for methods this book runs: accuracy (%), CAM-COS, ATT-COS, w/o -> w/ AU.
PAPER_TABLE1 = {
    ("RAF-DB", "cam"): dict(accuracy=(88.20, 88.95), cam_cos=(0.55, 0.70), att_cos=(0.57, 0.85)),
    ("RAF-DB", "gradcam"): dict(accuracy=(88.39, 88.85), cam_cos=(0.55, 0.74), att_cos=(0.63, 0.85)),
    ("RAF-DB", "gradcam++"): dict(accuracy=(87.84, 89.14), cam_cos=(0.60, 0.82), att_cos=(0.52, 0.87)),
    ("RAF-DB", "layercam"): dict(accuracy=(87.90, 88.88), cam_cos=(0.60, 0.84), att_cos=(0.52, 0.86)),
    ("AffectNet", "cam"): dict(accuracy=(60.88, 62.37), cam_cos=(0.56, 0.69), att_cos=(0.64, 0.82)),
    ("AffectNet", "gradcam"): dict(accuracy=(60.77, 62.08), cam_cos=(0.53, 0.75), att_cos=(0.65, 0.82)),
    ("AffectNet", "gradcam++"): dict(accuracy=(60.22, 62.45), cam_cos=(0.66, 0.83), att_cos=(0.65, 0.82)),
    ("AffectNet", "layercam"): dict(accuracy=(60.77, 62.45), cam_cos=(0.66, 0.83), att_cos=(0.65, 0.82)),
}


def paper_table(dataset: str = "RAF-DB"):
    """Seed 004's Table 1 rows for CAM, GradCAM, GradCAM++ and LayerCAM on one dataset, long format."""
    rows = []
    for (ds, method), vals in PAPER_TABLE1.items():
        if ds != dataset:
            continue
        for k, with_au in ((0, False), (1, True)):
            rows.append(dict(method=method, with_au=with_au, **{f"paper_{m}": v[k] for m, v in vals.items()}))
    if not rows:
        raise ValueError(f"no paper numbers for {dataset!r}: use 'RAF-DB' or 'AffectNet'")
    return pd.DataFrame(rows)


def positive_unit_max(maps) -> np.ndarray:
    """Maps made non-negative and scaled to max 1 per image (for averaging and display; all-zero maps stay zero)."""
    m = np.maximum(np.asarray(maps, np.float32), 0)
    top = m.reshape(len(m), -1).max(1)
    return m / np.where(top > 0, top, 1)[:, None, None]


def _targets(model: SmallResNet, data: FERData, targets: str) -> torch.Tensor:
    if targets == "label":
        return data.y_test
    if targets == "predicted":
        return predict(model, data.x_test).argmax(1)
    raise ValueError(f"targets must be 'label' or 'predicted'; got {targets!r}")


def saliency(model: SmallResNet, data: FERData, method: str, layer="layer4", targets: str = "label",
             batch_size: int = 64) -> np.ndarray:
    """Maps (N, H, W) of `method` on the test faces, for the true class (targets="label") or the predicted one."""
    return explain(model, data.x_test, _targets(model, data, targets), method=method, batch_size=batch_size,
                   layer=layer).numpy()


def saliencies(model: SmallResNet, data: FERData, methods, layer="layer4", targets: str = "label",
               batch_size: int = 64) -> dict[str, np.ndarray]:
    """{method: saliency(model, data, method, ...)} for CAM methods, grad-cam's gradient methods sharing one forward
    and backward pass per batch (explain.cam.explain_cams)."""
    from ..explain.cam import explain_cams

    maps = explain_cams(model, data.x_test, _targets(model, data, targets), methods, layer=layer,
                        batch_size=batch_size)
    return {m: v.numpy() for m, v in maps.items()}


def map_scores(maps: np.ndarray, data: FERData) -> tuple[float, dict[str, float], np.ndarray]:
    """CAM-COS (or ATT-COS) of test maps: (per class then over classes, per class, per face with NaN for neutral)."""
    with_map = (data.maps_test.flatten(1).amax(1) > 0).numpy()
    cos = np.full(len(maps), np.nan)
    cos[with_map] = map_cosine(maps[with_map], data.maps_test[with_map].numpy(), zero_saliency="zero")
    overall, per = class_average(cos, data.labels_test, classes=[c for c in data.classes if c != "neutral"])
    return overall, per, cos


def class_mean_maps(maps: np.ndarray, data: FERData) -> dict[str, np.ndarray]:
    """Per-class average of the test maps (each made non-negative and max-1 first), neutral included."""
    m = positive_unit_max(maps)
    labels = data.labels_test
    return {c: m[labels == c].mean(0) for c in data.classes if (labels == c).any()}


def compare_methods(models: dict, data: FERData, methods, layer="layer4", keep_faces=None, targets: str = "label",
                    truth=None):
    """Table 1 analog: for each model (key with_au: bool) and method, accuracy, CAM-COS and ATT-COS.

    Returns (table, per_class, views): table rows (method, with_au, accuracy, cam_cos, att_cos[, truth_cos]);
    per_class rows (method, with_au, emotion, cos); views[(method, with_au)] = dict(mean=class mean maps, faces=maps
    of the test faces in keep_faces, cos=per-face CAM-COS[, truth=per-face cosine to the face's own AU map]).
    truth: each test face's own AU map (truth_maps), the per-image measure no template can match.
    "attention" may be among the methods (its CAM-COS is the ATT-COS)."""
    from ..metrics.controls import cosine_per_face

    keep_faces = np.asarray([] if keep_faces is None else keep_faces, dtype=int)
    rows, per_rows, views = [], [], {}
    for with_au, model in models.items():
        base = evaluate_fer(model, data, layer)
        every = saliencies(model, data, methods, layer, targets)
        for method in methods:
            maps = every.pop(method)
            overall, per, cos = map_scores(maps, data)
            row = dict(method=method, with_au=bool(with_au), accuracy=100 * base["accuracy"], cam_cos=overall,
                       att_cos=base["att_cos"])
            views[(method, bool(with_au))] = dict(mean=class_mean_maps(maps, data),
                                                  faces=positive_unit_max(maps[keep_faces]), cos=cos)
            if truth is not None:
                row["truth_cos"], _, views[(method, bool(with_au))]["truth"] = cosine_per_face(
                    maps, truth, data.labels_test)
            rows.append(row)
            per_rows += [dict(method=method, with_au=bool(with_au), emotion=c, cos=v) for c, v in per.items()]
    return pd.DataFrame(rows), pd.DataFrame(per_rows), views


def truth_maps(dataset="synthetic", data_dir=None, n_faces: int = 600, seed: int = 0, image_size: int = 112,
               test_fraction: float = 0.25):
    """Each test face's own AU map (the AUs the generator activated on it, drawn at its landmarks), in the order of
    load_fer_data(...)'s test faces; None for a real dataset (no per-face AU truth)."""
    from ..metrics.controls import truth_au_maps
    from .shared import fer_test_faces

    if str(dataset).lower() != "synthetic":
        return None
    test = fer_test_faces(dataset, data_dir, n_faces=n_faces, seed=seed, image_size=image_size,
                          test_fraction=test_fraction)
    return truth_au_maps(test.landmarks, test.au_numbers, test.au_intensity, test.images.shape[1:3])


def template_controls(data: FERData, truth=None):
    """The template rows of cam_cos.csv and Table 1 (controls.template_table): `fixed_template` (the training-mean AU
    map) and `class_template` (the training mean of the face's class), scored like every map. Returns (rows,
    per_face) with rows shaped like compare_methods' table (accuracy NaN, with_au NaN)."""
    from ..metrics.controls import template_table

    labels_train = np.asarray(data.classes, dtype=object)[data.y_train.numpy()]
    table, per_face = template_table(data.maps_train.numpy(), labels_train, data.maps_test.numpy(), data.labels_test,
                                     truth)
    table.insert(1, "with_au", None)                  # no model: neither without nor with alignment
    table.insert(2, "accuracy", np.nan)
    if truth is None:
        table = table.drop(columns="truth_cos")
    return table, per_face


def per_face_scores(views: dict, template_faces: dict) -> dict:
    """The per-face cosines the claim check pairs over test faces: {(method, with_au): CAM-COS,
    ("truth", method, with_au): cosine to the face's own AU map} from compare_methods' views, plus the templates'."""
    out = dict(template_faces)
    for (method, with_au), v in views.items():
        out[(method, with_au)] = v["cos"]
        if "truth" in v:
            out[("truth", method, with_au)] = v["truth"]
    return out


def attention_ceiling(model: SmallResNet, data: FERData, layer="layer4") -> dict:
    """What ATT-COS a tap of this size can reach at best, and what a flat map gets.

    best: the AU maps themselves averaged down to the tap's grid (e.g. 4x4) and upsampled back; flat: a constant
    map. Both are scored like ATT-COS (per class, then over classes). Returns dict(size, best, flat)."""
    with torch.no_grad():
        size = tuple(attention(model.eval(), data.x_test[:1], layer).shape[-2:])
    with_map = data.maps_test.flatten(1).amax(1) > 0
    maps = data.maps_test[with_map]
    best, _, _ = map_scores(_embed(shrink_maps(maps, size).numpy(), with_map), data)
    flat, _, _ = map_scores(_embed(np.ones((len(maps), *size), np.float32), with_map), data)
    return dict(size=f"{size[0]}x{size[1]}", best=best, flat=flat)


def _embed(maps: np.ndarray, with_map: torch.Tensor) -> np.ndarray:
    out = np.ones((len(with_map), *maps.shape[1:]), np.float32)
    out[with_map.numpy()] = maps
    return out


def fer_run(job, data: FERData, layer="layer4", **train_kwargs) -> dict:
    """One training of the lambda x seed grid: job = (lambda, training seed) -> accuracy (%) and ATT-COS."""
    lam, seed = job
    model = train_fer(data, lam=float(lam), layer=layer, seed=int(seed), **train_kwargs)
    r = evaluate_fer(model, data, layer)
    return dict(accuracy=100 * r["accuracy"], att_cos=r["att_cos"])


def _fer_grid(jobs, data, layer, scheduler, progress, desc, train_kwargs) -> list[dict]:
    from .. import grid
    return grid.run(fer_run, jobs, shared=dict(data=data, layer=layer, **train_kwargs), scheduler=scheduler,
                    progress=progress, desc=desc)


def lambda_sweep(data: FERData, lambdas, layer="layer4", seed: int = 0, scheduler=None, progress=False,
                 **train_kwargs):
    """Seed 004's ablation: accuracy (%) and ATT-COS of a model trained with each alignment weight lambda (the
    trainings run through facexplain.grid: serially or on Dask, same table)."""
    jobs = [(float(lam), int(seed)) for lam in lambdas]
    done = _fer_grid(jobs, data, layer, scheduler, progress, "lambda sweep", train_kwargs)
    return pd.DataFrame([dict(lam=lam, **r) for (lam, _), r in zip(jobs, done)])


def seed_repeats(data: FERData, lam: float, seeds, layer="layer4", scheduler=None, progress=False, **train_kwargs):
    """The models without (lambda = 0) and with AU alignment trained again with other training seeds (same data and
    split): accuracy (%) and ATT-COS per (seed, with_au), to see how much one training run can be trusted."""
    pairs = [(int(s), with_au) for s in seeds for with_au in (False, True)]
    jobs = [(float(lam) if with_au else 0.0, s) for s, with_au in pairs]
    done = _fer_grid(jobs, data, layer, scheduler, progress, "seed repeats", train_kwargs)
    return pd.DataFrame([dict(seed=s, with_au=with_au, **r) for (s, with_au), r in zip(pairs, done)])


def seed_summary(repeats) -> dict:
    """Paired (with - without AU) differences over training seeds: mean and sd of accuracy and ATT-COS gaps, the
    sd of single-model accuracy, and in how many seeds the aligned model was more accurate."""
    w = repeats.pivot(index="seed", columns="with_au", values=["accuracy", "att_cos"])
    d_acc = (w[("accuracy", True)] - w[("accuracy", False)]).to_numpy()
    d_att = (w[("att_cos", True)] - w[("att_cos", False)]).to_numpy()
    sd = lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else float("nan")  # noqa: E731
    acc_sd = float(np.nanmean([sd(w[("accuracy", a)].to_numpy()) for a in (False, True)]))
    return dict(n=len(w), d_acc=float(d_acc.mean()), d_acc_sd=sd(d_acc), d_att=float(d_att.mean()),
                d_att_sd=sd(d_att), acc_sd=acc_sd, n_better=int((d_acc > 0).sum()))


def claims(table, sweep, paper_dataset: str = "RAF-DB", accuracy_margin: float = 2.0, ceiling: dict | None = None,
           n_test: int | None = None, repeats=None, templates=None, per_face: dict | None = None):
    """The chapter's claim check (claim, paper, ours, control, verdict), every verdict from facexplain.claims.

    repeats: seed_repeats() (two or more training seeds) gives the noise of accuracy and ATT-COS; templates: the
    template rows (controls.template_table: fixed_template, class_template) the attention is judged against;
    per_face: {(method, with_au) or template name: per-face cosines} for paired tests over test faces, and
    {("truth", method, with_au) or ("truth", template): per-face cosines to each face's own AU map}."""
    from ..claims import ClaimTable, judge, judge_count, judge_paired, not_comparable, se_proportion

    ct = ClaimTable()
    per_face = dict(per_face or {})
    t = table.set_index(["method", "with_au"])
    first = "cam" if ("cam", False) in t.index else table["method"].iloc[0]
    acc0, acc1 = t.loc[(first, False), "accuracy"], t.loc[(first, True), "accuracy"]
    att0, att1 = t.loc[(first, False), "att_cos"], t.loc[(first, True), "att_cos"]
    p = PAPER_TABLE1[(paper_dataset, "cam")]
    seeds = seed_summary(repeats) if repeats is not None and repeats["seed"].nunique() > 1 else None
    tmpl = templates.set_index("method") if templates is not None and len(templates) else None
    att_sd = float(repeats.groupby("with_au").att_cos.std(ddof=1).mean()) if seeds else float("nan")

    # 1. ATT-COS rises with alignment (over training seeds)
    if seeds is not None:
        w = repeats.pivot(index="seed", columns="with_au", values="att_cos")
        v = judge_paired(w[True].to_numpy(), w[False].to_numpy(), why=f"over {seeds['n']} training seeds")
        ours = f"{att0:.3f} -> {att1:.3f}; over {seeds['n']} seeds {seeds['d_att']:+.3f} ± {seeds['d_att_sd']:.3f} (sd)"
    else:
        v = not_comparable("one training run per model: set n_seeds >= 2 for a noise estimate")
        ours = f"{att0:.3f} -> {att1:.3f}"
    ct.add("Aligning layer attention with AU maps raises ATT-COS",
           f"{p['att_cos'][0]:.2f} -> {p['att_cos'][1]:.2f} ({paper_dataset}, CAM model)", ours,
           "the same classifier trained without alignment (w/o AU)", v)

    # 2. CAM-COS rises for every CAM method (paired over test faces)
    cams = [m for m in dict.fromkeys(table["method"]) if m != "attention" and (m, True) in t.index]
    ups, parts = 0, []
    for m in cams:
        a, b = per_face.get((m, True)), per_face.get((m, False))
        if a is None or b is None:
            continue
        vm = judge_paired(a, b, why="over test faces")
        ups += vm.word == "reproduced"
        parts.append(f"{m} {t.loc[(m, True), 'cam_cos'] - t.loc[(m, False), 'cam_cos']:+.3f}")
    if parts:
        ct.add("Alignment raises CAM-COS of the CAM methods (paper: all of them)",
               f"CAM {p['cam_cos'][0]:.2f} -> {p['cam_cos'][1]:.2f}; every method up",
               "; ".join(parts) + f" ({ups}/{len(parts)} up beyond a paired test over test faces, one training run)",
               "each method on the classifier without alignment",
               judge_count(ups, len(parts), chance=0.05,
                           why="methods whose paired test (alpha 0.05) finds a rise; a method rises by chance with "
                               "probability <= 0.05"))

    # 3. Accuracy kept (within the margin) or improved, over seeds
    if seeds is not None:
        m, se = seeds["d_acc"], seeds["d_acc_sd"] / np.sqrt(seeds["n"])
        v = judge(m, -accuracy_margin, noise=se, full=m > 2 * se, partly_why="kept, not improved",
                  why=f"mean paired gap over {seeds['n']} training seeds (SE {se:.1f}) against a loss of "
                      f"{accuracy_margin:g} points")
        ours = (f"{acc0:.1f} -> {acc1:.1f} % (the chapter's seed); over {seeds['n']} seeds {m:+.1f} ± "
                f"{seeds['d_acc_sd']:.1f} points (sd), higher with AU in {seeds['n_better']}/{seeds['n']}")
    else:
        se = 100 * se_proportion(acc0 / 100, n_test) * np.sqrt(2) if n_test else float("nan")
        v = judge(acc1 - acc0, -accuracy_margin, noise=se, full=False, partly_why="kept (one run each)",
                  why="binomial SE of the test set")
        ours = f"{acc0:.1f} -> {acc1:.1f} %"
    ct.add(f"Accuracy is kept (within {accuracy_margin:g} points) or improved",
           f"{p['accuracy'][0]:.2f} -> {p['accuracy'][1]:.2f} %", ours,
           f"a loss of {accuracy_margin:g} points against the classifier without alignment", v)

    # 4-5. lambda ablation
    if sweep is not None and len(sweep) > 1:
        s = sweep.sort_values("lam")
        lo, hi = s.iloc[0], s.iloc[-1]
        big = s[s["lam"] >= 5]
        ct.add("Lambda ablation: ATT-COS grows with lambda (>= 0.85 for lambda >= 5)", "ATT-COS >= 0.85 for lambda >= 5",
               ", ".join(f"{l:g}: {a:.3f}" for l, a in zip(s["lam"], s["att_cos"])),
               f"lambda = {lo['lam']:g} (one run per lambda; seed sd of ATT-COS {att_sd:.3f})",
               judge(hi["att_cos"], lo["att_cos"], noise=att_sd * np.sqrt(2),
                     full=bool(len(big) and big["att_cos"].min() >= 0.85),
                     partly_why="grows, but stays below 0.85", why="largest vs smallest lambda"))
        near = s[(s["lam"] >= 2) & (s["lam"] <= 6)]
        far = s[(s["lam"] < 2) | (s["lam"] > 6)]
        acc_se = 100 * np.sqrt(0.25 / n_test) if n_test else float("nan")
        noise = max(acc_se, seeds["acc_sd"]) * np.sqrt(2) if seeds is not None else acc_se * np.sqrt(2)
        if len(near) and len(far):
            ct.add("Lambda ablation: accuracy peaks near lambda = 4", "peak near 4",
                   f"best near 4 (2-6): {near['accuracy'].max():.1f} %; elsewhere: {far['accuracy'].max():.1f} % "
                   f"({', '.join(f'{l:g}: {a:.1f}' for l, a in zip(s['lam'], s['accuracy']))})",
                   "the best accuracy at lambdas outside 2-6",
                   judge(near["accuracy"].max(), far["accuracy"].max(), noise=noise,
                         why="noise: test-set SE and seed sd of one model's accuracy"))

    # 6. close to the AU maps: judged against the class template (knows the class, not the face)
    if tmpl is not None:
        fixed, cls = tmpl.loc["fixed_template", "att_cos"], tmpl.loc["class_template", "att_cos"]
        a, b = per_face.get(("attention", True)), per_face.get("class_template")
        v = (judge_paired(a, b, why="over test faces") if a is not None and b is not None else
             judge(att1, cls, noise=att_sd, why="seed sd of ATT-COS"))
        ceil = (f"; best {ceiling['size']} map {ceiling['best']:.3f}, flat map {ceiling['flat']:.3f}"
                if ceiling is not None else "")
        ct.add("With AU, attention gets close to the AU maps", f"ATT-COS {p['att_cos'][1]:.2f} ({paper_dataset})",
               f"ATT-COS {att1:.3f} (w/ AU)" + ceil,
               f"class template (training-mean map of the face's class) {cls:.3f}; fixed template {fixed:.3f}", v,
               evidence="the AU map follows from the class and the landmarks: a map that knows only the class "
                        "scores about as high, so ATT-COS near it says little about the face")
        ta, tb = per_face.get(("truth", "attention", True)), per_face.get(("truth", "class_template"))
        if ta is not None and tb is not None:
            ct.add("(book) aligned attention follows each face's own AUs better than a template",
                   "not measurable on RAF-DB (no per-face AU truth)",
                   f"cosine to each face's own AU map: {np.nanmean(ta):.3f} (attention w/ AU)",
                   f"class template: {np.nanmean(tb):.3f}",
                   judge_paired(ta, tb, why="over test faces; generated faces know their active AUs"))
    ct.add("Absolute accuracy / cosine levels", f"{paper_dataset} numbers above",
           "synthetic faces, small CNN, CPU budget", "the paper's RAF-DB models",
           not_comparable("other data, model and training length"))
    return ct.frame()


# --- the chapter's steps, as its notebook runs them -----------------------------------------------------------

def data(cfg) -> FERData:
    """The chapter's faces: generated (split by subject) or a real set's own split, with AU maps of `codebook`."""
    return load_fer_data(cfg.dataset, cfg.data_dir, n_faces=cfg.n_faces, seed=cfg.seed, image_size=cfg.image_size,
                         codebook=cfg.codebook, test_fraction=cfg.test_fraction)


def describe(data: FERData) -> str:
    return (f"{len(data.y_train)} training faces, {len(data.y_test)} test faces (other subjects), "
            f"classes: {', '.join(data.classes)}")


def fer_train(job, data: FERData, layer="layer4", **train_kwargs) -> None:
    """One training of the chapter, for the model cache only: job = (lambda, training seed)."""
    lam, seed = job
    train_fer(data, lam=float(lam), layer=layer, seed=int(seed), **train_kwargs)


def training_jobs(cfg) -> list[tuple[float, int]]:
    """Every (lambda, training seed) the chapter trains: the two models, the lambda sweep, the seed repeats."""
    jobs = [(0.0, cfg.seed), (float(cfg.lam), cfg.seed)]
    jobs += [(float(lam), cfg.seed) for lam in cfg.lambdas]
    jobs += [(lam, cfg.seed + k) for k in range(1, cfg.n_seeds) for lam in (0.0, float(cfg.lam))]
    return list(dict.fromkeys(jobs))


def models(cfg, data: FERData) -> dict:
    """{False: the plain classifier (lambda 0), True: the one aligned with AU maps (lambda = lam)}.

    First trains every model of the chapter (training_jobs) as one facexplain.grid: on a Dask cluster they run side
    by side, and the sweep and the seed repeats further on find their models in the cache."""
    from .. import grid
    grid.run(fer_train, training_jobs(cfg), shared=dict(data=data, layer=cfg.layer, epochs=cfg.epochs,
                                                        device=cfg.device),
             scheduler=cfg.scheduler, progress=cfg.progress, desc="trainings")
    return {False: train_fer(data, lam=0.0, layer=cfg.layer, epochs=cfg.epochs, seed=cfg.seed, device=cfg.device),
            True: train_fer(data, lam=cfg.lam, layer=cfg.layer, epochs=cfg.epochs, seed=cfg.seed, device=cfg.device)}


def methods(cfg) -> list[str]:
    """The CAM methods of the table, then the attention tap (its CAM-COS is the ATT-COS)."""
    return list(cfg.cam_methods) + ["attention"]


def table1(cfg, models: dict, data: FERData, keep_faces):
    """Table 1 analog (cam_cos.csv, cam_cos_per_class.csv, cam_cos_per_face.csv): (table, per_class, views), see
    compare_methods. The table ends with the template controls (fixed_template: the training-mean AU map;
    class_template: the training mean of the face's class; with_au and accuracy empty), and on generated faces every
    map is also scored against each face's own AU map (truth_cos)."""
    from ..cache import atomic_to_csv

    truth = truth_maps(cfg.dataset, cfg.data_dir, n_faces=cfg.n_faces, seed=cfg.seed, image_size=cfg.image_size,
                       test_fraction=cfg.test_fraction)
    table, per_class, views = compare_methods(models, data, methods(cfg), layer=cfg.layer, keep_faces=keep_faces,
                                              targets=cfg.targets, truth=truth)
    templates, template_faces = template_controls(data, truth)
    table = pd.concat([table, templates], ignore_index=True)
    cols = ["method", "with_au", "accuracy", "cam_cos", "att_cos"] + (["truth_cos"] if truth is not None else [])
    atomic_to_csv(table[cols], cfg.out / "cam_cos.csv")
    atomic_to_csv(per_class, cfg.out / "cam_cos_per_class.csv")
    faces = per_face_scores(views, template_faces)
    atomic_to_csv(_per_face_long(faces), cfg.out / "cam_cos_per_face.csv")
    return table, per_class, views


def _per_face_long(faces: dict) -> pd.DataFrame:
    """per_face_scores' dict as rows (measure: au_map | truth, method, with_au (empty for templates), face, cos)."""
    rows = []
    for key, arr in faces.items():
        key = key if isinstance(key, tuple) else (key,)
        measure, rest = ("truth", key[1:]) if key[0] == "truth" else ("au_map", key)
        method, with_au = rest[0], (bool(rest[1]) if len(rest) > 1 else np.nan)
        rows += [dict(measure=measure, method=method, with_au=with_au, face=i, cos=v)
                 for i, v in enumerate(np.asarray(arr, np.float64))]
    return pd.DataFrame(rows, columns=["measure", "method", "with_au", "face", "cos"])


def per_face_from_csv(path) -> dict:
    """cam_cos_per_face.csv back to per_face_scores(...)'s dict (keys (method, with_au), template names, and their
    ("truth", ...) versions)."""
    long = pd.read_csv(path)
    out = {}
    for (measure, method, with_au), g in long.groupby(["measure", "method", "with_au"], dropna=False, sort=False):
        key = method if pd.isna(with_au) else (method, bool(with_au))
        if measure == "truth":
            key = ("truth", *key) if isinstance(key, tuple) else ("truth", key)
        out[key] = g.sort_values("face")["cos"].to_numpy(np.float64)
    return out


def _with_au(m: str, w: bool) -> str:
    return f"{m} {'w/' if w else 'w/o'}"


def table1_view(table: pd.DataFrame, methods) -> pd.DataFrame:
    """Methods x (accuracy, CAM-COS, ATT-COS) w/o and w/ AU, then the template controls (the same map either way)."""
    models = table[table["with_au"].notna()].astype({"with_au": bool})
    wide = models.pivot(index="method", columns="with_au", values=["accuracy", "cam_cos", "att_cos"]).loc[list(methods)]
    for _, r in table[table["with_au"].isna()].iterrows():
        wide.loc[r["method"]] = [r[m] for m, _ in wide.columns]
    names = {"cam_cos": "CAM-COS", "att_cos": "ATT-COS", "accuracy": "acc %"}
    wide.columns = [_with_au(names[m], w) for m, w in wide.columns]
    return wide.round(3)


def paper_view(dataset: str = "RAF-DB") -> pd.DataFrame:
    """The paper's Table 1 rows in the same layout."""
    paper = paper_table(dataset).pivot(index="method", columns="with_au")
    paper.columns = [_with_au(m.replace("paper_", "paper "), w) for m, w in paper.columns]
    return paper.round(2)


def ceiling_note(ceiling: dict) -> str:
    return (f"{ceiling['size']} attention grid: best reachable ATT-COS {ceiling['best']:.3f}, "
            f"flat map {ceiling['flat']:.3f}")


def sweep(cfg, data: FERData) -> pd.DataFrame:
    """The lambda ablation (lambda_sweep.csv)."""
    from ..cache import atomic_to_csv

    table = lambda_sweep(data, cfg.lambdas, layer=cfg.layer, epochs=cfg.epochs, seed=cfg.seed, device=cfg.device,
                         scheduler=cfg.scheduler, progress=cfg.progress)
    atomic_to_csv(table, cfg.out / "lambda_sweep.csv")
    return table


def repeats(cfg, data: FERData) -> pd.DataFrame:
    """Both models retrained with n_seeds training seeds (seed_repeats.csv)."""
    from ..cache import atomic_to_csv

    table = seed_repeats(data, cfg.lam, [cfg.seed + k for k in range(cfg.n_seeds)], layer=cfg.layer,
                         epochs=cfg.epochs, device=cfg.device, scheduler=cfg.scheduler, progress=cfg.progress)
    atomic_to_csv(table, cfg.out / "seed_repeats.csv", index=False)
    return table


def repeats_view(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and ATT-COS per training seed, w/o and w/ AU."""
    per_seed = table.pivot(index="seed", columns="with_au", values=["accuracy", "att_cos"])
    per_seed.columns = [_with_au("acc %" if m == "accuracy" else "ATT-COS", w) for m, w in per_seed.columns]
    return per_seed.round(3)


def repeats_note(table: pd.DataFrame) -> str:
    gaps = seed_summary(table)
    acc = table.assign(with_au=table["with_au"].astype(bool)).groupby("with_au")["accuracy"].agg(["mean", "std"])
    return (f"accuracy over {gaps['n']} seeds: w/o AU {acc.loc[False, 'mean']:.1f} ± {acc.loc[False, 'std']:.1f} %, "
            f"w/ AU {acc.loc[True, 'mean']:.1f} ± {acc.loc[True, 'std']:.1f} % (mean ± sd); "
            f"with - without AU over {gaps['n']} seeds: accuracy {gaps['d_acc']:+.1f} ± {gaps['d_acc_sd']:.1f} "
            f"points, ATT-COS {gaps['d_att']:+.3f} ± {gaps['d_att_sd']:.3f} (mean ± sd); one model's accuracy "
            f"varies by {gaps['acc_sd']:.1f} points (sd) from seed to seed")


def grid_ceiling(data: FERData, size) -> float:
    """The best ATT-COS a map on a size x size grid can reach: the AU maps averaged down to it, upsampled back and
    scored like ATT-COS (per class, then over classes)."""
    size = (int(size), int(size)) if np.isscalar(size) else tuple(size)
    with_map = data.maps_test.flatten(1).amax(1) > 0
    best, _, _ = map_scores(_embed(shrink_maps(data.maps_test[with_map], size).numpy(), with_map), data)
    return float(best)


def prose_numbers(cfg, table, ceiling: dict, data: FERData, repeats_table) -> dict:
    """The run-dependent numbers the chapter's text quotes, by name (glued into the Markdown with myst-nb)."""
    t = table[table["with_au"].notna()].astype({"with_au": bool}).set_index(["method", "with_au"])
    first = "cam" if ("cam", False) in t.index else t.index[0][0]
    tmpl = table[table["with_au"].isna()].set_index("method")
    n = len(data.y_test)
    acc0 = float(t.loc[(first, False), "accuracy"]) / 100
    out = dict(att_wo=float(t.loc[(first, False), "att_cos"]), att_w=float(t.loc[(first, True), "att_cos"]),
               n_test=n, acc_se=100 * float(np.sqrt(acc0 * (1 - acc0) / n)),
               ceiling_best=float(ceiling["best"]), ceiling_flat=float(ceiling["flat"]), ceiling_size=ceiling["size"],
               ceiling_7=grid_ceiling(data, 7), ceiling_14=grid_ceiling(data, 14))
    if len(tmpl):
        out.update(fixed_template=float(tmpl.loc["fixed_template", "att_cos"]),
                   class_template=float(tmpl.loc["class_template", "att_cos"]))
    out.update(n_train=len(data.y_train), epochs=int(cfg.epochs))
    if cfg.n_faces is not None:
        out["n_faces"] = int(cfg.n_faces)
    if repeats_table is not None and repeats_table["seed"].nunique() > 1:
        g = seed_summary(repeats_table)
        out.update(d_att=g["d_att"], d_att_sd=g["d_att_sd"], acc_seed_sd=g["acc_sd"], n_seeds=g["n"],
                   d_acc=g["d_acc"], d_acc_sd=g["d_acc_sd"])
        for with_au, name in ((False, "acc_wo"), (True, "acc_w")):
            acc = repeats_table.loc[repeats_table["with_au"].astype(bool) == with_au, "accuracy"].to_numpy(float)
            out.update({f"{name}_mean": float(acc.mean()), f"{name}_sd": float(acc.std(ddof=1))})
    return out


def write_claims(cfg, table, sweep_table, ceiling, data: FERData, repeats_table) -> pd.DataFrame:
    """The chapter's claim check (claims.csv), every verdict from facexplain.claims: the template rows of `table` are
    the controls of the attention claims, the per-face scores (cam_cos_per_face.csv) give paired tests."""
    from ..claims import write_claims as write

    models = table[table["with_au"].notna()].astype({"with_au": bool})
    templates = table[table["with_au"].isna()]
    path = cfg.out / "cam_cos_per_face.csv"
    out = claims(models, sweep_table, paper_dataset="RAF-DB", ceiling=ceiling, n_test=len(data.y_test),
                 repeats=repeats_table, templates=templates if len(templates) else None,
                 per_face=per_face_from_csv(path) if path.exists() else None)
    write(out, cfg.out)
    return out


__all__ = ["PAPER_TABLE1", "PARAMETERS", "PRESETS", "ceiling_note", "data", "describe", "fer_train", "methods", "models",
           "paper_view", "repeats", "repeats_note", "repeats_view", "sweep", "training_jobs", "table1", "table1_view", "write_claims", "attention_ceiling", "class_mean_maps", "claims",
           "compare_methods", "lambda_sweep", "map_scores", "paper_table", "positive_unit_max", "saliencies", "saliency",
           "grid_ceiling", "per_face_from_csv", "per_face_scores", "prose_numbers", "seed_repeats", "seed_summary", "settings", "template_controls", "truth_maps"]
