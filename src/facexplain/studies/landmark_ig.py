"""The landmark chapter's pipeline (Di Luzio et al.): binary T-EMO/R-EMO nets per emotion, global IG landmark
rankings, retraining on the top-k landmarks over seeds, SVM baselines on the same inputs, top-k precision.

Every trained net is cached by its full config (data, split, landmarks, architecture, training settings, seed),
so a re-run with the same parameters loads the weights and reproduces the tables exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..cache import config_hash
from ..data.sequences import (AUGMENTATIONS, LANDMARK_SOURCES, NORMALISATIONS, SequenceSet, augment,
                              select_landmarks)
from ..explain.global_ig import METHODS as IG_RULES, emotion_baselines, global_ig
from ..models.emo_lstm import make_emo, paper_hyperparameters, train_emo
from .settings import Param, resolve

NETS = ("t-emo", "r-emo")

#: Torch threads in the chapter's kernel. The nets are tiny (a few thousand weights per time step), so a second
#: thread only adds synchronisation; with any other load on the machine, OpenMP's waiting made global IG 10x slower
#: on 2 threads than on 1 (measured 41 s vs 3.9 s for one net). The grid's tasks run on one thread anyway.
TORCH_THREADS = 1

#: Balanced accuracy on held-out clips (chance 0.5) at or below which a net's ranking is not read as evidence: the
#: net learnt (next to) nothing, and its gradients say nothing about the emotion.
LEARNT_NOTHING = 0.6

#: preset -> values of the parameters left at None (paper: filters/lstm_units/fc1 None = the paper's Tables 1-5)
PRESETS = {
    "cpu": dict(n_sequences=240, n_frames=8, filters=4, lstm_units=16, fc1=16, epochs=12, lr=3e-3, batch_size=32,
                n_seeds=3, ks=(468, 234, 128, 64, 32, 16), ig_steps=64, ig_method="riemann_middle", ig_samples=30,
                augmentation="none", normalisation="neutral"),
    "paper": dict(n_sequences=600, n_frames=16, filters=None, lstm_units=None, fc1=None, epochs=100, lr=1e-4,
                  batch_size=16, n_seeds=10, ks=(468, 234, 128, 64, 32, 16), ig_steps=128, ig_method="riemann_right",
                  ig_samples=None, augmentation="mirror", normalisation="neutral"),
    # the paper's shapes (16 frames, its architecture tables, 10 seeds, all six k, mirror augmentation), tiny counts
    "paper-smoke": dict(n_sequences=72, epochs=1, ig_steps=4, ig_samples=4),
}

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=("synthetic", "ckplus")),
    "landmarks": Param("str", "mediapipe", choices=LANDMARK_SOURCES),
    "n_sequences": Param("int", None, low=12),
    "n_frames": Param("int", None, low=2),
    "filters": Param("int", None, low=1, none=True),
    "lstm_units": Param("int", None, low=1, none=True),
    "fc1": Param("int", None, low=1, none=True),
    "epochs": Param("int", None, low=1),
    "lr": Param("float", None, low=0, low_open=True),
    "batch_size": Param("int", None, low=1),
    "n_seeds": Param("int", None, low=1),
    "ks": Param("ints", None, low=1, high=468),
    "ig_steps": Param("int", None, low=1),
    "ig_method": Param("str", None, choices=IG_RULES),
    "ig_samples": Param("int", None, low=1, none=True),
    "augmentation": Param("str", None, choices=("none", *AUGMENTATIONS[1:])),
    "normalisation": Param("str", None, choices=NORMALISATIONS),
    "test_fraction": Param("float", 0.25, low=0, high=0.95, low_open=True),
    "truth_threshold": Param("float", 0.03, low=0, low_open=True),
}


def settings(preset: str = "cpu", **given):
    """Chapter 03's parameters: the given ones, the rest from the preset, every one checked."""
    cfg = resolve("03_landmark_ig", PARAMETERS, PRESETS, preset, given)
    cfg["ks"] = tuple(cfg.ks)
    cfg["augmentation"] = None if cfg.augmentation == "none" else cfg.augmentation
    return cfg


@dataclass
class TrainSettings:
    """How every binary net is trained (the paper: ADAM, lr 1e-4, batch 16)."""

    epochs: int = 12
    lr: float = 1e-4
    batch_size: int = 16
    balanced: bool = False
    augmentation: str | None = None
    filters: int | None = None        # None -> the paper's Table 1-5 value for (emotion, k)
    lstm_units: int | None = None
    fc1: int | None = None
    dropout: float = 0.2
    device: str = "cpu"
    extra: dict = field(default_factory=dict)   # anything else the weights depend on (data key, ...)

    def architecture(self, emotion: str, k: int) -> dict:
        """(filters, lstm_units, fc1) for this emotion and k: explicit values win, else the paper's tables."""
        given = dict(filters=self.filters, lstm_units=self.lstm_units, fc1=self.fc1)
        if all(v is not None for v in given.values()):
            return {key: int(v) for key, v in given.items()}
        paper = paper_hyperparameters(emotion, k)
        return {key: int(v) if v is not None else paper[key] for key, v in given.items()}


def data_key(seqs: SequenceSet, train_idx) -> dict:
    """What a net's weights depend on from the data: the dataset's identity and the training split."""
    return dict(info=seqs.info, n=len(seqs), shape=list(seqs.x.shape),
                train=config_hash(dict(idx=np.asarray(train_idx).tolist())),
                checksum=float(np.round(np.abs(seqs.x).sum(dtype=np.float64), 3)))


def train_net(seqs: SequenceSet, train_idx, emotion: str, net: str, landmarks, seed: int,
              settings: TrainSettings):
    """One binary net for `emotion` on the given landmarks (indices into the 468), trained (or loaded) by seed."""
    from ..train import cached_model

    landmarks = np.asarray(landmarks, dtype=np.int64)
    arch = settings.architecture(emotion, len(landmarks))
    config = dict(emotion=emotion, net=net, seed=int(seed), arch=arch,
                  landmarks=config_hash(dict(l=landmarks.tolist())), k=int(len(landmarks)),
                  epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size,
                  balanced=settings.balanced, augmentation=settings.augmentation, dropout=settings.dropout,
                  data=settings.extra or {})

    def make():
        torch.manual_seed(int(seed))          # R-EMO's random filters (and every init) depend on the seed
        return make_emo(net, len(landmarks), dropout=settings.dropout, **arch)

    def fit(model):
        x, y = augment(seqs.x[train_idx], seqs.binary(emotion)[train_idx], settings.augmentation)
        train_emo(model, select_landmarks(x, landmarks), y, epochs=settings.epochs, lr=settings.lr,
                  batch_size=settings.batch_size, seed=int(seed), device=settings.device,
                  balanced=settings.balanced)

    return cached_model("emo_lstm", config, make, fit, code=(make_emo, augment), device=settings.device).cpu()


