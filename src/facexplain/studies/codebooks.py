"""Emotion x AU matrices from many sources on one axis, and how much they agree (the codebooks chapter).

Every source becomes a DataFrame with the six emotions as rows (EMOTIONS order) and 'AU<n>' columns on a common
AU axis (default: the generator's AUs), values in [0, 1]:

- codebooks ("emfacs", "seed004", "seed004_code"): 1 where the codebook lists the AU for the emotion, else 0;
- data-derived occurrences: the share of an emotion's faces (or Face Game tries) in which the AU shows
  (generator ground truth, the geometric AU detector, the players of the simulated Face Game study);
- what a trained emotion classifier looks at: per face, the share of positive relevance/attention inside each AU
  region (optionally divided by the region's share of the image), averaged over the faces of an emotion, scaled
  so that each emotion's largest AU is 1.

Agreement between two matrices is measured over their common cells: Pearson and Spearman correlation, cosine,
and the Jaccard index of the binarised matrices (value >= threshold), overall and per emotion.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from ..faces.aus import GENERATOR_AUS, au_number
from ..explain import METHODS, explain
from ..metrics.relevance import relevance_masses
from ..models.fer import to_input
from ..faces.codebooks import CODEBOOKS, EMOTIONS, codebook_matrix
from . import au_guided_fer, face_game
from .settings import Param, resolve

#: Display names of the sources the chapter compares (keys are the short names used in tables).
LABELS: dict[str, str] = {
    "emfacs": "EMFACS prototypes",
    "seed004": "Belharbi et al. 2024 (figure)",
    "seed004_code": "Belharbi et al. 2024 (code)",
    "generator": "generator truth",
    "geometric": "geometric detector",
    "game": "Face Game players",
    "classifier": "classifier",
}


#: preset -> values of the parameters left at None: the classifiers are chapter 04's (same faces, image size,
#: epochs and lambda), the AU reader chapter 02's (same calibration size)
PRESETS = {p: dict({k: au_guided_fer.PRESETS[p][k] for k in ("n_faces", "image_size", "epochs", "lam")},
                   n_calibration=face_game.PRESETS[p]["n_train"], n_detector_faces=n,
                   other_methods=["attention", "gradcam"])
           for p, n in (("cpu", 600), ("paper", 3000))}
# paper shapes with tiny counts: chapter 04's smoke classifiers, chapter 02's smoke calibration
PRESETS["paper-smoke"] = dict({k: au_guided_fer.PRESETS["paper-smoke"][k] for k in ("n_faces", "epochs")},
                              n_calibration=face_game.PRESETS["paper-smoke"]["n_train"], n_detector_faces=24)

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=("synthetic", "rafdb", "affectnet")),
    "n_faces": Param("int", None, low=20),
    "test_fraction": Param("float", 0.3, low=0, high=0.95, low_open=True),
    "epochs": Param("int", None, low=1),
    "lam": Param("float", None, low=0),
    "n_calibration": Param("int", None, low=20),
    "n_players": Param("int", 36, low=2),
    "n_detector_faces": Param("int", None, low=12),
    "method": Param("str", "lrp.epsilon_plus_flat", choices=tuple(METHODS)),
    "regions": Param("str", "landmarks", choices=("landmarks", "truth")),
    "contrast": Param("bool", True),
    "other_methods": Param("strs", None, choices=tuple(METHODS)),
    "game_threshold": Param("float", 0.33, low=0, high=1),
    "binarise": Param("float", 0.5, low=0, high=1, low_open=True),
    "image_size": Param("int", None, low=32),
}


def settings(preset: str = "cpu", **given):
    """Chapter 12's parameters: the given ones, the rest from the preset (chapter 04's classifier settings, chapter
    02's reader calibration), every one checked."""
    return resolve("12_au_emotion_codebooks", PARAMETERS, PRESETS, preset, given)


# --- one axis ----------------------------------------------------------------------------------------------------

def au_axis(aus=None) -> tuple[int, ...]:
    """The common AU axis as AU numbers (default: the generator's AUs, which every source can fill)."""
    if aus is None:
        return tuple(GENERATOR_AUS)
    out = tuple(au_number(a) for a in aus)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"the AU axis must be a non-empty list of distinct AUs; got {list(aus)}")
    return out


def _col_au(c) -> int:
    return au_number(c if not isinstance(c, str) or c.upper().startswith("AU") else f"AU{c}")


