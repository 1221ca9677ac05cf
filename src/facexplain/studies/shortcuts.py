"""Shortcut sweep (chapter 11): accuracy stays high while the explanations leave the face.

The generator can stamp a label-coded checker mark at the top edge of a face image with probability `shortcut`
(outside the face; its position codes the emotion). For each strength we train a small AU detector and a small
emotion classifier on faces carrying the mark with that probability (models cached by config), then measure on
test faces of *other subjects*: the score with the same shortcut, the score on the same test faces without any
mark (the reliance), and every method's explanation metrics (mu in the AU box, mu in the true region, cosine to
the AU map, and mu in the strip where the mark sits). Because face i of a generated set depends only on (seed, i,
config) and the mark's coin is drawn either way, the clean test faces are the very same faces without the mark.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..explain import METHODS
from .settings import Param, resolve

#: methods the sweep explains with by default (one per family, plus IG and SmoothGrad)
SWEEP_METHODS = ("lrp.epsilon_plus_flat", "gradient", "integrated_gradients", "smoothgrad", "gradcam", "attention")
#: explanation metrics recorded per method (mu_cue: share of positive relevance in the mark's strip)
SWEEP_METRICS = ("mu_box", "mu_truth", "cosine", "mu_cue")

#: preset -> values of the parameters left at None
PRESETS = {
    "cpu": dict(strengths=[0.0, 0.5, 0.9], n_faces=1000, image_size=64, epochs=12, n_explain=4,
                methods=SWEEP_METHODS),
    "paper": dict(strengths=[round(0.1 * i, 1) for i in range(11)], n_faces=3000, image_size=112, epochs=30,
                  n_explain=20, methods=SWEEP_METHODS),
    "paper-smoke": dict(n_faces=60, epochs=1, n_explain=1),      # all eleven strengths at 112 px; tiny counts
}

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=("synthetic",)),
    "strengths": Param("floats", None, low=0, high=1),
    "n_faces": Param("int", None, low=40),
    "image_size": Param("int", None, low=32),
    "epochs": Param("int", None, low=1),
    "methods": Param("strs", None, choices=tuple(METHODS)),
    "n_explain": Param("int", None, low=1),
    "alpha": Param("float", 0.01, low=0, high=0.5, low_open=True),
}


def settings(preset: str = "cpu", **given):
    """Chapter 11's parameters: the given ones, the rest from the preset, every one checked; cfg.sweep is the
    SweepConfig every step of the sweep depends on."""
    cfg = resolve("11_shortcuts", PARAMETERS, PRESETS, preset, given)
    cfg["sweep"] = SweepConfig(n_faces=cfg.n_faces, image_size=cfg.image_size, seed=cfg.seed,
                               detector_epochs=cfg.epochs, fer_epochs=cfg.epochs, n_explain=cfg.n_explain,
                               methods=tuple(cfg.methods))
    return cfg


@dataclass(frozen=True)
class SweepConfig:
    """Everything a sweep step depends on (data, models, explanations); hashed into the model caches."""

    n_faces: int = 600                 # generated faces per strength (train + test, split by subject)
    test_fraction: float = 0.3
    image_size: int = 112
    seed: int = 0
    detector_epochs: int = 8
    detector_widths: tuple[int, ...] = (8, 16, 32, 64)
    fer_epochs: int = 8
    fer_widths: tuple[int, ...] = (16, 32, 64, 128)
    fer_lam: float = 0.0               # plain classifier (no AU alignment): the model a shortcut can fool
    n_explain: int = 3                 # explained faces per AU / per emotion (correct predictions)
    methods: tuple[str, ...] = SWEEP_METHODS

    def __post_init__(self):
        object.__setattr__(self, "detector_widths", tuple(int(w) for w in self.detector_widths))
        object.__setattr__(self, "fer_widths", tuple(int(w) for w in self.fer_widths))
        object.__setattr__(self, "methods", tuple(self.methods))
        if int(self.n_faces) < 40:
            raise ValueError(f"n_faces must be at least 40 (train and test need several subjects); got {self.n_faces}")
        if not 0 < float(self.test_fraction) < 1:
            raise ValueError(f"test_fraction must lie in (0, 1); got {self.test_fraction}")
        if int(self.detector_epochs) < 1 or int(self.fer_epochs) < 1 or int(self.n_explain) < 1:
            raise ValueError("detector_epochs, fer_epochs and n_explain must be positive")
        from ..explain import METHODS
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"unknown methods {bad}: use names from facexplain.explain.METHODS")


@dataclass
class StepData:
    """One strength: train/test faces with the mark at that strength and the same test faces without it."""

    strength: float
    train: object
    test: object
    clean_test: object
    key: dict = field(default_factory=dict)


def step_data(strength: float, config: SweepConfig) -> StepData:
    """Generated faces with shortcut `strength`, split by subject; the clean test set shares faces and split."""
    from ..data import load_dataset
    from ..data.splits import subject_split

    s = float(strength)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"shortcut strength is a probability in [0, 1]; got {strength}")
    opts = dict(n=int(config.n_faces), seed=int(config.seed), image_size=int(config.image_size))
    ds = load_dataset("synthetic", shortcut=s, **opts)
    clean = ds if s == 0 else load_dataset("synthetic", shortcut=0.0, **opts)
    tr, te = subject_split(ds.subject, test_fraction=float(config.test_fraction), seed=int(config.seed))
    key = dict(dataset="synthetic", shortcut=s, generator=ds.info.get("generator"), **opts,
               test_fraction=float(config.test_fraction))
    return StepData(s, ds.subset(tr), ds.subset(te), clean.subset(te), key)


def cue_mask(shape: tuple[int, int]) -> np.ndarray:
    """The strip along the top edge where the generator stamps the shortcut mark (outside every face)."""
    from ..models.au_detector import cue_strip_mask
    return cue_strip_mask(tuple(shape))


def _macro_f1(y_true, logits) -> float:
    from ..models.au_detector import f1_table
    table = f1_table(np.asarray(y_true), np.asarray(logits) > 0, range(np.asarray(y_true).shape[1]))
    return float(table["f1"].mean())


def _explain_rows(net, task, methods, options, cue, **labels) -> list[dict]:
    from .explainers_compared import compare_methods
    from ..metrics.relevance import relevance_masses

    per_image, _, maps = compare_methods(net, task, methods, options, keep_maps=True)
    rows = []
    for method in methods:
        sub = per_image[per_image["method"] == method]
        mu_cue = relevance_masses(maps[method], np.broadcast_to(cue, maps[method].shape))
        values = dict(mu_box=sub["mu_box"].to_numpy(), mu_truth=sub["mu_truth"].to_numpy(),
                      cosine=sub["cosine"].to_numpy(), mu_cue=mu_cue)
        for j in range(len(sub)):
            rows.append(dict(labels, method=method, image=j, **{k: float(v[j]) for k, v in values.items()}))
    return rows


def sweep_step(strength: float, config: SweepConfig, device: str = "cpu", progress: bool = False):
    """Train (or load) both models at one strength and measure them. Returns (scores, explanations):
    scores rows (model, strength, test: 'shortcut'|'clean', metric, value); explanation rows per image
    (model, strength, method, image, mu_box, mu_truth, cosine, mu_cue), on the test faces with the shortcut."""
    from .explainers_compared import au_task, emotion_task, lrp_box_options
    from ..models import au_detector as det
    from .shared import fer_data, train_fer
    from ..train import predict

    data = step_data(strength, config)
    s = data.strength
    cue = cue_mask(data.test.images.shape[1:3])
    scores, expl = [], []

    # AU detector (seed 001's model and loss), trained on the faces with the shortcut
    dcfg = det.DetectorConfig(epochs=int(config.detector_epochs), widths=config.detector_widths, seed=int(config.seed))
    aus = det.detector_aus(data.train, dcfg.aus)
    dcfg = det.DetectorConfig(**dict(asdict(dcfg), aus=aus))
    x_tr, y_tr = det.inputs_from(data.train), det.targets_from(data.train, aus)
    detector = det.train_detector(x_tr, y_tr, dcfg, device=device, progress=progress).cpu().eval()
    for test_name, test in (("shortcut", data.test), ("clean", data.clean_test)):
        x, y = det.inputs_from(test), det.targets_from(test, aus).numpy()
        logits = det.predict_logits(detector, x).numpy()
        scores.append(dict(model="au_detector", strength=s, test=test_name, metric="f1", value=_macro_f1(y, logits),
                           n=len(y)))
        if test_name == "shortcut":
            task = au_task(detector, x, test, y, logits > 0, n_per_au=config.n_explain)
            expl += _explain_rows(detector, task, config.methods, lrp_box_options(0.0, 1.0), cue,
                                  model="au_detector", strength=s)

    # emotion classifier (seed 004's network without AU alignment)
    fdata = fer_data(data.train, data.test, key=data.key)
    clf = train_fer(fdata, lam=float(config.fer_lam), epochs=int(config.fer_epochs), seed=int(config.seed),
                    widths=config.fer_widths, device=device, progress=progress).eval()
    clean = fer_data(data.train, data.clean_test, key=data.key)
    for test_name, fd in (("shortcut", fdata), ("clean", clean)):
        pred = predict(clf, fd.x_test).argmax(1).numpy()
        y = fd.y_test.numpy()
        scores.append(dict(model="emotion", strength=s, test=test_name, metric="accuracy",
                           value=float((pred == y).mean()), n=len(y)))
        if test_name == "shortcut":
            test_faces = data.test.subset(np.flatnonzero(np.isin(data.test.emotion.astype(str), fd.classes)))
            task = emotion_task(clf, fd.x_test, test_faces, y, pred, fd.classes, n_per_class=config.n_explain)
            expl += _explain_rows(clf, task, config.methods, lrp_box_options(-2.0, 2.0), cue, model="emotion",
                                  strength=s)
    return scores, expl


def sweep_task(strength: float, config: SweepConfig, device: str = "cpu"):
    """One strength of the sweep (a grid task): sweep_step without progress bars."""
    return sweep_step(strength, config, device=device, progress=False)


def shortcut_sweep(strengths, config: SweepConfig | None = None, device: str = "cpu", progress: bool = False,
                   scheduler: str | None = None):
    """Run `sweep_step` for every strength. Returns (scores, per_image): two tidy DataFrames (see sweep_step).
    The strengths are independent: facexplain.grid runs them serially or on Dask (`scheduler`), same tables."""
    import pandas as pd

    from .. import grid

    config = config or SweepConfig()
    strengths = [float(s) for s in strengths]
    if not strengths:
        raise ValueError("give at least one shortcut strength (e.g. [0, 0.5, 0.9])")
    if any(not 0 <= s <= 1 for s in strengths):
        raise ValueError(f"shortcut strengths are probabilities in [0, 1]; got {strengths}")
    done = grid.run(sweep_task, strengths, shared=dict(config=config, device=device), scheduler=scheduler,
                    progress=progress, desc="shortcut sweep")
    return pd.DataFrame([r for sc, _ in done for r in sc]), pd.DataFrame([r for _, ex in done for r in ex])


def sweep_table(scores, per_image):
    """The chapter's table (shortcut_sweep.csv): one row per (model, strength, method) with the model's score on
    the shortcut and the clean test, and the mean explanation metrics over the explained faces."""
    import pandas as pd

    wide = scores.pivot_table(index=["model", "strength"], columns="test", values="value").reset_index()
    wide = wide.rename(columns={"shortcut": "score_shortcut_test", "clean": "score_clean_test"})
    metric = scores.groupby("model")["metric"].first().rename("score")
    if "n" in scores:
        wide = wide.merge(scores.groupby("model")["n"].min().rename("n_test").reset_index(), on="model")
    expl = per_image.groupby(["model", "strength", "method"], sort=False)[list(SWEEP_METRICS)].mean()
    expl["n"] = per_image.groupby(["model", "strength", "method"], sort=False).size()
    out = expl.reset_index().merge(wide, on=["model", "strength"]).merge(metric.reset_index(), on="model")
    cols = ["model", "score", "strength", "score_shortcut_test", "score_clean_test", "method", *SWEEP_METRICS, "n"]
    cols += ["n_test"] if "n_test" in out else []
    return out[cols].sort_values(["model", "method", "strength"], kind="stable").reset_index(drop=True)


def detection_tests(per_image):
    """Every strength > 0 against strength 0, for every (model, method, metric): the one-sided Welch t-test in the
    shortcut's direction (mu_box, mu_truth, cosine fall; mu_cue rises). Rows (model, method, metric, strength, p)."""
    import pandas as pd
    from scipy.stats import ttest_ind

    strengths = sorted(per_image["strength"].unique())
    if strengths[0] != 0:
        raise ValueError("the sweep needs strength 0 (the clean baseline) to detect a change")
    rows = []
    for (model, method), g in per_image.groupby(["model", "method"], sort=False):
        for metric in SWEEP_METRICS:
            base = g.loc[g["strength"] == 0, metric].dropna().to_numpy()
            for s in strengths[1:]:
                v = g.loc[g["strength"] == s, metric].dropna().to_numpy()
                p = np.nan
                if len(base) >= 2 and len(v) >= 2:
                    alt = "greater" if metric == "mu_cue" else "less"
                    p = float(ttest_ind(v, base, equal_var=False, alternative=alt).pvalue)
                rows.append(dict(model=model, method=method, metric=metric, strength=float(s), p=p))
    return pd.DataFrame(rows, columns=["model", "method", "metric", "strength", "p"])