@torch.no_grad()
def accuracy(model, x, y) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of a binary net on (x, y)."""
    model.eval()
    p = model(torch.as_tensor(x)).argmax(1).numpy()
    y = np.asarray(y)
    acc = float((p == y).mean())
    rates = [float((p[y == c] == c).mean()) for c in (0, 1) if (y == c).any()]
    return acc, float(np.mean(rates))


def _ig_inputs(seqs: SequenceSet, train_idx, max_samples: int | None, seed: int):
    """The training clips and their labels (baselines are built from these), and the clips global IG explains:
    all of them, or a seeded random `max_samples` of them."""
    train_idx = np.asarray(train_idx)
    x, lab = seqs.x[train_idx], seqs.emotion[train_idx].astype(str)
    inputs = x
    if max_samples is not None and max_samples < len(x):
        pick = np.sort(np.random.default_rng(seed).choice(len(x), int(max_samples), replace=False))
        inputs = x[pick]
    return x, lab, inputs


def emotion_ig(emotion: str, models: dict, x, lab, inputs, emotions, n_steps: int, method: str, batch_size: int):
    """Global IG of the net for `emotion` against the typical clips of the other emotions (one grid task; `models`:
    {emotion: net} as grid.pack bytes)."""
    from ..grid import unpack

    base, _ = emotion_baselines(x, lab, emotion, emotions)
    return global_ig(unpack(models)[emotion], inputs, base, target=1, n_steps=n_steps, method=method, batch_size=batch_size)


def global_rankings(models: dict, seqs: SequenceSet, train_idx, n_steps: int = 16, method: str = "gausslegendre",
                    batch_size: int = 128, max_samples: int | None = None, seed: int = 0, scheduler=None,
                    progress: bool = False):
    """Global IG per emotion for {emotion: net on all landmarks}: (ranking DataFrame, {emotion: GlobalIG}).

    Baselines: the typical training clip of each other emotion. Inputs: every training clip (or a seeded random
    `max_samples` of them). The emotions are independent tasks of facexplain.grid (serial or Dask, same result)."""
    from .. import grid

    x, lab, inputs = _ig_inputs(seqs, train_idx, max_samples, seed)
    emotions = list(models)
    done = grid.run(emotion_ig, emotions, shared=dict(models=grid.pack(models), x=x, lab=lab, inputs=inputs,
                                                      emotions=seqs.emotions, n_steps=n_steps, method=method,
                                                      batch_size=batch_size),
                    scheduler=scheduler, progress=progress, desc="global IG")
    rows, results = [], {}
    for emotion, r in zip(emotions, done):
        results[emotion] = r
        rank = np.empty(len(r.ranking), np.int64)
        rank[r.ranking] = np.arange(1, len(r.ranking) + 1)
        rows.append(pd.DataFrame(dict(emotion=emotion, landmark=np.arange(len(r.importance)),
                                      importance=r.importance, rank=rank)))
    return pd.concat(rows, ignore_index=True), results


def ranking_of(table: pd.DataFrame, emotion: str) -> np.ndarray:
    """Landmark indices of `emotion` from most to least important, from a landmark_ranking table."""
    t = table[table.emotion == emotion].sort_values("rank")
    if t.empty:
        raise ValueError(f"no ranking for {emotion!r} in the table")
    return t.landmark.to_numpy()


def seed_split(seqs: SequenceSet, test_fraction: float, seed: int, val_fraction: float = 0.15, attempts: int = 50):
    """(train, val, test) indices for one seed, as in the paper (the partition varies with the seed): subjects held
    out for testing, and some of the remaining subjects for validation (where k is chosen). Every emotion must occur
    in each part; a draw where one does not is replaced by the next draw derived from the seed (deterministic)."""
    from ..data.sequences import split_by_subject

    for attempt in range(int(attempts)):
        s = int(seed) if attempt == 0 else int(seed) * 7919 + attempt
        try:
            train, test = split_by_subject(seqs, test_fraction=test_fraction, seed=s)
        except ValueError:
            continue
        sub = seqs.subset(train)
        for frac in (val_fraction, 0.25):
            try:
                tr, va = split_by_subject(sub, test_fraction=frac, seed=s + 1)
                return train[tr], train[va], test
            except ValueError:
                continue
    raise ValueError(f"no train/validation/test partition of seed {seed} holds every emotion in each part: use more "
                     "sequences (n_sequences)")


def topk_run(job, seqs: SequenceSet, splits: dict, rankings: dict, settings: TrainSettings) -> dict:
    """One cell of the top-k grid: (net, emotion, k, seed) retrained on its top-k landmarks on that seed's
    partition (splits[seed] = seed_split(...)); its validation and test accuracy."""
    from dataclasses import replace

    net, emotion, k, seed = job
    tr, va, te = splits[int(seed)]
    lm = np.sort(np.asarray(rankings[net][emotion])[: int(k)])   # the top k, in landmark order (k=468: all)
    s = replace(settings, extra=dict(settings.extra, train=data_key(seqs, tr)["train"]))
    model = train_net(seqs, tr, emotion, net, lm, seed, s)
    acc, bacc = accuracy(model, select_landmarks(seqs.x[te], lm), seqs.binary(emotion)[te])
    val, _ = accuracy(model, select_landmarks(seqs.x[va], lm), seqs.binary(emotion)[va])
    return dict(net=net.upper(), emotion=emotion, k=int(k), seed=int(seed), acc=acc, bacc=bacc, val_acc=val)


def topk_runs(seqs: SequenceSet, rankings: dict, ks, seeds, settings: TrainSettings, test_fraction: float = 0.25,
              nets=NETS, progress: bool = False, scheduler: str | None = None, timings=None) -> pd.DataFrame:
    """Retrain every (net, emotion, k, seed) on the top-k landmarks of that net's ranking, each seed on its own
    train/validation/test partition (seed_split); one row per run with validation and test accuracy.
    The runs are independent: facexplain.grid runs them serially or on Dask (`scheduler`), same rows either way."""
    from .. import grid

    splits = {int(s): seed_split(seqs, test_fraction, int(s)) for s in seeds}
    jobs = [(net, e, int(k), int(s)) for net in nets for e in seqs.emotions for k in ks for s in seeds]
    rows = grid.run(topk_run, jobs, shared=dict(seqs=seqs, splits=splits, rankings=rankings, settings=settings),
                    scheduler=scheduler, progress=progress, desc="top-k retraining", timings=timings)
    return pd.DataFrame(rows)


def chosen_k(runs: pd.DataFrame, among=None) -> pd.DataFrame:
    """Per (net, emotion, seed) the k with the best validation accuracy (ties: the larger k), among `among` ks
    (default all), with its test accuracy: columns net, emotion, seed, k, acc."""
    r = runs if among is None else runs[runs.k.isin(list(among))]
    r = r.sort_values(["net", "emotion", "seed", "val_acc", "k"], ascending=[True, True, True, False, False])
    return r.groupby(["net", "emotion", "seed"], sort=False).head(1)[["net", "emotion", "seed", "k", "acc"]]


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """topk_accuracy table: net, emotion, k, acc_mean, acc_std, n_seeds (+ balanced accuracy mean/std)."""
    g = runs.groupby(["net", "emotion", "k"], sort=False)
    out = g.agg(acc_mean=("acc", "mean"), acc_std=("acc", lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0),
                n_seeds=("seed", "nunique"), bacc_mean=("bacc", "mean"),
                bacc_std=("bacc", lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0)).reset_index()
    return out


def svm_baselines(seqs: SequenceSet, rankings: dict, ks, seeds, test_fraction: float = 0.25,
                  augmentation=None) -> pd.DataFrame:
    """Linear- and RBF-SVMs (scikit-learn, standardised features) on the same inputs (flattened clips of the top-k
    landmarks) and the same per-seed partitions as topk_runs, plus the majority-class rate of each test set."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rows = []
    for seed in seeds:
        train_idx, _, test_idx = seed_split(seqs, test_fraction, int(seed))
        for emotion in seqs.emotions:
            y = seqs.binary(emotion)
            x_tr, y_tr = augment(seqs.x[train_idx], y[train_idx], augmentation)
            y_te = y[test_idx]
            for k in ks:
                lm = np.sort(np.asarray(rankings[emotion])[: int(k)])
                a = select_landmarks(x_tr, lm).reshape(len(x_tr), -1)
                b = select_landmarks(seqs.x[test_idx], lm).reshape(len(test_idx), -1)
                for name, kernel in (("linear SVM", "linear"), ("RBF SVM", "rbf")):
                    clf = make_pipeline(StandardScaler(), SVC(kernel=kernel)).fit(a, y_tr)
                    p = clf.predict(b)
                    rates = [float((p[y_te == c] == c).mean()) for c in (0, 1) if (y_te == c).any()]
                    rows.append(dict(model=name, emotion=emotion, k=int(k), seed=int(seed),
                                     acc=float((p == y_te).mean()), bacc=float(np.mean(rates))))
            rows.append(dict(model="majority class", emotion=emotion, k=468, seed=int(seed),
                             acc=float(max(y_te.mean(), 1 - y_te.mean())), bacc=0.5))
    return pd.DataFrame(rows)


