"""Every explanation method scored on the same images against the same references (chapter 10).

A *task* is a batch of images, one explained output per image (an AU logit of the detector, or the emotion logit of
the classifier) and, per image, three references: the landmark box (seed 001's mu), the ground-truth pixels where
the evidence is (the generator's AU regions) and the soft AU map (seed 004's CAM-COS). Each method explains the
whole batch in one `facexplain.explain.explain(...)` call; each map is scored by mu in the box, mu in the true
region, cosine to the AU map, pointing game and relevance rank accuracy (both on the true region), and the call's
wall time is divided by the batch size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..explain import METHODS
from .settings import Param, resolve

#: metric columns of the per-image table, in display order
METRICS = ("mu_box", "mu_truth", "cosine", "pointing", "rank_accuracy", "faithfulness")
#: faithfulness: pytorch-grad-cam's MoRF/LeRF perturbation score (metrics.controls.road_scores); the rest localisation
#: every method chapter 10 compares (LRP composites, captum, grad-cam, the attention tap)
ALL_METHODS = ("lrp.epsilon_plus_flat", "lrp.epsilon_gamma_box", "lrp.epsilon_alpha2_beta1_flat", "lrp.epsilon_plus",
               "gradient", "gradient_x_input", "integrated_gradients", "smoothgrad",
               "gradcam", "gradcam++", "layercam", "attention")

#: preset -> values of the parameters left at None
PRESETS = {"cpu": dict(n_per_au=4, n_per_class=4, n_sanity=4, widget_faces=2, methods=ALL_METHODS),
           "paper": dict(n_per_au=40, n_per_class=40, n_sanity=16, widget_faces=4, methods=ALL_METHODS),
           "paper-smoke": dict(n_per_au=1, n_per_class=1, n_sanity=1, widget_faces=1)}   # tests

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=("synthetic",)),
    "methods": Param("strs", None, choices=tuple(METHODS)),
    "fer_lam": Param("float", 0.0, low=0, none=True),
    "n_per_au": Param("int", None, low=1),
    "n_per_class": Param("int", None, low=1),
    "n_sanity": Param("int", None, low=1),
    "sanity_threshold": Param("float", 0.5, low=-1, high=1),
    "sanity_methods": Param("strs", None, choices=tuple(METHODS), none=True),
    "widget_faces": Param("int", None, low=1),
    "train_faces": Param("int", None, low=40, none=True),
    "train_epochs": Param("int", None, low=1, none=True),
}


def settings(preset: str = "cpu", **given):
    """Chapter 10's parameters: the given ones, the rest from the preset, every one checked (sanity_methods
    defaults to the compared methods). Ground-truth regions exist only for generated faces: dataset="synthetic"."""
    cfg = resolve("10_explainers_compared", PARAMETERS, PRESETS, preset, given)
    cfg["sanity_methods"] = list(cfg.methods if cfg.sanity_methods is None else cfg.sanity_methods)
    return cfg


@dataclass
class Task:
    """Images to explain, one target output per image, and the references each map is scored against."""

    name: str                  # e.g. "au_detector" / "emotion"
    inputs: torch.Tensor       # (N, C, H, W), as the model takes them
    target: torch.Tensor       # (N,) output index explained for each image
    box: np.ndarray            # (N, H, W) bool: landmark boxes
    truth: np.ndarray          # (N, H, W) bool: ground-truth evidence pixels
    au_map: np.ndarray         # (N, H, W) float in [0, 1]: soft AU map
    labels: dict = field(default_factory=dict)   # per-image columns (e.g. index, au, emotion), each length N

    def __post_init__(self):
        n = len(self.inputs)
        if n == 0:
            raise ValueError(f"task {self.name!r} has no images: check that the model predicts some positives")
        shapes = {k: np.asarray(getattr(self, k)).shape for k in ("box", "truth", "au_map")}
        hw = tuple(self.inputs.shape[-2:])
        for k, s in shapes.items():
            if s != (n, *hw):
                raise ValueError(f"task {self.name!r}: {k} has shape {s}, expected {(n, *hw)} (one per image)")
        if tuple(self.target.shape) != (n,):
            raise ValueError(f"task {self.name!r}: target must be (N,) = ({n},); got {tuple(self.target.shape)}")
        for k, v in self.labels.items():
            if len(v) != n:
                raise ValueError(f"task {self.name!r}: label column {k!r} has {len(v)} values for {n} images")

    def __len__(self) -> int:
        return len(self.inputs)


def _per_image(fn, maps, masks) -> np.ndarray:
    out = np.full(len(maps), np.nan)
    for i, (m, k) in enumerate(zip(maps, masks)):
        try:
            out[i] = float(fn(m, k))
        except ValueError:   # all-zero map or empty region: the metric is undefined for this image
            pass
    return out


def score_maps(maps, box, truth, au_map) -> dict[str, np.ndarray]:
    """Per-image scores of maps (N, H, W): mu in the box, mu in the true region, cosine to the AU map, pointing game
    and rank accuracy on the true region. Undefined values (no positive relevance, empty region) are NaN."""
    from ..metrics.maps import map_cosine
    from ..metrics.relevance import pointing_game, relevance_masses, relevance_rank_accuracy

    maps = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps, np.float64)
    maps = np.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)
    box, truth, au_map = np.asarray(box, bool), np.asarray(truth, bool), np.asarray(au_map, np.float64)
    has_box, has_truth = box.reshape(len(box), -1).any(1), truth.reshape(len(truth), -1).any(1)
    has_map = au_map.reshape(len(au_map), -1).max(1) > 0
    cos = np.full(len(maps), np.nan)
    if has_map.any():
        cos[has_map] = map_cosine(maps[has_map], au_map[has_map], zero_saliency="nan")
    return dict(mu_box=np.where(has_box, relevance_masses(maps, box), np.nan),
                mu_truth=np.where(has_truth, relevance_masses(maps, truth), np.nan),
                cosine=cos,
                pointing=_per_image(pointing_game, maps, truth),
                rank_accuracy=_per_image(relevance_rank_accuracy, maps, truth))


def _faithfulness(model, task: Task, maps, seed: int, options: dict) -> np.ndarray:
    from ..metrics.controls import road_scores
    from ..metrics.maps import upsample

    maps = np.asarray(maps, np.float64)
    if maps.shape[-2:] != tuple(task.inputs.shape[-2:]):
        maps = upsample(maps, tuple(task.inputs.shape[-2:]))
    return road_scores(model, task.inputs, np.nan_to_num(maps), task.target, seed=seed, **options)


def compare_methods(model, task: Task, methods=ALL_METHODS, method_options: dict | None = None,
                    keep_maps: bool = True, faithfulness: dict | None = None, seed: int = 0):
    """Explain `task` with every method and score each map. Returns (per_image, timing, maps):
    per_image a DataFrame (task, method, <labels>, <METRICS>), timing a DataFrame (task, method, seconds_per_image),
    maps[method] the (N, H, W) float32 maps when keep_maps. faithfulness: options of metrics.controls.road_scores
    (e.g. dict(percentiles=(20, 50, 80), imputer="mean")) to add the faithfulness column; None leaves it out."""
    import pandas as pd

    from ..explain import explain

    if isinstance(methods, str):
        methods = [methods]
    method_options = dict(method_options or {})
    model = model.eval()
    frames, times, kept = [], [], {}
    for method in methods:
        start = time.perf_counter()
        maps = explain(model, task.inputs, task.target, method=method, **method_options.get(method, {}))
        seconds = (time.perf_counter() - start) / len(task)
        maps = maps.detach().cpu().numpy()
        scores = score_maps(maps, task.box, task.truth, task.au_map)
        if faithfulness is not None:
            scores["faithfulness"] = _faithfulness(model, task, maps, seed, faithfulness)
        df = pd.DataFrame(dict(task=task.name, method=method, **{k: np.asarray(v) for k, v in task.labels.items()},
                               **scores))
        frames.append(df)
        times.append(dict(task=task.name, method=method, seconds_per_image=seconds))
        if keep_maps:
            kept[method] = maps.astype(np.float32)
    return pd.concat(frames, ignore_index=True), pd.DataFrame(times), kept


def chance_scores(task: Task, seed: int = 0, name: str = "chance (random map)"):
    """The metrics of seeded uniform-noise maps on the same task: what any metric gives without information
    (mu about the region's share of the image, pointing about that share, ...). A per-image DataFrame like
    compare_methods' with method=`name`."""
    import pandas as pd

    rng = np.random.default_rng(int(seed))
    maps = rng.random((len(task), *task.inputs.shape[-2:]))
    scores = score_maps(maps, task.box, task.truth, task.au_map)
    return pd.DataFrame(dict(task=task.name, method=name, **{k: np.asarray(v) for k, v in task.labels.items()},
                             **scores))


def control_scores(model, task: Task, seed: int = 0, faithfulness: dict | None = None):
    """The controls of every metric on the same task, as per-image rows like compare_methods': "control: random
    map" (seeded noise: what a metric gives without information) and "control: edge map" (the input's Sobel edge
    magnitude: localises facial features without looking at the model). faithfulness: as in compare_methods."""
    import pandas as pd

    from ..metrics.controls import random_maps, sobel_maps

    frames = []
    shape = tuple(task.inputs.shape[-2:])
    for name, maps in (("control: random map", random_maps(len(task), shape, seed)),
                       ("control: edge map", sobel_maps(task.inputs))):
        scores = score_maps(maps, task.box, task.truth, task.au_map)
        if faithfulness is not None:
            scores["faithfulness"] = _faithfulness(model, task, maps, seed, faithfulness)
        frames.append(pd.DataFrame(dict(task=task.name, method=name,
                                        **{k: np.asarray(v) for k, v in task.labels.items()}, **scores)))
    return pd.concat(frames, ignore_index=True)


def summarize(per_image, timing=None, by=("task", "method")):
    """Mean of every metric per (task, method) with n (images), plus seconds per image when `timing` is given;
    the method order of the input is kept."""
    by = list(by)
    cols = [c for c in METRICS if c in per_image.columns]
    g = per_image.groupby(by, sort=False)
    out = g[cols].mean()
    out["n"] = g.size()
    out = out.reset_index()
    if timing is not None:
        out = out.merge(timing, on=[c for c in by if c in timing.columns], how="left")
    return out


# --- tasks from a dataset ----------------------------------------------------------------------------------------

def au_task(model, inputs: torch.Tensor, dataset, y_true, y_pred, n_per_au: int = 4, aus=None,
            name: str = "au_detector") -> Task:
    """AU-detector task: for every detector AU, the first `n_per_au` correctly detected positives of `dataset`,
    each explained at that AU's logit; references: the AU's landmark box, its true region, its AU map."""
    from ..faces import au_map
    from ..faces.regions import au_box_mask
    from ..metrics.relevance import correct_positives

    det_aus = tuple(getattr(model, "aus"))
    aus = det_aus if aus is None else tuple(dict.fromkeys(int(a) for a in aus))
    pos = correct_positives(y_true, y_pred)
    idx, tgt, au_col = [], [], []
    for a in aus:
        if a not in det_aus:
            raise ValueError(f"AU{a} is not an output of the detector (it detects {list(det_aus)})")
        k = det_aus.index(a)
        chosen = pos[k][:int(n_per_au)]
        idx += chosen.tolist()
        tgt += [k] * len(chosen)
        au_col += [a] * len(chosen)
    if not idx:
        raise ValueError("the detector found no true positive for any AU: nothing to explain (train it longer?)")
    idx = np.asarray(idx)
    shape = dataset.images.shape[1:3]
    l68 = dataset.landmarks68
    box = np.stack([au_box_mask(l68[i], a, shape) for i, a in zip(idx, au_col)])
    truth = np.stack([dataset.region(int(i), a) for i, a in zip(idx, au_col)])
    maps = np.stack([au_map(dataset.landmarks[i], [a], shape) for i, a in zip(idx, au_col)]).astype(np.float32)
    return Task(name, inputs[torch.as_tensor(idx)], torch.as_tensor(tgt, dtype=torch.long), box, truth, maps,
                labels=dict(index=idx, target_name=[f"AU{a}" for a in au_col]))


def emotion_evidence_aus(emotion: str, active_aus, codebooks=("emfacs", "seed004")) -> list[int]:
    """The AUs on a face that are evidence for its emotion: its active AUs that a codebook lists for the emotion
    (the generator's prototype and often-added AUs); all the codebook's AUs if none is active."""
    from ..faces import codebook

    listed = [a for name in codebooks for a in codebook(name).get(str(emotion), ())]
    listed = list(dict.fromkeys(listed))
    active = [a for a in listed if a in set(int(x) for x in active_aus)]
    return active or listed


def emotion_task(model, inputs: torch.Tensor, dataset, y_true, y_pred, classes, n_per_class: int = 4,
                 codebook: str = "seed004", name: str = "emotion") -> Task:
    """Emotion-classifier task: for every non-neutral class, the first `n_per_class` correctly classified faces,
    explained at their class logit; references: the union of the boxes / true regions of the face's AUs that are
    evidence for its emotion, and seed 004's AU map of the emotion (`codebook`)."""
    from ..faces import codebook as get_codebook
    from ..faces.regions import au_box_mask
    from ..models.au_maps import au_maps

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = tuple(classes)
    book = get_codebook(codebook)
    idx = []
    for c, emo in enumerate(classes):
        if emo not in book:
            continue
        idx += np.flatnonzero((y_true == c) & (y_pred == c))[:int(n_per_class)].tolist()
    if not idx:
        raise ValueError("the classifier got no non-neutral face right: nothing to explain (train it longer?)")
    idx = np.asarray(idx)
    shape = dataset.images.shape[1:3]
    l68 = dataset.landmarks68
    box = np.zeros((len(idx), *shape), bool)
    truth = np.zeros((len(idx), *shape), bool)
    for j, i in enumerate(idx):
        emo = classes[int(y_true[i])]
        active = [a for a, v in zip(dataset.au_numbers, dataset.au_intensity[i]) if v > 0]
        for a in emotion_evidence_aus(emo, active):
            box[j] |= au_box_mask(l68[i], a, shape)
            if a in dataset.au_numbers:
                truth[j] |= dataset.region(int(i), a)
    emotions = np.asarray(classes, dtype=object)[y_true[idx]]
    maps = au_maps(dataset.landmarks[idx], emotions, codebook, shape)
    return Task(name, inputs[torch.as_tensor(idx)], torch.as_tensor(y_true[idx], dtype=torch.long), box, truth, maps,
                labels=dict(index=idx, target_name=emotions.astype(str)))


# --- chapter 10's browser and claims ----------------------------------------------------------------------------

def widget_views(models: dict, tasks: dict, sources: dict, methods, options: dict, n_faces: int = 2,
                 tile: int = 64) -> dict:
    """Precomputed views for the side-by-side browser: per model, {(face, target): PNG bytes} and the controls.

    The faces are the first `n_faces` distinct faces of each task; targets are every output of the model (each AU
    of the detector, each emotion of the classifier), explained by every method in one batched call per method.
    models, tasks, sources and options are keyed by model name (options: method -> explain() options)."""
    from ..explain import explain
    from ..faces.aus import au_number
    from ..viz.compare import map_tiles, png_bytes

    out = {}
    for name, task in tasks.items():
        model, src = models[name], sources[name]
        test = src["test"]
        faces = list(dict.fromkeys(int(i) for i in task.labels["index"]))[:int(n_faces)]
        if "classes" in src:
            targets = list(src["classes"])
            target_names = targets
        else:
            targets = [f"AU{a}" for a in model.aus]
            target_names = targets
        pairs = [(i, k) for i in faces for k in range(len(targets))]
        x = src["inputs"][torch.as_tensor([i for i, _ in pairs])]
        t = torch.as_tensor([k for _, k in pairs], dtype=torch.long)
        opts = options.get(name, {})
        maps = {m: explain(model, x, t, method=m, **opts.get(m, {})).detach().cpu().numpy() for m in methods}
        views = {}
        face_labels = []
        for fi, i in enumerate(faces):
            label = f"face {fi + 1} ({test.emotion[i]})"
            face_labels.append(label)
            active = [a for a, v in zip(test.au_numbers, test.au_intensity[i]) if v > 0]
            for k, tname in enumerate(target_names):
                j = pairs.index((i, k))
                if "classes" in src:
                    aus = emotion_evidence_aus(tname, active) if tname != "neutral" else []
                    true = [a for a in aus if a in active]
                    pred = src["classes"][int(src["y_pred"][i])]
                    title = f"explaining '{tname}' (true: {test.emotion[i]}, predicted: {pred})"
                else:
                    true = [au_number(tname)] if au_number(tname) in active else []
                    col = list(model.aus).index(au_number(tname))
                    title = (f"explaining {tname} (present: {'yes' if true else 'no'}, "
                             f"detected: {'yes' if src['y_pred'][i, col] > 0.5 else 'no'})")
                mask = np.zeros(test.images.shape[1:3], bool)
                for a in true:
                    mask |= test.region(int(i), a)
                views[(label, tname)] = png_bytes(map_tiles(test.images[i], {m: maps[m][j] for m in methods},
                                                            mask, tile=tile, title=title))
        out[name] = (views, {"face": face_labels, "target": target_names})
    return out


def chapter10_claims(summary, verdicts, threshold: float = 0.5, per_image=None, sanity=None, n_sanity: int | None = None):
    """Chapter 10's claim check (claim, paper, ours, control, verdict), every verdict from facexplain.claims.

    summary: summarize(per_image) with the control rows; per_image: the per-image scores (noise: SE over images);
    sanity: the cascading_randomization table (its spearman_sd over n_sanity faces gives the noise)."""
    from scipy.stats import spearmanr

    from ..claims import ClaimTable, judge, judge_count, judge_paired

    ct = ClaimTable()
    v = verdicts.set_index(["model", "method"])
    models = list(dict.fromkeys(verdicts["model"]))
    n_s = max(int(n_sanity or 1), 1)

    def se_at(model, method, col):
        if sanity is None:
            return float("nan")
        g = sanity[(sanity.model == model) & (sanity.method == method)].sort_values("step")
        layer = "layer4" if col == "spearman_top" else None
        row = g[g.layer.str.split(".").str[0] == layer].iloc[-1] if layer else g.iloc[-1]
        return float(row.spearman_sd) / np.sqrt(n_s)

    def has(method):
        return any((m, method) in v.index for m in models)

    pairs = [(k, m) for m in ("gradient", "gradcam") for k in models if (k, m) in v.index]
    if pairs:
        worst = max(pairs, key=lambda p: v.loc[p, "spearman_top"])
        ct.add("Gradient and GradCAM maps change when the model's weights are randomised (they pass the sanity "
               "check; Adebayo et al. 2018)",
               "pass (Inception v3 on ImageNet; rank correlation falls from the top layers on)",
               "; ".join(f"{m} on {k}: Spearman {v.loc[(k, m), 'spearman_top']:.2f} after head + layer4"
                         for k, m in pairs),
               f"the {threshold} line (a map unchanged by the weights keeps Spearman 1)",
               judge(v.loc[worst, "spearman_top"], threshold, noise=se_at(*worst, "spearman_top"), direction="lower",
                     why=f"the least changed pair ({worst[1]} on {worst[0]}); SE over the {n_s} faces"))
    zplus = [(k, m) for m in ("lrp.epsilon_plus", "lrp.epsilon_plus_flat", "lrp.epsilon_alpha2_beta1_flat")
             for k in models if (k, m) in v.index]
    grads = [(k, "gradient") for k in models if (k, "gradient") in v.index]
    if zplus and grads:
        z = np.mean([v.loc[p, "spearman_top"] for p in zplus])
        g = np.mean([v.loc[p, "spearman_top"] for p in grads])
        noise = np.hypot(np.mean([se_at(*p, "spearman_top") for p in zplus]),
                         np.mean([se_at(*p, "spearman_top") for p in grads]))
        ct.add("z+-type LRP rules are insensitive to randomising the later layers (Sixt et al. 2020)",
               "maps barely change when upper layers are random (VGG-16, proof for z+ / alpha-beta)",
               f"mean Spearman (of |map|) after randomising head + layer4: {z:.2f} over {len(zplus)} (rule, model) pairs",
               f"the plain gradient on the same faces: {g:.2f}",
               judge(z, g, noise=noise, why="SE over the faces"))
    inp = [(k, m) for m in ("gradient_x_input", "integrated_gradients") for k in models if (k, m) in v.index]
    if inp and grads:
        a = np.mean([v.loc[p, "spearman_full"] for p in inp])
        g = np.mean([v.loc[p, "spearman_full"] for p in grads])
        noise = np.hypot(np.mean([se_at(*p, "spearman_full") for p in inp]),
                         np.mean([se_at(*p, "spearman_full") for p in grads]))
        ct.add("Maps multiplied by the input (gradient x input, IG) keep more of their structure under "
               "randomisation than the plain gradient (Adebayo et al. 2018)",
               "qualitative: input-multiplied maps stay similar to the input after randomisation",
               f"mean Spearman (of |map|) with all layers random: {a:.2f}", f"the plain gradient: {g:.2f}",
               judge(a, g, noise=noise, why="SE over the faces"))

    def scores(task, method, col):
        if per_image is None:
            return np.array([])
        return per_image[(per_image.task == task) & (per_image.method == method)][col].to_numpy(np.float64)

    ctrl = ("control: random map", "control: edge map")
    s = summary.set_index(["task", "method"])
    if ("au_detector", "lrp.epsilon_plus_flat") in s.index and all(("au_detector", c) in s.index for c in ctrl):
        mu = float(s.loc[("au_detector", "lrp.epsilon_plus_flat"), "mu_box"])
        best = max(ctrl, key=lambda c: s.loc[("au_detector", c), "mu_box"])
        ct.add("An AU detector's LRP relevance concentrates in the AU's box only partly (Rieger et al. 2020, Table 3)",
               "mean mu 0.20-0.50 per AU (Actor Study), far from 1",
               f"mu in the box {mu:.2f} (LRP epsilon-plus-flat)",
               f"random map {s.loc[('au_detector', ctrl[0]), 'mu_box']:.2f}, edge map "
               f"{s.loc[('au_detector', ctrl[1]), 'mu_box']:.2f}",
               judge_paired(scores("au_detector", "lrp.epsilon_plus_flat", "mu_box"),
                            scores("au_detector", best, "mu_box"), full=mu < 0.7,
                            partly_why="above the controls, but mostly inside the box (mu >= 0.7)",
                            why=f"paired over images against the stronger control ({best})"))
    cams = [m for m in ("gradcam", "gradcam++", "layercam") if ("emotion", m) in s.index]
    if cams and ("emotion", ctrl[1]) in s.index:
        cos = {m: float(s.loc[("emotion", m), "cosine"]) for m in cams}
        low = min(cos, key=cos.get)
        ct.add("Without AU guidance, CAMs of an emotion classifier align only moderately with AU maps "
               "(Belharbi et al. 2024, Table 1, w/o AU)",
               "CAM-COS 0.55 (GradCAM), 0.60 (GradCAM++, LayerCAM) on RAF-DB",
               "cosine to the AU map: " + ", ".join(f"{m} {c:.2f}" for m, c in cos.items()),
               f"edge map {s.loc[('emotion', ctrl[1]), 'cosine']:.2f}, random map "
               f"{s.loc[('emotion', ctrl[0]), 'cosine']:.2f}",
               judge_paired(scores("emotion", low, "cosine"), scores("emotion", ctrl[1], "cosine"),
                            full=max(cos.values()) <= 0.8, partly_why="some CAM aligns closely (> 0.8)",
                            why=f"the lowest CAM ({low}) against the edge map, paired over images"))
    for task in ("au_detector", "emotion"):
        t = summary[(summary.task == task) & ~summary.method.str.startswith("control")]
        if len(t) >= 3:
            rho, p = spearmanr(t["mu_box"], t["mu_truth"])
            ct.add(f"(book) The landmark-box metric ranks the methods as the ground truth does ({task})",
                   "not testable in the papers (no ground-truth regions)",
                   f"Spearman of the methods' ranks by mu_box and mu_truth {rho:.2f} ({len(t)} methods); best by "
                   f"box: {t.loc[t['mu_box'].idxmax(), 'method']}, by truth: {t.loc[t['mu_truth'].idxmax(), 'method']}",
                   "no agreement (rank correlation 0)", judge(rho, 0.0, p_value=float(p), why="Spearman test"))
        if per_image is not None and "faithfulness" in per_image and (task, ctrl[1]) in s.index:
            methods = [m for m in t.method if not per_image[(per_image.task == task) & (per_image.method == m)]
                       .faithfulness.isna().all()]
            edge = scores(task, ctrl[1], "faithfulness")
            rnd = scores(task, ctrl[0], "faithfulness")
            wins = [m for m in methods
                    if judge_paired(scores(task, m, "faithfulness"), np.maximum(edge, rnd)).word == "reproduced"]
            ct.add(f"(book) The maps are faithful: the pixels they rank first move the {task} output more than an edge "
                   "map's do", "not measured in the papers",
                   f"{len(wins)}/{len(methods)} methods beat both controls (MoRF/LeRF perturbation score): "
                   + ", ".join(wins[:6]) + ("..." if len(wins) > 6 else ""),
                   f"edge map {np.nanmean(edge):.3f}, random map {np.nanmean(rnd):.3f}",
                   judge_count(len(wins), len(methods), chance=0.05, full=len(wins) == len(methods),
                               partly_why="some methods are no more faithful than the controls",
                               why="methods beating the controls in a paired test (alpha 0.05) vs a 5% false-win "
                                   "rate"))
    return ct.frame()


def lrp_box_options(low: float, high: float) -> dict:
    """explain() options for lrp.epsilon_gamma_box: the input range the model's inputs are normalised to
    (the AU detector: 0..1; the emotion classifier: (0 - 0.5) / 0.25 .. (1 - 0.5) / 0.25 = -2..2)."""
    return {"lrp.epsilon_gamma_box": dict(low=float(low), high=float(high))}


# --- the chapter's steps, as its notebook runs them -----------------------------------------------------------

def trained_models(cfg):
    """(chapter 01's detector, chapter 04's classifier) as dicts (see studies.shared), from the chapters' cache."""
    from .shared import chapter01_detector, chapter04_classifier

    det = chapter01_detector(cfg.preset, cfg.seed, cfg.device, n_faces=cfg.train_faces, epochs=cfg.train_epochs)
    clf = chapter04_classifier(cfg.preset, cfg.seed, cfg.device, lam=cfg.fer_lam, n_faces=cfg.train_faces,
                               epochs=cfg.train_epochs)
    return det, clf


def describe(det: dict, clf: dict) -> str:
    from sklearn.metrics import f1_score

    f1 = f1_score(det["y_true"], det["y_pred"], average=None, zero_division=0)
    return (f"AU detector (chapter 1, fold {det['fold']}): {len(det['test'])} held-out faces, "
            f"F1 per AU {dict(zip(det['config'].aus, f1.round(2)))}\n"
            f"emotion classifier (chapter 4, lambda={clf['lam']}): {len(clf['test'])} test faces, "
            f"accuracy {(clf['y_pred'] == clf['y_true']).mean():.3f}")


def tasks_of(cfg, det: dict, clf: dict):
    """(tasks, models, options) keyed "au_detector" / "emotion". EpsilonGammaBox needs each model's input range:
    [0, 1] for the detector, (0 - 0.5) / 0.25 .. (1 - 0.5) / 0.25 for the classifier."""
    tasks = {"au_detector": au_task(det["model"], det["inputs"], det["test"], det["y_true"], det["y_pred"],
                                    n_per_au=cfg.n_per_au),
             "emotion": emotion_task(clf["model"], clf["inputs"], clf["test"], clf["y_true"], clf["y_pred"],
                                     clf["classes"], n_per_class=cfg.n_per_class)}
    models = {"au_detector": det["model"], "emotion": clf["model"]}
    options = {"au_detector": lrp_box_options(0.0, 1.0), "emotion": lrp_box_options(-2.0, 2.0)}
    return tasks, models, options


def compare_all(cfg, tasks: dict, models: dict, options: dict):
    """Every method on every task, with the controls (a random map and the input's Sobel edge map) scored by every
    metric, faithfulness included (explainers.csv, explainers_per_image.csv): (summary, per_image, timing, maps by
    task). Faithfulness imputes removed pixels with the image mean under the cpu preset, with ROAD's noisy linear
    imputer under the paper preset."""
    import pandas as pd

    from ..cache import atomic_to_csv

    faith = dict(percentiles=(20, 50, 80), imputer="road" if cfg.preset == "paper" else "mean")
    per_image, timing, maps = [], [], {}
    for name, task in tasks.items():
        p, t, maps[name] = compare_methods(models[name], task, cfg.methods, options[name], faithfulness=faith,
                                           seed=cfg.seed)
        per_image += [p, control_scores(models[name], task, cfg.seed, faithfulness=faith)]
        timing.append(t)
    per_image, timing = pd.concat(per_image, ignore_index=True), pd.concat(timing, ignore_index=True)
    summary = summarize(per_image, timing)
    atomic_to_csv(summary.round(4), cfg.out / "explainers.csv")
    atomic_to_csv(per_image.round(4), cfg.out / "explainers_per_image.csv")
    return summary, per_image, timing, maps


def summary_view(summary):
    return summary[["task", "method", *METRICS, "n"]].round(3)


def metrics_figure(summary, tasks: dict):
    import matplotlib.pyplot as plt

    from ..viz.compare import metric_heatmap

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4.6))
    for ax, name in zip(np.atleast_1d(axes), tasks):
        metric_heatmap(summary[summary.task == name], ax=ax, title=name.replace("_", " "))
    fig.tight_layout()
    return fig