def align(matrix: pd.DataFrame, aus=None, emotions=EMOTIONS, fill: float = 0.0,
          drop_extra: bool = False) -> pd.DataFrame:
    """The matrix with rows in `emotions` order and columns 'AU<n>' on the axis `aus` (float).

    Axis AUs the matrix lacks get `fill` (a codebook that does not list an AU says it is absent). AUs the matrix
    has beyond the axis raise a ValueError unless drop_extra=True; a missing emotion always raises."""
    if not isinstance(matrix, pd.DataFrame):
        raise ValueError(f"matrix must be a pandas DataFrame (emotions x AUs); got {type(matrix).__name__}")
    aus = au_axis(aus)
    m = matrix.copy()
    m.columns = [f"AU{_col_au(c)}" for c in m.columns]
    m.index = [str(i) for i in m.index]
    missing = [e for e in emotions if e not in m.index]
    if missing:
        raise ValueError(f"matrix has no row for {missing}: every source needs a row per emotion {list(emotions)}")
    cols = [f"AU{a}" for a in aus]
    extra = [c for c in m.columns if c not in cols]
    if extra and not drop_extra:
        raise ValueError(f"matrix has AUs {extra} outside the axis {cols}: widen the axis or pass drop_extra=True")
    out = m.reindex(index=list(emotions), columns=cols).astype(float)
    present = [c for c in cols if c in m.columns]
    out[[c for c in cols if c not in present]] = float(fill)
    return out


# --- sources -----------------------------------------------------------------------------------------------------

def codebook_source(name: str, aus=None) -> pd.DataFrame:
    """A codebook ("emfacs", "seed004", "seed004_code") as a 0/1 matrix on the axis."""
    if name not in CODEBOOKS:
        raise ValueError(f"unknown codebook {name!r}: expected one of {sorted(CODEBOOKS)}")
    return align(codebook_matrix(name, au_axis(aus)), aus)


def occurrence_matrix(present, emotions, aus, emotion_order=EMOTIONS) -> pd.DataFrame:
    """Share of faces per emotion in which each AU is present: present (N, len(aus)) 0/1, emotions (N,)."""
    aus = au_axis(aus)
    rows = _mean_per_emotion(present, emotions, aus, emotion_order, "present")
    return pd.DataFrame(rows, index=list(emotion_order), columns=[f"AU{a}" for a in aus])


def _mean_per_emotion(values, emotions, aus, emotion_order, name: str) -> np.ndarray:
    """Per-face values (N, len(aus)) averaged over each emotion's faces -> (len(emotion_order), len(aus)); NaN/inf
    entries are skipped (a column with none finite gives NaN)."""
    x = np.asarray(values, dtype=np.float64)
    emo = np.asarray(emotions).astype(str)
    if x.ndim != 2 or x.shape != (len(emo), len(aus)):
        raise ValueError(f"{name} must be (N, {len(aus)}) for N={len(emo)} emotions; got shape {x.shape}")
    finite = np.isfinite(x)
    rows = []
    for e in emotion_order:
        sel = emo == e
        if not sel.any():
            raise ValueError(f"no face of emotion {e!r}: generate more faces (every emotion needs at least one)")
        n = finite[sel].sum(0)
        total = np.where(finite[sel], x[sel], 0.0).sum(0)
        rows.append(np.divide(total, n, out=np.full(len(aus), np.nan), where=n > 0))
    return np.array(rows)


def generator_matrix(dataset, aus=None) -> pd.DataFrame:
    """AU occurrence per emotion in the dataset's ground truth (what the generator actually drew)."""
    aus = au_axis(aus)
    return occurrence_matrix(dataset.au_present(aus), dataset.emotion, aus)


def detector_matrix(detector, dataset, neutral="subject", aus=None) -> pd.DataFrame:
    """AU occurrence per emotion as the geometric detector reads the faces' landmarks (neutral: "subject" = each
    generated subject's own neutral face as the reference, "template", or an array of reference landmarks)."""
    from ..models.geometric_au import reference_for

    aus = au_axis(aus)
    unknown = [a for a in aus if a not in detector.aus]
    if unknown:
        raise ValueError(f"the detector does not read AUs {unknown}: use an axis within {list(detector.aus)}")
    ref = reference_for(dataset, neutral) if isinstance(neutral, str) else neutral
    present, _ = detector.predict(dataset.landmarks, ref)
    cols = [list(detector.aus).index(a) for a in aus]
    return occurrence_matrix(present[:, cols], dataset.emotion, aus)


def game_matrix(study: pd.DataFrame, threshold: float = 0.33, emotion_of: dict | None = None,
                aus=None) -> pd.DataFrame:
    """The Face Game's data-derived matrix (seed 002, Fig. 3): AU occurrence on the players over the tries with
    score >= threshold, per target emotion (computed by facexplain.game)."""
    from ..game import au_emotion_occurrence

    aus = au_axis(aus)
    occ = au_emotion_occurrence(study, threshold, aus=aus, emotion_of=emotion_of)
    empty = occ.index[occ.isna().all(1)].tolist()
    if empty:
        raise ValueError(f"no try of {empty} reached score >= {threshold}: lower the threshold or play more games")
    return align(occ, aus)


# --- what the classifier looks at ----------------------------------------------------------------------------------