def control_rankings(nets: dict, seqs: SequenceSet, train_idx, n_steps: int = 16, method: str = "gausslegendre",
                     max_samples: int | None = None, seed: int = 0, random_weights: bool = True, scheduler=None,
                     progress: bool = False) -> pd.DataFrame:
    """The rankings' controls, as landmark_ranking rows (net, emotion, landmark, importance, rank):
    "INPUT_ONLY" ranks the landmarks by mean ``|x - x'|`` against the same baselines and inputs as global IG (no
    network); "RANDOM-WEIGHTS" (with `random_weights`) is global IG of the T-EMO nets with re-initialised weights."""
    from ..explain.global_ig import rank_landmarks
    from ..metrics.controls import input_only_importance
    from ..metrics.controls import random_weights as reinitialised

    x, lab, inputs = _ig_inputs(seqs, train_idx, max_samples, seed)
    rows = []
    for emotion in seqs.emotions:
        base, _ = emotion_baselines(x, lab, emotion, seqs.emotions)
        imp = input_only_importance(inputs, base)
        rank = np.empty(len(imp), np.int64)
        rank[rank_landmarks(imp)] = np.arange(1, len(imp) + 1)
        rows.append(pd.DataFrame(dict(net="INPUT_ONLY", emotion=emotion, landmark=np.arange(len(imp)),
                                      importance=imp, rank=rank)))
    if random_weights:
        rnd = {e: reinitialised(m, seed=seed) for e, m in nets["t-emo"].items()}
        table, _ = global_rankings(rnd, seqs, train_idx, n_steps=n_steps, method=method, max_samples=max_samples,
                                   seed=seed, scheduler=scheduler, progress=progress)
        rows.append(table.assign(net="RANDOM-WEIGHTS"))
    return pd.concat(rows, ignore_index=True)[["net", "emotion", "landmark", "importance", "rank"]]


def precision_table(rankings: dict, truth: dict, ks, n_landmarks: int = 468) -> pd.DataFrame:
    """Top-k precision of each net's ranking against the moved-landmark truth, with the chance level ``|truth| / L``."""
    from ..metrics.landmarks import topk_precision
    rows = []
    for net, per_emotion in rankings.items():
        for emotion, ranking in per_emotion.items():
            for k in ks:
                if int(k) >= n_landmarks:
                    continue
                rows.append(dict(net=net.upper(), emotion=emotion, k=int(k),
                                 precision=topk_precision(ranking, truth[emotion], k),
                                 chance=len(truth[emotion]) / n_landmarks, n_truth=len(truth[emotion])))
    return pd.DataFrame(rows)