def detection(per_image, alpha: float = 0.01):
    """Which metric and method notice the shortcut first: for every (model, method, metric), the lowest strength at
    which the metric moved away from its strength-0 value in the shortcut's direction (detection_tests), after a
    Benjamini-Hochberg correction over all the sweep's tests (scipy.stats.false_discovery_control); NaN: never.
    Columns: model, method, metric, detected_at, p_value (adjusted), n_tests."""
    from ..metrics.controls import earliest_detection

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    tests = detection_tests(per_image)
    out = earliest_detection(tests, by="strength", p="p", alpha=alpha, groups=["model", "method", "metric"])
    out = out.rename(columns={"earliest": "detected_at", "p_adjusted": "p_value"})
    return out


def example_maps(strength: float, config: SweepConfig, method: str = "lrp.epsilon_plus_flat", n: int = 4) -> dict:
    """Maps of the (cached) emotion classifier trained at `strength` on the first `n` marked test faces it gets
    right, and of the strength-0 classifier on the same faces without the mark: dict(images, maps, clean_images,
    clean_maps, labels), for the chapter's before/after figure."""
    from .explainers_compared import lrp_box_options
    from ..explain import explain
    from .shared import fer_data, train_fer
    from ..train import predict

    opts = lrp_box_options(-2.0, 2.0).get(method, {})
    out, pick = {}, None
    for key, s in (("", float(strength)), ("clean_", 0.0)):
        data = step_data(s, config)
        fd = fer_data(data.train, data.test, key=data.key)
        net = train_fer(fd, lam=float(config.fer_lam), epochs=int(config.fer_epochs), seed=int(config.seed),
                        widths=config.fer_widths).eval()
        if pick is None:
            marked = np.asarray(data.test.extra["shortcut"], bool)
            right = (predict(net, fd.x_test).argmax(1) == fd.y_test).numpy()
            pick = np.flatnonzero(marked & right)[:int(n)]
            if not len(pick):
                pick = np.flatnonzero(marked)[:int(n)]
            if not len(pick):
                raise ValueError(f"no test face carries the mark at strength {strength}: use a strength > 0")
        idx = torch.as_tensor(pick)
        out[key + "images"] = data.test.images[pick]
        out[key + "maps"] = explain(net, fd.x_test[idx], fd.y_test[idx], method=method, **opts).detach().cpu().numpy()
    out["labels"] = np.asarray(fd.classes, dtype=object)[fd.y_test[idx].numpy()]
    return out