def timing_view(timing, methods):
    """Milliseconds per image, method x task."""
    t = timing.assign(ms_per_image=1000 * timing.seconds_per_image)
    return t.pivot(index="method", columns="task", values="ms_per_image").loc[list(methods)].round(1)


def browsers(cfg, models: dict, tasks: dict, det: dict, clf: dict, options: dict) -> list:
    """One kernel-free side-by-side browser per model: every method on a few faces, for every output."""
    from ..viz.widgets import browser

    views = widget_views(models, tasks, {"au_detector": det, "emotion": clf}, cfg.methods, options, cfg.widget_faces)
    # the tiles are stored small (about 30 views per page) and shown 1.5x larger
    return [browser(v, controls, title=f"{name.replace('_', ' ')}: every method on one face", scale=1.5)
            for name, (v, controls) in views.items()]


def sanity_cascade(job, models: bytes, picked: dict, options: dict, seed: int):
    """One grid task of the randomisation check: cascading_randomization of model `job[0]` for method `job[1]` on its
    picked faces, seeded here, so it gives the same table and maps in the kernel, serially or on a Dask worker.
    `models` is the {name: model} dict as torch.save bytes: Dask's own transport of a module loses the ordered dicts
    its hooks need (zennit then fails with "cannot create weak reference to 'dict' object")."""
    import torch

    from ..grid import unpack
    from ..metrics.sanity import cascading_randomization

    name, method = job
    models = unpack(models)
    x, target = picked[name]
    torch.manual_seed(int(seed))                     # SmoothGrad's noise and the like: the same draws anywhere
    return cascading_randomization(models[name], x, target, [method], seed=seed, method_options=options[name],
                                   keep_maps=True)