def accuracy_grid(summary: pd.DataFrame, net: str, column: str = "acc") -> pd.DataFrame:
    """Tables 6/7 layout: emotions x k, cells 'mean ± std'."""
    t = summary[summary.net == net.upper()]
    cell = t.apply(lambda r: f"{r[column + '_mean']:.3f} ± {r[column + '_std']:.3f}", axis=1)
    grid = t.assign(cell=cell).pivot(index="emotion", columns="k", values="cell")
    return grid[sorted(grid.columns, reverse=True)]


#: The paper's Table 6 (T-EMO) and 7 (R-EMO) mean accuracies, k = 468, 234, 128, 64, 32, 16.
PAPER_TABLES = {
    "T-EMO": dict(anger=(.924, .926, .905, .903, .924, .891), disgust=(.934, .964, .964, .951, .948, .925),
                  fear=(.948, .971, .974, .964, .950, .919), happiness=(.986, .988, .982, .979, .981, .978),
                  sadness=(.920, .905, .916, .914, .922, .910), surprise=(.993, .995, .995, .993, .991, .986)),
    "R-EMO": dict(anger=(.889, .874, .862, .874, .883, .866), disgust=(.941, .941, .953, .897, .905, .887),
                  fear=(.934, .948, .939, .936, .924, .907), happiness=(.968, .978, .971, .957, .966, .964),
                  sadness=(.907, .893, .893, .907, .898, .893), surprise=(.962, .981, .976, .981, .974, .974)),
}
PAPER_KS = (468, 234, 128, 64, 32, 16)


def claims_table(runs: pd.DataFrame, svm: pd.DataFrame, precision: pd.DataFrame, completeness: pd.DataFrame,
                 ks, precision_by_norm: dict | None = None) -> pd.DataFrame:
    """The chapter's claim check (claim, paper, ours, control, verdict), every verdict from facexplain.claims.

    runs: topk_runs (validation and test accuracy per seed, the partition varying by seed); svm: svm_baselines on
    the same partitions; precision: precision_table rows of T-EMO, R-EMO, INPUT_ONLY, RANDOM-WEIGHTS;
    precision_by_norm: {normalisation: such a table} when the chapter also ran another normalisation."""
    from ..claims import ClaimTable, judge, judge_paired, not_comparable

    ks = [int(k) for k in ks]
    t = ClaimTable()
    emotions = list(dict.fromkeys(runs.emotion))
    smaller = [k for k in ks if k < 468]
    by_norm = dict(precision_by_norm or {})
    if not by_norm:
        by_norm = {"the chapter's": precision}

    # 1. top landmarks = moving landmarks, judged by IG's margin over the network-free ranking
    for norm, prec in by_norm.items():
        if prec is None or prec.empty:
            continue
        k_p = 32 if 32 in set(prec.k) else int(prec.k.min())
        p = prec[prec.k == k_p].pivot_table(index="emotion", columns="net", values="precision")
        if "T-EMO" not in p or "INPUT_ONLY" not in p:
            continue
        ch = float(prec[prec.k == k_p].chance.mean())
        rnd = f", random-weights net {p['RANDOM-WEIGHTS'].mean():.2f}" if "RANDOM-WEIGHTS" in p else ""
        why = "over emotions; IG multiplies by (x - x'), so it must beat that factor alone"
        bacc = prec[prec.net == "T-EMO"].groupby("emotion").bacc.first() if "bacc" in prec else pd.Series(dtype=float)
        learnt = ""
        if bacc.notna().any():       # the nets ranked here were trained for this check alone: did they learn?
            learnt = f"; the nets' balanced accuracy {bacc.mean():.2f} on held-out clips"
            idle = sorted(e for e, b in bacc.items() if b <= LEARNT_NOTHING)
            if idle:                 # a net at chance ranks noise: its emotion is no evidence either way
                p = p.drop(index=[e for e in idle if e in p.index])
                learnt += f" ({', '.join(idle)} at chance, left out)"
        ours = f"T-EMO global IG top-{k_p} precision {p['T-EMO'].mean():.2f} (mean of {len(p)} emotions){learnt}"
        verdict = (not_comparable(f"{len(p)} emotion(s) whose nets learnt something; " + why) if len(p) < 3
                   else judge_paired(p["T-EMO"].to_numpy(), p["INPUT_ONLY"].to_numpy(), why=why))
        t.add(f"the globally most important landmarks are where the emotion moves the face ({norm} normalisation)",
              "qualitative (Fig. 3: lips and mouth kept, nose and outline dropped)", ours,
              f"input only (mean |x - x'|, no network): {p['INPUT_ONLY'].mean():.2f}{rnd}; chance {ch:.2f}", verdict)

    acc = runs.set_index(["net", "emotion", "k", "seed"]).acc
    # 2. fewer landmarks raise accuracy: k chosen on validation among k < 468, tested against 468 on the same seed
    for net in ("T-EMO", "R-EMO"):
        if not smaller or net not in set(runs.net):
            continue
        paper = PAPER_TABLES[net]
        p_up = sum(max(v[1:]) > v[0] for v in paper.values())
        c = chosen_k(runs[runs.net == net], among=smaller)
        full_acc = np.array([acc[(net, r.emotion, 468, r.seed)] for r in c.itertuples()])
        gaps = pd.Series(c.acc.to_numpy() - full_acc, index=c.emotion.to_numpy()).groupby(level=0).mean()
        up = int((gaps > 0).sum())
        t.add(f"{net}: some k < 468 beats all 468 landmarks", f"{p_up}/6 emotions (best of 5 k on the test set)",
              f"k chosen on validation: {c.acc.mean():.3f} vs {full_acc.mean():.3f} at 468; higher for {up}/"
              f"{len(gaps)} emotions (mean over {c.seed.nunique()} seeds)",
              "all 468 landmarks, same seed and partition",
              judge_paired(c.acc.to_numpy(), full_acc, full=up >= min(5, p_up),
                           partly_why=f"higher for {up}/{len(gaps)} emotions only",
                           why="paired over (emotion, seed); k chosen on a validation split"))

    # 3. accuracy drops below 64 landmarks
    if 64 in ks and 16 in ks and "T-EMO" in set(runs.net):
        t_paper = np.mean([v[PAPER_KS.index(16)] - v[PAPER_KS.index(64)] for v in PAPER_TABLES["T-EMO"].values()])
        r = runs[runs.net == "T-EMO"]
        a16 = r[r.k == 16].set_index(["emotion", "seed"]).acc
        a64 = r[r.k == 64].set_index(["emotion", "seed"]).acc.reindex(a16.index)
        t.add("T-EMO accuracy drops visibly below 64 landmarks", f"mean acc(16) - acc(64) = {t_paper:+.3f}",
              f"{(a16 - a64).mean():+.3f}", "k = 64, same seed and partition",
              judge_paired(a16.to_numpy(), a64.to_numpy(), direction="lower", why="paired over (emotion, seed)"))

    # 4. T-EMO (k chosen on validation) vs the SVMs on the same inputs and partitions
    if "T-EMO" in set(runs.net):
        best_t = chosen_k(runs[runs.net == "T-EMO"]).set_index(["emotion", "seed"]).acc
        s = svm[svm.k == 468].set_index(["model", "emotion", "seed"]).acc
        for name, p_wins in (("linear SVM", 6), ("RBF SVM", 5)):
            other = np.array([s[(name, e, sd)] for e, sd in best_t.index])
            wins = int((best_t.groupby(level=0).mean() > pd.Series(other, index=best_t.index).groupby(level=0).mean())
                       .sum())
            t.add(f"T-EMO beats the {name}", f"{p_wins}/6 emotions (SVM from another study on CK+)",
                  f"{best_t.mean():.3f} vs {other.mean():.3f}; higher for {wins}/{len(emotions)} emotions",
                  f"{name} on the same 468-landmark inputs and partitions",
                  judge_paired(best_t.to_numpy(), other, full=wins >= p_wins,
                               partly_why=f"higher for {wins}/{len(emotions)} emotions only",
                               why="paired over (emotion, seed); T-EMO's k chosen on validation"))

    # 5. R-EMO's best below T-EMO's best
    if {"T-EMO", "R-EMO"} <= set(runs.net):
        bt = chosen_k(runs[runs.net == "T-EMO"]).set_index(["emotion", "seed"]).acc
        br = chosen_k(runs[runs.net == "R-EMO"]).set_index(["emotion", "seed"]).acc.reindex(bt.index)
        t.add("R-EMO's best configuration stays below T-EMO's best", "6/6 emotions",
              f"{br.mean():.3f} vs {bt.mean():.3f} (each at its k chosen on validation)",
              "T-EMO, same seed and partition",
              judge_paired(br.to_numpy(), bt.to_numpy(), direction="lower", why="paired over (emotion, seed)"))

    # 6. IG completeness
    worst = float(completeness.completeness_error.max())
    t.add("IG attributions add up to F(x) - F(baseline) (completeness)",
          "a property of IG (Sect. 3.1); no number reported",
          f"worst relative error {worst:.4f} over {len(completeness)} nets",
          "a 1% tolerance on the integration rule",
          judge(worst, 0.01, noise=0.0, direction="lower", why="a deterministic numerical check"))
    return t.frame()