def chapter11_claims(table, detected, alpha: float = 0.01, n_test: dict | None = None):
    """Chapter 11's claim check (claim, paper, ours, control, verdict), every verdict from facexplain.claims.

    n_test: {model: test faces} for the binomial noise of the scores (default: the table's n_test column);
    detected: detection() (FDR-corrected)."""
    from ..claims import ClaimTable, judge, judge_count, not_comparable, se_proportion

    ct = ClaimTable()
    top = table["strength"].max()
    n_test = dict(n_test or ({m: int(g["n_test"].min()) for m, g in table.groupby("model")}
                             if "n_test" in table else {}))
    for model, t in table.groupby("model", sort=False):
        first = t.drop_duplicates("strength").set_index("strength")
        s0, s1 = first.loc[0.0], first.loc[top]
        score = s0["score"]
        n = n_test.get(model)
        se = (np.sqrt(2) * se_proportion(float(s1["score_shortcut_test"]), int(n))) if n else float("nan")
        keep = s1["score_shortcut_test"] >= s0["score_shortcut_test"] - 2 * se if n else False
        ct.add(f"{model}: the {score} stays high with the shortcut but relies on it",
               "Rieger et al. 2020 suspected that good F1 can hide irrelevant evidence; no measurement",
               f"{score} at strength 0: {s0['score_shortcut_test']:.2f}; at {top:g}: {s1['score_shortcut_test']:.2f} "
               f"with the mark, {s1['score_clean_test']:.2f} on the same faces without it",
               f"the same test faces without the mark (strength {top:g})",
               judge(s1["score_clean_test"], s1["score_shortcut_test"], noise=se, direction="lower", full=bool(keep),
                     partly_why="relies on the mark, but the score with it also fell",
                     why=(f"binomial SE over {n} test faces" + (" (approximate for F1)" if score == "f1" else ""))
                     if n else ""))
        d = detected[detected.model == model]
        face = d[d.metric != "mu_cue"]
        hit = face.dropna(subset=["detected_at"])
        ct.add(f"{model}: explanation metrics move away from the face as the shortcut grows",
               "Rieger et al. 2020: mu in the AU boxes as the verification step (Table 3)",
               f"face metrics (mu_box, mu_truth, cosine) that fall significantly at some strength: {len(hit)}/{len(face)} "
               f"(method, metric) pairs; mu in the mark's strip rises for "
               f"{d[d.metric == 'mu_cue'].detected_at.notna().sum()}/{len(d[d.metric == 'mu_cue'])} methods",
               f"strength 0 (no shortcut); Benjamini-Hochberg over {int(d.n_tests.max()) if len(d) else 0} tests",
               judge_count(len(hit), max(len(face), 1), chance=alpha, full=2 * len(hit) >= len(face),
                           partly_why="fewer than half of the face metrics move",
                           why=f"pairs detected at FDR {alpha:g} against a false-detection rate of {alpha:g}"))
        fired = d.dropna(subset=["detected_at"])
        if len(fired):
            lo = min(float(x) for x in fired["detected_at"])
            who = fired[fired["detected_at"].astype(float) == lo]
            ct.add(f"{model}: which metric and method notice the shortcut first",
                   "not testable in the papers (no controlled shortcut)",
                   f"at strength {lo:g}: " + ", ".join(f"{m} ({k})" for m, k in zip(who["method"], who["metric"])),
                   "strength 0; p-values corrected for the multiplicity of strengths, methods and metrics",
                   not_comparable("the book's own measurement; no paper number"))
    return ct.frame()