def sanity(cfg, tasks: dict, models: dict, options: dict):
    """The cascading randomisation check on n_sanity faces per model (sanity.csv, sanity_verdicts.csv):
    (per step table, verdicts, every step's map of the first face per (model, method))."""
    import pandas as pd

    from .. import grid
    from ..cache import atomic_to_csv
    from ..metrics.sanity import sanity_verdicts

    picked = {}
    for name, task in tasks.items():
        pick = np.linspace(0, len(task) - 1, cfg.n_sanity).round().astype(int)
        picked[name] = (task.inputs[pick], task.target[pick])
    jobs = [(name, method) for name in tasks for method in cfg.sanity_methods]
    done = grid.run(sanity_cascade, jobs, shared=dict(models=grid.pack({name: models[name] for name in tasks}), picked=picked, options=options, seed=cfg.seed),
                    key=lambda job: f"sanity {job[0]} {job[1]}", scheduler=cfg.get("scheduler"),
                    progress=cfg.get("progress", False), desc="cascading randomisation")
    parts, strips = [], {}
    for (name, method), (tab, kept) in zip(jobs, done):
        parts.append(tab.assign(model=name))
        strips[(name, method)] = kept[method][:, 0]
    table = pd.concat(parts, ignore_index=True)
    atomic_to_csv(table[["model", "method", "step", "layer", "spearman", "ssim", "spearman_sd", "ssim_sd"]].round(4),
                  cfg.out / "sanity.csv")
    verdicts = pd.concat([sanity_verdicts(g, cfg.sanity_threshold).assign(model=name)
                          for name, g in table.groupby("model")], ignore_index=True)
    atomic_to_csv(verdicts.round(4), cfg.out / "sanity_verdicts.csv")
    return table, verdicts, strips