def load(cfg, normalisation: str | None = None):
    """(clips, train_idx, test_idx): the chapter's landmark clips (normalised the chapter's way, or `normalisation`),
    split by subject. Clips that keep the face's shape (any normalisation but "neutral", whose clips are motion from
    a zero first frame) are centred on the training clips' mean frame (data.sequences.centre_on_training)."""
    from ..data.sequences import centre_on_training, load_sequences, split_by_subject

    normalisation = normalisation or cfg.normalisation
    seqs = load_sequences(cfg.dataset, data_dir=cfg.data_dir, n_sequences=cfg.n_sequences, n_frames=cfg.n_frames,
                          seed=cfg.seed, normalisation=normalisation, landmarks=cfg.landmarks)
    train_idx, test_idx = split_by_subject(seqs, test_fraction=cfg.test_fraction, seed=cfg.seed)
    if normalisation != "neutral":
        seqs = centre_on_training(seqs, train_idx)
    return seqs, train_idx, test_idx


def detector_error(cfg, seqs: SequenceSet):
    """MediaPipe against the generator on the chapter's own clips (metrics.landmarks.tracking_error): per face part
    and per emotion, the landmark error, the error of the motion from the neutral frame, and the share of the true
    expression motion MediaPipe follows (mediapipe_error.csv, mediapipe_gain.csv). (None, None) for clips without
    exact landmarks (real data)."""
    from ..cache import atomic_to_csv
    from ..metrics.landmarks import tracking_error

    if seqs.exact is None:
        return None, None
    parts, emotions = tracking_error(seqs.raw, seqs.exact, seqs.emotion, threshold=cfg.truth_threshold)
    atomic_to_csv(parts.reset_index(), cfg.out / "mediapipe_error.csv")
    atomic_to_csv(emotions.reset_index(), cfg.out / "mediapipe_gain.csv")
    return parts.round(3), emotions.round(3)


def detector_numbers(cfg, seqs: SequenceSet, parts, emotions) -> dict:
    """The detector figures chapter 03's text quotes, by name (glued into the Markdown with myst-nb)."""
    nan = float("nan")
    info = seqs.info
    exact = info.get("landmarks") == "exact"
    out = dict(lm_source="the generator's exact points" if exact else "MediaPipe Face Mesh",
               lm_frames=int(info.get("frames", 0)),
               lm_missing=int(info.get("frames_missing", 0)), lm_dropped=int(info.get("clips_dropped", 0)),
               lm_error=nan, lm_motion_error=nan, lm_gain=nan, lm_gain_low=nan, lm_gain_low_emotion="-",
               lm_gain_high=nan, lm_gain_high_emotion="-", lm_threshold=float(cfg.truth_threshold),
               lm_copy="the generator's exact motion" if exact else "a noisy copy of the motion")
    if parts is not None:
        g = emotions.gain.dropna()
        out.update(lm_error=float(parts.loc["all", "error"]), lm_motion_error=float(parts.loc["all", "motion_error"]),
                   lm_gain=float(parts.loc["all", "gain"]), lm_gain_low=float(g.min()),
                   lm_gain_low_emotion=str(g.idxmin()), lm_gain_high=float(g.max()),
                   lm_gain_high_emotion=str(g.idxmax()),
                   lm_copy=out["lm_copy"] if exact else
                   "a damped, noisy copy of the motion" if parts.loc["all", "gain"] < 0.95 else
                   "an exaggerated, noisy copy of the motion" if parts.loc["all", "gain"] > 1.05 else
                   "a noisy copy of the motion")
    return out