def region_masks(landmarks, aus=None, shape=(112, 112), level: float = 0.5) -> np.ndarray:
    """Where each AU acts on each face, from its landmarks: seed 004's AU map of that AU alone, >= level.
    Returns bool (N, len(aus), H, W)."""
    from ..faces.regions import au_map

    aus = au_axis(aus)
    lm = np.asarray(landmarks, np.float32)
    if lm.ndim != 3 or lm.shape[-1] != 2:
        raise ValueError(f"landmarks must be (N, 468|68, 2); got shape {lm.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    out = np.zeros((len(lm), len(aus), *shape), bool)
    for i, p in enumerate(lm):
        for j, a in enumerate(aus):
            out[i, j] = au_map(p, (a,), shape) >= level
    return out


def truth_masks(dataset, aus=None) -> np.ndarray:
    """Ground-truth AU regions of generated faces, bool (N, len(aus), H, W); empty where the AU is not active."""
    aus = au_axis(aus)
    if dataset.region_bits is None:
        raise ValueError(f"dataset {dataset.name!r} has no ground-truth regions: use regions='landmarks'")
    bits = np.asarray(dataset.region_bits)
    ks = [dataset.au_column(a) for a in aus]
    return np.stack([(bits >> np.uint32(k)) & np.uint32(1) == 1 for k in ks], 1)


def attribution_matrix(mass, emotions, aus=None, contrast: bool = False,
                       emotion_order=EMOTIONS) -> pd.DataFrame:
    """Emotion x AU matrix from per-face region masses (N, len(aus)): mean over each emotion's faces, then (if
    contrast) minus the mean over the emotions (what is specific to an emotion), cut at 0, and each row divided by
    its maximum, so every emotion's most-attended AU region is 1."""
    aus = au_axis(aus)
    m = np.nan_to_num(_mean_per_emotion(mass, emotions, aus, emotion_order, "mass"), nan=0.0)
    if contrast:
        m = np.clip(m - m.mean(0, keepdims=True), 0, None)
    peak = m.max(1, keepdims=True)
    m = np.divide(m, peak, out=np.zeros_like(m), where=peak > 0)
    return pd.DataFrame(m, index=list(emotion_order), columns=[f"AU{a}" for a in aus])


def face_regions(faces, regions: str = "landmarks", aus=None, level: float = 0.5) -> np.ndarray:
    """AU regions (N, len(aus), H, W) of the faces of the six emotions (neutral faces dropped, as in
    classifier_matrix): "landmarks" (seed 004 maps) or "truth" (generator regions)."""
    if regions not in ("landmarks", "truth"):
        raise ValueError(f"regions must be 'landmarks' or 'truth'; got {regions!r}")
    aus = au_axis(aus)
    faces = faces.subset(np.flatnonzero(np.isin(np.asarray(faces.emotion).astype(str), list(EMOTIONS))))
    if regions == "truth":
        return truth_masks(faces, aus)
    return region_masks(faces.landmarks, aus, tuple(faces.images.shape[1:]), level)


def classifier_matrix(model, faces, classes, method: str = "lrp.epsilon_plus_flat", regions: str = "landmarks",
                      aus=None, density: bool = True, contrast: bool = False, level: float = 0.5,
                      batch_size: int = 64, masks=None, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a trained emotion classifier looks at, per emotion and AU region.

    faces: a FaceDataset (images, landmarks, emotions); every face of the six emotions is explained for its true
    class with `method` (any explain() method: LRP composites, "attention", "gradcam", ...). regions:
    "landmarks" (each AU's seed 004 map on every face) or "truth" (the generator's regions, on faces where the AU
    is active). masks: precomputed regions (N_emotion_faces, len(aus), H, W) of those faces, to reuse them across
    models and methods (see face_regions). Returns (matrix, per-face table: emotion, AU, mass)."""
    aus = au_axis(aus)
    if regions not in ("landmarks", "truth"):
        raise ValueError(f"regions must be 'landmarks' or 'truth'; got {regions!r}")
    emo = np.asarray(faces.emotion).astype(str)
    keep = np.flatnonzero(np.isin(emo, list(EMOTIONS)))
    faces = faces.subset(keep)
    emo = emo[keep]
    unknown = sorted(set(emo) - set(classes))
    if unknown:
        raise ValueError(f"the classifier has no class for {unknown}: its classes are {list(classes)}")
    target = [list(classes).index(e) for e in emo]
    maps = explain(model.eval(), to_input(faces.images), target, method, batch_size=batch_size,
                   **options).detach().cpu().numpy()
    if masks is None:
        masks = face_regions(faces, regions, aus, level)
    elif np.shape(masks) != (len(faces), len(aus), *faces.images.shape[1:]):
        raise ValueError(f"masks must be (faces of the six emotions, AUs, H, W) = "
                         f"{(len(faces), len(aus), *faces.images.shape[1:])}; "
                         f"got {np.shape(masks)}: compute them with face_regions(faces, ...)")
    mass = relevance_masses(maps, masks, area_normalised=density)
    per_face = pd.DataFrame(mass, columns=[f"AU{a}" for a in aus])
    per_face.insert(0, "emotion", emo)
    return attribution_matrix(mass, emo, aus, contrast=contrast), per_face


# --- agreement ---------------------------------------------------------------------------------------------------

def _pair(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if list(a.index) != list(b.index) or list(a.columns) != list(b.columns):
        raise ValueError("matrices must share rows and columns: align() both onto the same axis first")
    x, y = a.to_numpy(float).ravel(), b.to_numpy(float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def _corr(x, y, kind: str) -> float:
    from scipy.stats import pearsonr, spearmanr

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    f = pearsonr if kind == "pearson" else spearmanr
    return float(f(x, y)[0])


def agreement(a: pd.DataFrame, b: pd.DataFrame, threshold: float = 0.5) -> dict:
    """How much two aligned matrices agree over their cells: Pearson, Spearman, cosine, and Jaccard of the cells
    >= threshold (1 when both binarised matrices are empty); also the number of cells and mean ``|a - b|``."""
    x, y = _pair(a, b)
    bx, by = x >= threshold, y >= threshold
    union = int((bx | by).sum())
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    return dict(pearson=_corr(x, y, "pearson"), spearman=_corr(x, y, "spearman"),
                cosine=float(x @ y / (nx * ny)) if nx > 0 and ny > 0 else float("nan"),
                jaccard=float((bx & by).sum() / union) if union else 1.0,
                mean_abs_diff=float(np.abs(x - y).mean()) if len(x) else float("nan"), n_cells=int(len(x)))


def agreement_table(matrices: dict[str, pd.DataFrame], threshold: float = 0.5, digits: int | None = 4,
                    self_pairs: bool = False) -> pd.DataFrame:
    """One row per pair of sources (in the dict's order): source_a, source_b, pearson, spearman, cosine, jaccard,
    mean_abs_diff, n_cells; floats rounded to `digits`."""
    names = list(matrices)
    if len(names) < 2 and not self_pairs:
        raise ValueError("agreement_table needs at least two matrices")
    pairs = [(n, n) for n in names] if self_pairs else []
    rows = [dict(source_a=p, source_b=q, **agreement(matrices[p], matrices[q], threshold))
            for p, q in pairs + list(combinations(names, 2))]
    out = pd.DataFrame(rows)
    return out.round(digits) if digits is not None else out


def per_emotion_agreement(matrices: dict[str, pd.DataFrame], threshold: float = 0.5,
                          digits: int | None = 4) -> pd.DataFrame:
    """Agreement row by row (per emotion) for every pair: source_a, source_b, emotion, pearson, jaccard."""
    rows = []
    for p, q in combinations(list(matrices), 2):
        a, b = matrices[p], matrices[q]
        _pair(a, b)
        for e in a.index:
            g = agreement(a.loc[[e]], b.loc[[e]], threshold)
            rows.append(dict(source_a=p, source_b=q, emotion=e, pearson=g["pearson"], jaccard=g["jaccard"]))
    out = pd.DataFrame(rows)
    return out.round(digits) if digits is not None else out


def against(matrices: dict, references: dict[str, pd.DataFrame], threshold: float = 0.5,
            digits: int | None = 4) -> pd.DataFrame:
    """Agreement of each matrix with each reference: one row per (source, reference) with pearson, spearman,
    jaccard. Keys of `matrices` may be tuples (e.g. (method, model)); they become columns source_0, source_1, ..."""
    rows = []
    for key, m in matrices.items():
        parts = key if isinstance(key, tuple) else (key,)
        for ref, r in references.items():
            g = agreement(m, r, threshold)
            rows.append({**{f"source_{i}": p for i, p in enumerate(parts)}, "reference": ref,
                         **{k: g[k] for k in ("pearson", "spearman", "jaccard")}})
    out = pd.DataFrame(rows)
    if "source_0" in out and "source_1" not in out:
        out = out.rename(columns={"source_0": "source"})
    return out.round(digits) if digits is not None else out


def agreement_matrix(table: pd.DataFrame, metric: str = "pearson") -> pd.DataFrame:
    """The pairwise table as a symmetric source x source matrix of one metric (1 on the diagonal)."""
    if metric not in table.columns:
        raise ValueError(f"unknown metric {metric!r}: the table has {list(table.columns[2:])}")
    names = list(dict.fromkeys(list(table.source_a) + list(table.source_b)))
    m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for r in table.itertuples():
        m.loc[r.source_a, r.source_b] = m.loc[r.source_b, r.source_a] = getattr(r, metric)
    return m


def long_table(matrices: dict[str, pd.DataFrame], digits: int | None = 4) -> pd.DataFrame:
    """All matrices as tidy rows: source, emotion, au, value."""
    parts = []
    for name, m in matrices.items():
        t = m.copy()
        t.index.name = "emotion"
        t = t.reset_index().melt(id_vars="emotion", var_name="au", value_name="value")
        t.insert(0, "source", name)
        parts.append(t)
    out = pd.concat(parts, ignore_index=True)
    return out.round(digits) if digits is not None else out


def difference(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """a - b cell by cell (same rows and columns)."""
    _pair(a, b)
    return a - b


# --- figures and the widget ----------------------------------------------------------------------------------------

def _label(name: str) -> str:
    return LABELS.get(name, name)


def matrices_figure(matrices: dict[str, pd.DataFrame], ncols: int = 2, size=(4.6, 2.1)):
    """The matrices side by side as heatmaps on one 0-1 colour scale, with its colour bar."""
    from ..viz.matrices import matrix_grid

    return matrix_grid(matrices, ncols=ncols, size=size, titles=_label,
                       cbar_label="share of faces / listed (1) / most relevant AU (1)")


def agreement_figure(table: pd.DataFrame, metric: str = "pearson", size=(5.6, 4.4)):
    """Heatmap of one agreement metric between every pair of sources."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    m = agreement_matrix(table, metric)
    m.index = m.columns = [_label(n) for n in m.index]
    fig, ax = plt.subplots(figsize=size)
    sns.heatmap(m, ax=ax, vmin=-1 if metric in ("pearson", "spearman") else 0, vmax=1, cmap="vlag" if metric in (
        "pearson", "spearman") else "rocket_r", annot=True, fmt=".2f", annot_kws={"fontsize": 7}, cbar=False,
        square=True)
    ax.tick_params(labelsize=7)
    ax.set_title(f"agreement between sources: {metric}", fontsize=9)
    fig.tight_layout()
    return fig


def difference_figure(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str, threshold: float = 0.5,
                      size=(6.4, 2.3)):
    """Heatmap of a - b (red: only in a, blue: only in b) with the pair's agreement in the title."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    d = difference(a, b)
    g = agreement(a, b, threshold)
    fig, ax = plt.subplots(figsize=size)
    sns.heatmap(d, ax=ax, vmin=-1, vmax=1, cmap="vlag", center=0, cbar=True, linewidths=0.3, linecolor="white")
    ax.set_xticks(np.arange(d.shape[1]) + 0.5, [c[2:] for c in d.columns], fontsize=6, rotation=0)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("AU", fontsize=7)
    fmt = lambda v: "n/a" if not np.isfinite(v) else f"{v:.2f}"  # noqa: E731
    ax.set_title(f"{_label(name_a)} − {_label(name_b)}:  r={fmt(g['pearson'])}, Jaccard={fmt(g['jaccard'])}",
                 fontsize=8)
    fig.tight_layout()
    return fig


def difference_browser(matrices: dict[str, pd.DataFrame], threshold: float = 0.5, dpi: int = 60):
    """Kernel-free widget: two dropdowns (source A, source B) -> the precomputed heatmap of A - B."""
    from ..viz.widgets import browser, image_to_widget

    names = list(matrices)
    labels = [_label(n) for n in names]
    # each figure is rendered to a PNG widget (and closed) as soon as it is drawn
    views = {(labels[i], labels[j]): image_to_widget(difference_figure(matrices[p], matrices[q], p, q, threshold),
                                                     dpi=dpi)
             for i, p in enumerate(names) for j, q in enumerate(names)}
    # B starts one source later, so the widget opens on a real difference (A = first source, B = second)
    return browser(views, {"A": labels, "B": labels[1:] + labels[:1]}, dpi=dpi,
                   title="difference A − B (red: more in A, blue: more in B)")


DATA_SOURCES = ("generator", "geometric", "game")


def _r_test(matrices, a: str, b: str):
    """(r, p, n): Pearson correlation of two emotion x AU matrices over their shared cells, its p-value and n."""
    from scipy.stats import pearsonr

    x, y = _pair(matrices[a], matrices[b])
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan"), len(x)
    r, p = pearsonr(x, y)
    return float(r), float(p), len(x)


def claims(table: pd.DataFrame, per_emotion: pd.DataFrame, matrices: dict[str, pd.DataFrame],
           lam: float | None = None, explanations: pd.DataFrame | None = None,
           att_cos: tuple[float, float] | None = None) -> pd.DataFrame:
    """The codebook chapter's claims (claim, paper, ours, control, verdict), every verdict from facexplain.claims.
    Rows whose sources are missing (e.g. no generator truth on a real dataset) are left out. What the published
    codebooks or the generator fix is "by construction"; correlations are judged against no relation (r = 0, by
    Pearson's test over the matrix cells), changes of r by Fisher's z (SE sqrt(2 / (n - 3)))."""
    from ..claims import ClaimTable, by_construction, judge

    pair = {(r.source_a, r.source_b): r for r in table.itertuples()}
    pair.update({(r.source_b, r.source_a): r for r in table.itertuples()})
    ct = ClaimTable()

    def has(*names):
        return all(n in matrices for n in names)

    def f(v):
        return "n/a" if v is None or not np.isfinite(v) else f"{v:.2f}"

    def z_change(before, after, n, why):
        if n <= 3 or not (np.isfinite(before) and np.isfinite(after)):
            return judge(after, before, why=why)          # no noise estimate -> not comparable
        return judge(np.arctanh(np.clip(after, -0.999, 0.999)), np.arctanh(np.clip(before, -0.999, 0.999)),
                     noise=np.sqrt(2 / (n - 3)), full=after >= 0.3,
                     partly_why="r rises but stays below 0.3", why=why + "; Fisher z")

    if has("seed004", "seed004_code"):
        pe = per_emotion[(per_emotion.source_a == "seed004") & (per_emotion.source_b == "seed004_code")]
        pe = pe.set_index("emotion").jaccard
        differ = pe[pe < 1].index.tolist()
        ct.add("Belharbi et al.'s public code and their paper's figure disagree on disgust (AU5 vs AU10)",
               "figure 9+10+16+17+25+26, code 5+9+16+17+25+26",
               f"rows that differ: {', '.join(differ) or 'none'} (disgust Jaccard {f(pe.get('disgust'))})", "",
               by_construction("both codebooks as published, transcribed in faces/codebooks.py"))
    measured = [s for s in DATA_SOURCES if s in matrices]
    if measured and has("seed004", "seed004_code"):
        vals = {s: (matrices[s].loc["disgust", "AU10"], matrices[s].loc["disgust", "AU5"]) for s in measured}
        ct.add("Measured disgust faces side with the figure (AU10) rather than the code (AU5)", "—",
               "; ".join(f"{LABELS.get(s, s)} AU10 {a10:.2f} vs AU5 {a5:.2f}" for s, (a10, a5) in vals.items()), "",
               by_construction("the generator adds the figure's AU10 to disgust faces"))
    if measured and has("emfacs", "seed004"):
        closer = {s: (pair[(s, "emfacs")].pearson, pair[(s, "seed004")].pearson) for s in measured}
        ct.add("Data-derived matrices resemble the EMFACS prototypes more than the richer codebook of Belharbi et al.",
               "—", "; ".join(f"{LABELS.get(s, s)} r={f(e)} vs {f(r)}" for s, (e, r) in closer.items()), "",
               by_construction("the generator draws prototype AUs with probability 0.85, the richer codebook's "
                               "extras with 0.35"))
    if has("emfacs", "seed004"):
        r = pair[("emfacs", "seed004")]
        ct.add("Published codebooks agree on the core AUs but not on the rest", "—",
               f"EMFACS vs Belharbi et al.'s figure: r={f(r.pearson)}, Jaccard={f(r.jaccard)}", "",
               by_construction("a comparison of two published tables"))
    if has("geometric", "generator"):
        r, p, n = _r_test(matrices, "geometric", "generator")
        d = pair[("geometric", "generator")]
        ct.add("(book) The geometric detector recovers the generator's emotion x AU matrix", "—",
               f"r={f(r)} over {n} cells, Jaccard={f(d.jaccard)}, mean |diff|={f(d.mean_abs_diff)}",
               "no relation (r = 0)",
               judge(r, 0.0, p_value=p, full=r >= 0.8, partly_why="related, but r < 0.8", why="Pearson's test")
               if np.isfinite(p) else judge(r, 0.0, why="too few cells"))
    if has("game", "generator", "geometric"):
        g, d = pair[("game", "generator")], pair[("geometric", "generator")]
        ct.add("Shingjergji et al.: players' tries (score >= 0.33) yield an emotion x AU matrix like the expressions "
               "they imitate", "Fig. 3 (qualitative)",
               f"Face Game vs generator truth r={f(g.pearson)} (detector alone: r={f(d.pearson)})", "",
               by_construction("the simulated players imitate the generated targets"))
    if has("classifier_wo_au", "classifier_w_au", "seed004"):
        a, b = pair[("classifier_wo_au", "seed004")], pair[("classifier_w_au", "seed004")]
        n = _r_test(matrices, "classifier_w_au", "seed004")[2]
        lam_s = f" (λ={lam:g})" if lam is not None else ""
        ct.add("Belharbi et al.: AU alignment makes the classifier attend to the codebook's AUs" + lam_s,
               "ATT-COS 0.57 -> 0.85 (RAF-DB, CAM)",
               f"relevance per AU region vs their codebook: r={f(a.pearson)} (w/o AU) -> {f(b.pearson)} (w/ AU)",
               "the classifier trained without alignment", z_change(a.pearson, b.pearson, n, f"{n} cells"))
        if explanations is not None and "attention" in set(explanations.get("source_0", [])):
            e = explanations[(explanations.source_0 == "attention") & (explanations.reference == "seed004")]
            e = e.set_index("source_1").pearson
            if {"classifier_wo_au", "classifier_w_au"} <= set(e.index):
                a2, b2 = e["classifier_wo_au"], e["classifier_w_au"]
                cos = f"ATT-COS {f(att_cos[0])} -> {f(att_cos[1])}; " if att_cos is not None else ""
                ct.add("Belharbi et al.: AU alignment makes the attention map follow the codebook's AUs" + lam_s,
                       "ATT-COS 0.57 -> 0.85 (RAF-DB, CAM)",
                       cos + f"attention per AU region vs their codebook: r={f(a2)} (w/o AU) -> {f(b2)} (w/ AU)",
                       "the classifier trained without alignment", z_change(a2, b2, n, f"{n} cells"))
        if has("emfacs"):
            rs = {c: _r_test(matrices, "classifier_w_au", c) for c in ("emfacs", "seed004")}
            best = max(rs, key=lambda c: rs[c][0] if np.isfinite(rs[c][0]) else -2)
            r, p, _ = rs[best]
            ct.add("(book) The classifier's relevance per AU region follows a codebook", "—",
                   f"w/ AU classifier vs EMFACS r={f(rs['emfacs'][0])}, vs Belharbi et al. r={f(rs['seed004'][0])}",
                   "no relation (r = 0)",
                   judge(r, 0.0, p_value=p, full=r >= 0.6, partly_why="weak (r < 0.6): shared regions blur AUs",
                         why=f"Pearson's test against {best}") if np.isfinite(p) else judge(r, 0.0, why="no test"))
    return ct.frame()


# --- the chapter's steps, as its notebook runs them -----------------------------------------------------------

def codebook_sources(names=("emfacs", "seed004", "seed004_code")) -> dict[str, pd.DataFrame]:
    """The published codebooks as 0/1 matrices on the generator's AU axis."""
    return {name: codebook_source(name, au_axis()) for name in names}


def listed_table(matrices: dict) -> pd.DataFrame:
    """AUs each codebook lists per emotion."""
    return pd.DataFrame({LABELS[n]: matrices[n].sum(1).astype(int) for n in matrices})


def data_sources(cfg):
    """(chapter 02's AU reader, the faces it reads, {generator truth, geometric detector} matrices): generated faces,
    or the classifier's test faces of a real set (its own AU codes, where it has them)."""
    from .shared import au_reader, fer_test_faces

    detector = au_reader(cfg.seed, cfg.n_calibration, neutral="subject")
    if cfg.dataset == "synthetic":
        from ..data import load_dataset
        faces = load_dataset("synthetic", n=cfg.n_detector_faces, seed=cfg.seed, image_size=cfg.image_size)
        return detector, faces, {"generator": generator_matrix(faces), "geometric": detector_matrix(detector, faces)}
    faces = fer_test_faces(cfg.dataset, cfg.data_dir, cfg.n_faces, cfg.seed, cfg.image_size, cfg.test_fraction)
    out = {}
    if faces.au_numbers and np.isfinite(faces.au_intensity).any():
        out["generator"] = generator_matrix(faces)
    out["geometric"] = detector_matrix(detector, faces, "template")
    return detector, faces, out


def faces_note(faces) -> str:
    counts = pd.Series(faces.emotion).value_counts().sort_index()
    return f"{len(faces)} faces; per emotion: " + ", ".join(f"{e} {n}" for e, n in counts.items())


def game_source(cfg, detector):
    """Chapter 02's targets and simulated players (5 tries each): (study, targets, {"game": matrix})."""
    from ..game import PlayerModel, simulate_study
    from .shared import game_targets

    targets = game_targets(detector, 6, cfg.seed)
    study = simulate_study({k: v["aus"] for k, v in targets.items()}, detector, n_players=cfg.n_players, n_tries=5,
                           seed=cfg.seed, model=PlayerModel())
    emotion_of = {k: v["emotion"] for k, v in targets.items()}
    return study, targets, {"game": game_matrix(study, cfg.game_threshold, emotion_of)}


def game_note(cfg, study, targets) -> str:
    kept = study[study.score >= cfg.game_threshold]
    return (f"{len(study)} tries, {len(kept)} with score >= {cfg.game_threshold}\ntarget AUs: "
            + "; ".join(f"{v['emotion']} {'+'.join(map(str, sorted(v['aus'])))}" for v in targets.values()))


@dataclass
class Classifiers:
    """Chapter 04's classifiers (w/o and w/ AU) on its test faces: their matrices, per-face masses and scores."""

    data: object
    faces: object
    models: dict
    masks: np.ndarray
    matrices: dict
    per_face: dict
    scores: dict             # name -> dict(accuracy, att_cos)

    @property
    def scores_view(self) -> pd.DataFrame:
        return pd.DataFrame(self.scores).T.round(3)


def classifier_sources(cfg) -> Classifiers:
    """What chapter 04's two classifiers (cached) look at per AU region, explained with `method` on its test faces."""
    from .shared import evaluate_fer, fer_test_faces, load_fer_data, train_fer

    fer = load_fer_data(cfg.dataset, cfg.data_dir, n_faces=cfg.n_faces, seed=cfg.seed, image_size=cfg.image_size,
                        codebook="seed004", test_fraction=cfg.test_fraction)
    faces = fer_test_faces(cfg.dataset, cfg.data_dir, cfg.n_faces, cfg.seed, cfg.image_size, cfg.test_fraction)
    if not np.array_equal(faces.images, fer.images_test):
        raise RuntimeError("test faces differ from the classifier's test split")
    kw = dict(layer="layer4", epochs=cfg.epochs, seed=cfg.seed, device=cfg.device)
    models = {"classifier_wo_au": train_fer(fer, lam=0.0, **kw), "classifier_w_au": train_fer(fer, lam=cfg.lam, **kw)}
    LABELS.update({"classifier_wo_au": "classifier w/o AU", "classifier_w_au": f"classifier w/ AU (λ={cfg.lam:g})"})
    masks = face_regions(faces, cfg.regions)      # AU regions of the test faces, shared by all explanations
    matrices, per_face, scores = {}, {}, {}
    for name, model in models.items():
        matrices[name], per_face[name] = classifier_matrix(model, faces, fer.classes, method=cfg.method,
                                                           regions=cfg.regions, contrast=cfg.contrast, masks=masks)
        r = evaluate_fer(model, fer)
        scores[name] = dict(accuracy=r["accuracy"], att_cos=r["att_cos"])
    return Classifiers(fer, faces, models, masks, matrices, per_face, scores)


def classifiers_note(cfg, c: Classifiers) -> str:
    return f"{len(c.faces)} test faces, explained with {cfg.method!r}, regions: {cfg.regions}"


def write_matrices(cfg, matrices: dict):
    """All matrices side by side (matrices.csv)."""
    from ..cache import atomic_to_csv

    atomic_to_csv(long_table(matrices), cfg.out / "matrices.csv")
    return matrices_figure(matrices, ncols=2)


def agreements(cfg, matrices: dict):
    """Pairwise agreement (codebooks.csv) and per emotion (per_emotion.csv): (table, per_emotion, Jaccard view of
    the codebooks against every source per emotion)."""
    from ..cache import atomic_to_csv

    table = agreement_table(matrices, threshold=cfg.binarise, digits=3)
    atomic_to_csv(table, cfg.out / "codebooks.csv")
    per_emotion = per_emotion_agreement(matrices, threshold=cfg.binarise, digits=3)
    atomic_to_csv(per_emotion, cfg.out / "per_emotion.csv")
    view = per_emotion[per_emotion.source_a.isin(("emfacs", "seed004"))]
    return table, per_emotion, view.pivot_table(index=["source_a", "source_b"], columns="emotion", values="jaccard",
                                                sort=False).round(2)


def explanation_variants(cfg, c: Classifiers, matrices: dict) -> pd.DataFrame:
    """The classifiers' matrices read the other way (contrast on/off) and with other_methods, each against the
    codebooks and the generator's truth (explanations.csv)."""
    from ..cache import atomic_to_csv

    other = "plain" if cfg.contrast else "contrast"
    variants = {(cfg.method, name): matrices[name] for name in c.models}
    for name in c.models:      # the same explanations, read with the other setting of `contrast`
        pf = c.per_face[name]
        variants[(f"{cfg.method} ({other})", name)] = attribution_matrix(pf[list(matrices[name].columns)], pf.emotion,
                                                                         contrast=not cfg.contrast)
    for m in cfg.other_methods:
        for name, model in c.models.items():
            if m != cfg.method:
                variants[(m, name)], _ = classifier_matrix(model, c.faces, c.data.classes, method=m,
                                                           regions=cfg.regions, contrast=cfg.contrast, masks=c.masks)
    references = {k: matrices[k] for k in ("emfacs", "seed004", "generator") if k in matrices}
    out = against(variants, references, cfg.binarise, digits=3).rename(columns={"source_0": "method",
                                                                               "source_1": "model"})
    atomic_to_csv(out, cfg.out / "explanations.csv")
    return out


def explanations_view(explanations: pd.DataFrame) -> pd.DataFrame:
    return explanations.pivot_table(index=["method", "model"], columns="reference", values="pearson",
                                    sort=False).round(3)


def write_claims(cfg, table, per_emotion, matrices: dict, explanations, c: Classifiers) -> pd.DataFrame:
    """The chapter's claim check (claims.csv), every verdict from facexplain.claims."""
    from ..claims import write_claims as write

    out = claims(table, per_emotion, matrices, lam=cfg.lam,
                 explanations=explanations.rename(columns={"method": "source_0", "model": "source_1"}),
                 att_cos=(c.scores["classifier_wo_au"]["att_cos"], c.scores["classifier_w_au"]["att_cos"]))
    write(out, cfg.out)
    return out