def verdicts_view(verdicts):
    return verdicts[["model", "method", "spearman_top", "ssim_top", "spearman_full", "ssim_full", "first_drop",
                     "verdict"]].round(3)


def sanity_strip(sanity_table, strips: dict, tasks: dict, methods) -> bytes:
    """PNG: every randomisation step's map of the first face, per model and method."""
    from ..viz.compare import sanity_strip as draw
    from ..viz.compare import step_layers

    layers = step_layers(sanity_table)
    shown = [n for n in ("none", "fc", "layer4.0", "layer3.0", "layer2.0", "layer1.0", "stem")
             if all(n in layers[name] for name in tasks)]
    return draw({(name, m): strips[(name, m)] for m in methods for name in tasks}, layers, shown)


def claims(cfg, summary, verdicts, per_image=None, sanity_table=None):
    """The chapter's claim check (claims.csv), every verdict from facexplain.claims; the noise comes from the per-image
    scores and the randomisation table (default: the run's explainers_per_image.csv and sanity.csv)."""
    import pandas as pd

    from ..claims import write_claims

    if per_image is None:
        per_image = pd.read_csv(cfg.out / "explainers_per_image.csv")
    if sanity_table is None and (cfg.out / "sanity.csv").exists():
        sanity_table = pd.read_csv(cfg.out / "sanity.csv")
    table = chapter10_claims(summary, verdicts, cfg.sanity_threshold, per_image=per_image, sanity=sanity_table,
                             n_sanity=cfg.n_sanity)
    write_claims(table, cfg.out)
    return table


__all__ = ["PARAMETERS", "PRESETS", "settings", "browsers", "claims", "compare_all", "describe", "metrics_figure",
           "sanity", "sanity_cascade", "sanity_strip", "summary_view", "tasks_of", "timing_view", "trained_models", "verdicts_view", "METRICS", "ALL_METHODS", "Task", "score_maps", "compare_methods", "chance_scores", "control_scores", "summarize", "au_task",
           "emotion_evidence_aus", "emotion_task", "widget_views", "chapter10_claims", "lrp_box_options"]