def describe(seqs: SequenceSet, train_idx, test_idx) -> str:
    info = seqs.info
    if info.get("landmarks") == "exact":
        source = "the generator's exact landmarks"
    elif "frames" in info:
        source = (f"MediaPipe Face Mesh on every frame ({info['frames_missing']} of {info['frames']} frames not found, "
                  f"filled in time; {info['clips_dropped']} clips dropped)")
    else:
        source = "MediaPipe Face Mesh on every frame"
    return (f"{len(seqs)} clips x {seqs.n_frames} frames x 2 x {seqs.n_landmarks} landmarks; "
            f"{len(set(seqs.subject[train_idx]))} training / {len(set(seqs.subject[test_idx]))} test subjects; "
            f"landmarks: {source}")


def split_table(seqs: SequenceSet, train_idx, test_idx) -> pd.DataFrame:
    """Clips per emotion in the training and the test split."""
    return pd.DataFrame({"train": pd.Series(seqs.emotion[train_idx]).value_counts(),
                         "test": pd.Series(seqs.emotion[test_idx]).value_counts()}).loc[list(seqs.emotions)]


def train_settings(cfg, seqs: SequenceSet, train_idx) -> TrainSettings:
    return TrainSettings(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, augmentation=cfg.augmentation,
                         filters=cfg.filters, lstm_units=cfg.lstm_units, fc1=cfg.fc1, device=cfg.device,
                         extra=data_key(seqs, train_idx))


def net_task(job, seqs: SequenceSet, train_idx, seed: int, settings: TrainSettings) -> None:
    """One grid task: the binary net job = (net, emotion) on all landmarks, trained into the model cache."""
    net, emotion = job
    train_net(seqs, train_idx, emotion, net, np.arange(seqs.n_landmarks), seed, settings)


def train_all(seqs: SequenceSet, train_idx, seed: int, settings: TrainSettings, nets=NETS, scheduler=None,
              progress: bool = False) -> dict:
    """{net: {emotion: binary net on all 468 landmarks}} for T-EMO and R-EMO (or `nets`). The trainings run as one
    facexplain.grid (serially or on Dask); the nets are then loaded from the model cache."""
    from .. import grid

    jobs = [(net, e) for net in nets for e in seqs.emotions]
    grid.run(net_task, jobs, shared=dict(seqs=seqs, train_idx=np.asarray(train_idx), seed=int(seed),
                                         settings=settings),
             scheduler=scheduler, progress=progress, desc="nets on all landmarks")
    every = np.arange(seqs.n_landmarks)
    return {net: {e: train_net(seqs, train_idx, e, net, every, seed, settings) for e in seqs.emotions}
            for net in nets}


def full_accuracy(nets: dict, seqs: SequenceSet, test_idx) -> pd.DataFrame:
    """Test accuracy and balanced accuracy of every net on all landmarks (emotion x net)."""
    rows = [dict(net=net.upper(), emotion=e, **dict(zip(("acc", "bacc"),
                                                         accuracy(m, seqs.x[test_idx], seqs.binary(e)[test_idx]))))
            for net, models in nets.items() for e, m in models.items()]
    return pd.DataFrame(rows).pivot(index="emotion", columns="net", values=["acc", "bacc"]).round(3)


@dataclass
class Rankings:
    """Global IG of every net: the long table (landmark_ranking.csv, with the controls INPUT_ONLY and
    RANDOM-WEIGHTS), per net (t-emo, r-emo, input_only, random-weights) and emotion the ranking, the GlobalIG results
    of the trained nets, and the completeness errors."""

    table: pd.DataFrame
    rankings: dict
    results: dict
    completeness: pd.DataFrame


def rank_all(cfg, nets: dict, seqs: SequenceSet, train_idx) -> Rankings:
    from ..cache import atomic_to_csv

    tables, results = [], {}
    for net, models in nets.items():
        table, results[net] = global_rankings(models, seqs, train_idx, n_steps=cfg.ig_steps, method=cfg.ig_method,
                                              max_samples=cfg.ig_samples, seed=cfg.seed, scheduler=cfg.scheduler,
                                              progress=cfg.progress)
        tables.append(table.assign(net=net.upper()))
    table = pd.concat(tables, ignore_index=True)[["net", "emotion", "landmark", "importance", "rank"]]
    controls = control_rankings(nets, seqs, train_idx, n_steps=cfg.ig_steps, method=cfg.ig_method,
                                max_samples=cfg.ig_samples, seed=cfg.seed, scheduler=cfg.scheduler,
                                progress=cfg.progress)
    table = pd.concat([table, controls], ignore_index=True)
    atomic_to_csv(table, cfg.out / "landmark_ranking.csv")
    rankings = {net: {e: ranking_of(table[table.net == net.upper()], e) for e in seqs.emotions}
                for net in (*NETS, "input_only", "random-weights")}
    completeness = pd.DataFrame([dict(net=net.upper(), emotion=e, pairs=r.n_pairs,
                                      completeness_error=r.completeness_error)
                                 for net, res in results.items() for e, r in res.items()])
    return Rankings(table, rankings, results, completeness)


def completeness_note(cfg) -> str:
    return (f"IG: {cfg.ig_method}, {cfg.ig_steps} steps; completeness error = "
            "sum|sum IG - (F(x) - F(x'))| / sum|F(x) - F(x')|")


def completeness_view(r: Rankings) -> pd.DataFrame:
    return r.completeness.pivot(index="emotion", columns="net", values="completeness_error").round(4)


def typical_faces(seqs: SequenceSet, train_idx) -> tuple[dict, dict]:
    """(index of each emotion's typical training clip, {emotion: (apex image, apex landmarks)} of those clips)."""
    from ..explain.global_ig import typical_samples

    typical = typical_samples(seqs.x[train_idx], seqs.emotion[train_idx].astype(str), seqs.emotions)
    faces = {e: (seqs.apex[train_idx][typical[e]], seqs.raw[train_idx][typical[e], -1]) for e in seqs.emotions}
    return typical, faces