def mark_figure(config: SweepConfig):
    """One test face per emotion with the mark always on (strength 1): where the mark sits codes the emotion."""
    import matplotlib.pyplot as plt

    demo = step_data(1.0, config)
    fig, axes = plt.subplots(1, 7, figsize=(10, 1.9))
    for ax, emo in zip(axes, sorted(set(demo.test.emotion))):
        i = int(np.flatnonzero(demo.test.emotion == emo)[0])
        ax.imshow(demo.test.images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(emo, fontsize=8)
        ax.axis("off")
    return fig


def run(cfg):
    """The sweep over the chapter's strengths (shortcut_sweep.csv, shortcut_sweep_per_image.csv):
    (scores, per_image, table)."""
    from ..cache import atomic_to_csv

    scores, per_image = shortcut_sweep(cfg.strengths, cfg.sweep, device=cfg.device, progress=cfg.progress,
                                       scheduler=cfg.scheduler)
    table = sweep_table(scores, per_image)
    atomic_to_csv(table.round(4), cfg.out / "shortcut_sweep.csv")
    atomic_to_csv(per_image.round(4), cfg.out / "shortcut_sweep_per_image.csv")
    return scores, per_image, table


def scores_view(table):
    """Each model's score per strength, on test faces with the mark and on the same faces without it."""
    return table.drop_duplicates(["model", "strength"])[["model", "score", "strength", "score_shortcut_test",
                                                         "score_clean_test"]].round(3)


def metric_tables(table) -> dict:
    """Per explanation metric: (model, method) x strength."""
    wide = table.pivot_table(index=["model", "method"], columns="strength", values=list(SWEEP_METRICS), sort=False)
    return {metric: wide[metric].round(3) for metric in SWEEP_METRICS}


def example_figure(cfg, method: str = "lrp.epsilon_plus_flat", n: int = 4):
    """LRP maps of the clean and the shortcut classifier on the same test faces (without / with the mark)."""
    import matplotlib.pyplot as plt

    from ..viz.compare import colorize

    top = max(cfg.strengths)
    ex = example_maps(top, cfg.sweep, method, n=n)
    k = len(ex["images"])
    fig, axes = plt.subplots(2, 2 * k, figsize=(2.0 * k * 1.2, 3.0))
    for j in range(k):
        for r, (img, m, tag) in enumerate(((ex["clean_images"][j], ex["clean_maps"][j], "strength 0"),
                                           (ex["images"][j], ex["maps"][j], f"strength {top:g}"))):
            axes[r, 2 * j].imshow(img, cmap="gray", vmin=0, vmax=255)
            axes[r, 2 * j + 1].imshow(colorize(m))
            axes[r, 2 * j].set_title(f"{ex['labels'][j]}, {tag}", fontsize=6)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    return fig


def detect(cfg, per_image):
    """The strength at which each metric first moves, after a false-discovery-rate correction over every strength,
    method and metric (detection.csv)."""
    from ..cache import atomic_to_csv

    detected = detection(per_image, alpha=cfg.alpha)
    atomic_to_csv(detected.round(6), cfg.out / "detection.csv")
    return detected


def detection_view(detected):
    """(model, method) x metric: the first strength at which the metric moved (NaN: never)."""
    d = detected.pivot_table(index=["model", "method"], columns="metric", values="detected_at", sort=False,
                             dropna=False)
    return d[list(SWEEP_METRICS)]


def claims(cfg, table, detected):
    """The chapter's claim check (claims.csv), every verdict from facexplain.claims."""
    from ..claims import write_claims

    out = chapter11_claims(table, detected, cfg.alpha)
    write_claims(out, cfg.out)
    return out


__all__ = ["PARAMETERS", "PRESETS", "settings", "claims", "detect", "detection_view", "example_figure",
           "mark_figure", "metric_tables", "run", "scores_view", "SWEEP_METHODS", "SWEEP_METRICS", "SweepConfig", "StepData", "step_data", "cue_mask", "sweep_step",
           "shortcut_sweep", "sweep_table", "detection_tests", "detection", "example_maps", "chapter11_claims"]