def path_figure(nets: dict, seqs: SequenceSet, train_idx, typical: dict, emotion: str = "surprise"):
    """T-EMO's probability along the straight path from each baseline (the other emotions' typical clips) to the
    emotion's typical clip."""
    from ..explain.global_ig import path_probability
    from ..viz.landmarks import path_probability_plot

    emotion = emotion if emotion in seqs.emotions else seqs.emotions[0]
    x_tr, lab_tr = seqs.x[train_idx], seqs.emotion[train_idx].astype(str)
    bases, names = emotion_baselines(x_tr, lab_tr, emotion, seqs.emotions)
    curves = {}
    for b, name in zip(bases, names):
        alphas, curves[name] = path_probability(nets["t-emo"][emotion], x_tr[typical[emotion]], b)
    return path_probability_plot(alphas, curves, emotion).figure


def importances(r: Rankings, net: str = "t-emo") -> dict:
    return {e: res.importance for e, res in r.results[net].items()}


def other_normalisation(cfg) -> str:
    """The normalisation the chapter also runs the locality check with: per-sequence if the chapter subtracts the
    neutral frame (or uses raw coordinates), else the neutral subtraction."""
    return "sequence" if cfg.normalisation != "sequence" else "neutral"


def other_rankings(cfg, settings: TrainSettings):
    """The locality check again under other_normalisation(cfg): the clips normalised that way, T-EMO nets on all
    landmarks trained on them, their global IG and the input-only control (the claim's control; the random-weights
    nets are left to the chapter's own normalisation, which saves their global IG). Returns (clips, train_idx,
    {net: {emotion: ranking}} with nets t-emo and input_only, the nets' quality: emotion x (balanced accuracy on the
    held-out clips, IG completeness error)), so a ranking from a net that learnt nothing is seen as such."""
    from dataclasses import replace

    seqs, train_idx, test_idx = load(cfg, other_normalisation(cfg))
    s = replace(settings, extra=data_key(seqs, train_idx))
    nets = train_all(seqs, train_idx, cfg.seed, s, nets=("t-emo",), scheduler=cfg.scheduler, progress=cfg.progress)
    table, results = global_rankings(nets["t-emo"], seqs, train_idx, n_steps=cfg.ig_steps, method=cfg.ig_method,
                                     max_samples=cfg.ig_samples, seed=cfg.seed, scheduler=cfg.scheduler,
                                     progress=cfg.progress)
    table = pd.concat([table.assign(net="T-EMO"),
                       control_rankings(nets, seqs, train_idx, n_steps=cfg.ig_steps, method=cfg.ig_method,
                                        max_samples=cfg.ig_samples, seed=cfg.seed, random_weights=False)],
                      ignore_index=True)
    rankings = {net: {e: ranking_of(table[table.net == net.upper()], e) for e in seqs.emotions}
                for net in ("t-emo", "input_only")}
    quality = pd.DataFrame([dict(emotion=e, net="T-EMO",
                                 bacc=accuracy(m, seqs.x[test_idx], seqs.binary(e)[test_idx])[1],
                                 completeness_error=results[e].completeness_error)
                            for e, m in nets["t-emo"].items()])
    return seqs, train_idx, rankings, quality


def precision(cfg, seqs: SequenceSet, train_idx, r: Rankings, settings: TrainSettings | None = None):
    """Top-k precision of every ranking (the nets' global IG, the input-only and random-weights controls) against the
    landmarks the emotion moves (topk_precision.csv): the long table (a `normalisation` column: the chapter's, and
    with `settings` also other_normalisation(cfg)) and the chapter's (net, emotion) x k grid with the chance level."""
    from ..cache import atomic_to_csv
    from ..metrics.landmarks import moved_landmarks

    truth, _ = moved_landmarks(seqs.truth[train_idx], seqs.emotion[train_idx], seqs.emotions,
                               threshold=cfg.truth_threshold)
    table = precision_table(r.rankings, truth, cfg.ks).assign(normalisation=cfg.normalisation)
    grid = table.pivot_table(index=["net", "emotion"], columns="k", values="precision")
    grid = grid[sorted(grid.columns, reverse=True)]
    grid["chance"] = table.groupby(["net", "emotion"]).chance.first()
    if settings is not None:
        o_seqs, o_train, o_rank, quality = other_rankings(cfg, settings)
        o_truth, _ = moved_landmarks(o_seqs.truth[o_train], o_seqs.emotion[o_train], o_seqs.emotions,
                                     threshold=cfg.truth_threshold)
        other = precision_table(o_rank, o_truth, cfg.ks).assign(normalisation=other_normalisation(cfg))
        other = other.merge(quality, on=["net", "emotion"], how="left")
        table = pd.concat([table, other], ignore_index=True)
    atomic_to_csv(table, cfg.out / "topk_precision.csv")
    return table, grid.round(3)


def topk(cfg, seqs: SequenceSet, train_idx, test_idx, r: Rankings, settings: TrainSettings) -> pd.DataFrame:
    """Every (net, emotion, k, seed) retrained on its top-k landmarks, each seed on its own train/validation/test
    partition as in the paper (topk_runs.csv); the summary over seeds (topk_accuracy.csv)."""
    from ..cache import atomic_to_csv

    seeds = [cfg.seed + i for i in range(cfg.n_seeds)]
    runs = topk_runs(seqs, r.rankings, cfg.ks, seeds, settings, test_fraction=cfg.test_fraction,
                     progress=cfg.progress, scheduler=cfg.scheduler)
    atomic_to_csv(runs, cfg.out / "topk_runs.csv")
    summary = summarise_runs(runs)
    atomic_to_csv(summary, cfg.out / "topk_accuracy.csv")
    return summary


def accuracy_grids(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tables 6/7 layout per net, accuracy and balanced accuracy, 'mean ± std over seeds'."""
    return {f"{net} {name}": accuracy_grid(summary, net, column) for net in ("T-EMO", "R-EMO")
            for name, column in (("accuracy", "acc"), ("balanced accuracy", "bacc"))}


def svm(cfg, seqs: SequenceSet, train_idx, test_idx, r: Rankings):
    """SVM baselines on T-EMO's top-k inputs, on the same per-seed partitions as the nets (svm_baselines.csv): the
    long table and its grid (mean over seeds) with the majority rate."""
    from ..cache import atomic_to_csv

    seeds = [cfg.seed + i for i in range(cfg.n_seeds)]
    table = svm_baselines(seqs, r.rankings["t-emo"], cfg.ks, seeds, test_fraction=cfg.test_fraction,
                          augmentation=cfg.augmentation)
    atomic_to_csv(table, cfg.out / "svm_baselines.csv")
    grid = table[table.model != "majority class"].pivot_table(index=["model", "emotion"], columns="k", values="acc")
    grid = grid[sorted(grid.columns, reverse=True)]
    majority = table[table.model == "majority class"].groupby("emotion").acc.mean()
    grid["majority"] = majority.reindex(grid.index.get_level_values("emotion")).to_numpy()
    return table, grid.round(3)


def browser_view(seqs: SequenceSet, faces: dict, r: Rankings, summary, svm_table, precision_long, ks):
    """Kernel-free browser: per emotion and k, T-EMO's top-k landmarks on the typical face with both nets'
    accuracy, the SVMs' and the top-k precision."""
    import ipywidgets as widgets

    from ..viz.landmarks import topk_view
    from ..viz.widgets import browser

    row = summary.set_index(["net", "emotion", "k"])
    if "normalisation" in precision_long:             # the chapter's own normalisation comes first
        precision_long = precision_long[precision_long.normalisation == precision_long.normalisation.iloc[0]]
    prec = precision_long.set_index(["net", "emotion", "k"]).precision

    def view(e, k):
        cap = "  ".join(f"{n} {row.loc[(n, e, k), 'acc_mean']:.3f}±{row.loc[(n, e, k), 'acc_std']:.3f}"
                        for n in ("T-EMO", "R-EMO"))
        s = svm_table[(svm_table.emotion == e) & (svm_table.k == k)].groupby("model").acc.mean()
        html = (f"<small>{e}, k = {k}: {cap}<br>linear SVM {s['linear SVM']:.3f}, RBF SVM {s['RBF SVM']:.3f}; "
                f"top-k precision {prec.get(('T-EMO', e, k), float('nan')):.2f}</small>")
        jpeg = topk_view(*faces[e], r.rankings["t-emo"][e], k)
        return widgets.VBox([widgets.Image(value=jpeg, format="jpeg"), widgets.HTML(html)])

    return browser({(e, k): view(e, k) for e in seqs.emotions for k in ks},
                   {"emotion": list(seqs.emotions), "k": list(ks)}, sliders=["k"])


def locality_view(precision_long: pd.DataFrame) -> pd.DataFrame:
    """Mean top-k precision over the emotions, per normalisation and ranking (the nets' global IG, the input-only
    ranking, the random-weights nets) x k, with the chance level: the locality claim's evidence at a glance."""
    t = precision_long if "normalisation" in precision_long else precision_long.assign(normalisation="")
    grid = t.pivot_table(index=["normalisation", "net"], columns="k", values="precision", sort=False)
    grid = grid[sorted(grid.columns, reverse=True)]
    grid["chance"] = t.groupby(["normalisation", "net"], sort=False).chance.mean()
    return grid.round(3)


def other_nets_view(precision_long: pd.DataFrame) -> pd.DataFrame | None:
    """The T-EMO nets trained for the other normalisation's check: balanced accuracy on held-out clips and IG
    completeness error per emotion (None when the chapter ran one normalisation)."""
    if "bacc" not in precision_long:
        return None
    t = precision_long.dropna(subset=["bacc"]).groupby(["normalisation", "net", "emotion"], sort=False)
    return t[["bacc", "completeness_error"]].first().round(4)


def prose_numbers(cfg, precision_long: pd.DataFrame, runs=None) -> dict:
    """The run-dependent numbers the chapter's text quotes, by name (glued into the Markdown with myst-nb)."""
    runs = pd.read_csv(cfg.out / "topk_runs.csv") if runs is None else runs
    p = precision_long[precision_long.normalisation == cfg.normalisation] if "normalisation" in precision_long \
        else precision_long
    k_p = 32 if 32 in set(p.k) else int(p.k.min())
    at = p[p.k == k_p].groupby("net").precision.mean()
    return dict(k_precision=k_p, prec_temo=float(at.get("T-EMO", np.nan)),
               prec_input=float(at.get("INPUT_ONLY", np.nan)), prec_random=float(at.get("RANDOM-WEIGHTS", np.nan)),
               prec_chance=float(p[p.k == k_p].chance.mean()), n_seeds=int(runs.seed.nunique()),
               acc_sd=float(runs.groupby(["net", "emotion", "k"]).acc.std(ddof=1).mean()))


def claims(cfg, summary, svm_table, precision_long, r: Rankings, runs=None) -> pd.DataFrame:
    """The chapter's claim check (claims.csv), every verdict from facexplain.claims: the locality claim against the
    input-only ranking under each normalisation, k chosen on validation and the gaps read by paired tests over seeds
    (runs: topk_runs; default: the run's topk_runs.csv)."""
    from ..claims import write_claims

    if runs is None:
        runs = pd.read_csv(cfg.out / "topk_runs.csv")
    by_norm = {n: g for n, g in precision_long.groupby("normalisation", sort=False)} \
        if "normalisation" in precision_long else None
    table = claims_table(runs, svm_table, precision_long, r.completeness, cfg.ks, precision_by_norm=by_norm)
    write_claims(table, cfg.out)
    return table


__all__ = ["NETS", "PARAMETERS", "PRESETS", "Rankings", "accuracy_grids", "browser_view", "claims",
           "completeness_note", "completeness_view", "describe", "detector_error", "detector_numbers", "full_accuracy", "net_task", "importances", "load",
           "path_figure", "precision", "rank_all", "settings", "split_table", "svm", "topk", "train_all",
           "train_settings", "typical_faces", "seed_split", "chosen_k", "control_rankings", "other_normalisation", "other_rankings", "other_nets_view", "locality_view", "prose_numbers", "PAPER_TABLES", "claims_table", "TrainSettings", "accuracy", "accuracy_grid", "data_key", "global_rankings", "precision_table",
           "ranking_of", "summarise_runs", "svm_baselines", "topk_runs", "train_net"]
