"""Chapter 00: the faces card. The generated faces (or a real dataset) described: AUs and codebooks, the template
photos and the subjects blended from them, how alike different subjects look (against real people), one face per
emotion, a gallery, single-AU faces, the dataset card, MediaPipe's agreement with the generator's landmarks, and
the chapter's claims.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..cache import atomic_to_csv
from ..data import DATASETS, load_dataset
from ..data.records import FaceRecord
from ..faces import (ACTION_UNITS, GENERATOR_AUS, au_map, codebook_matrix, generate_faces, generate_sequences,
                     mesh_to_ibug68)
from ..faces.generator import GENERATOR_VERSION, FaceGenerator, identity
from ..faces.mesh import detect_landmarks
from ..faces.landmarks import interocular_distance
from ..faces.realism import between_subject_correlation, mediapipe_agreement, one_face_per_subject, realism_summary
from ..faces.template import PHOTOS, photo, photo_mesh, photos_table
from ..viz.faces import draw_boxes, face_figure, gallery, show_face
from ..viz.widgets import browser, image_to_widget
from .settings import Param, resolve

#: preset -> values of the parameters left at None
PRESETS = {"cpu": dict(n_faces=400, n_realism=120), "paper": dict(n_faces=4000, n_realism=1000),
           "paper-smoke": dict(n_faces=24, n_realism=4)}   # paper shapes, tiny counts (tests)

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic", choices=DATASETS),
    "n_faces": Param("int", None, low=12),
    "n_realism": Param("int", None, low=1),
    "image_size": Param("int", 112, low=32),
    "shortcut": Param("float", 0.0, low=0, high=1),
}


#: Figure resolution of chapter 00, whose figures are mostly faces (photo-like, so PNG compresses them poorly): at the
#: book's 90 dpi its page weighed 3.3 MB with the 40-subject grid; 72 dpi keeps the faces near their 112 px.
FIGURE_DPI = 72


def settings(preset: str = "cpu", **given):
    """Chapter 00's parameters: the given ones, the rest from the preset, every one checked."""
    return resolve("00_faces", PARAMETERS, PRESETS, preset, given)


def au_table():
    """The AU vocabulary: label, name, what one sees, region, and whether the generator draws it."""
    t = pd.DataFrame([dict(AU=a.label, name=a.name, what_you_see=a.description, region=a.region,
                           generated=a.number in GENERATOR_AUS) for a in ACTION_UNITS.values()])
    return t.style.hide(axis="index")


def codebooks_figure(names=("emfacs", "seed004", "seed004_code")):
    """The emotion x AU codebooks side by side, with a colour bar (1 = the codebook lists the AU)."""
    from ..viz.matrices import matrix_grid

    books = {name: codebook_matrix(name, tuple(GENERATOR_AUS)) for name in names}
    titles = {"emfacs": "EMFACS prototypes", "seed004": "Belharbi et al. 2024 (figure)",
              "seed004_code": "Belharbi et al. 2024 (code)"}
    return matrix_grid(books, ncols=len(books), cmap="Blues", size=(4.2, 2.2), titles=titles,
                       cbar_label="listed (1) or not (0)")


#: A frontal, evenly lit scene: the pose and light of the figures that show faces rather than data.
STILL = dict(roll=0.0, yaw=0.0, scale=1.0, tx=0.0, ty=0.0, light=0.0, light_angle=0.0)

#: The between-subject correlation the generator must stay at or under (issue 12), and the same figure measured on
#: six photos of different real people (reference/facts.md; photos whose licences do not let the book ship them).
IDENTITY_GOAL = 0.55
REAL_PEOPLE = dict(people=6, mean_correlation=0.35)


def photos():
    """The template photos: who, where the photo ships, its licence, its expression (a DataFrame)."""
    return photos_table().set_index("photo")


def subjects_figure(cfg, n: int = 40, cols: int = 10):
    """The first `n` subjects of the source domain, each neutral, frontal and evenly lit (their own noise only)."""
    gen = FaceGenerator(image_size=cfg.image_size)
    n = min(int(n), gen.config.n_subjects)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.05, rows * 1.2))   # small: 40 faces on one light page
    for ax in np.ravel(axes):
        ax.axis("off")
    for s, ax in zip(range(n), np.ravel(axes)):
        img, _, _ = gen.render(identity(gen.config, s), {}, STILL, np.random.default_rng([cfg.seed, s]))
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"S{s:03d}", fontsize=7)
    fig.suptitle(f"{n} generated subjects, blended from {len(PHOTOS)} photos (neutral, frontal)", fontsize=10)
    fig.tight_layout()
    return fig


def _jackknife_se(c: np.ndarray) -> float:
    """Jackknife SE (leave one subject out) of the mean off-diagonal entry of a correlation matrix."""
    n = len(c)
    if n < 3:
        return float("nan")
    off = ~np.eye(n, dtype=bool)
    loo = np.array([c[np.ix_(keep, keep)][off[: n - 1, : n - 1]].mean()
                    for keep in (np.arange(n) != i for i in range(n))])
    return float(np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum()))


def identity_correlation(faces, out=None) -> pd.DataFrame:
    """How alike different people look: the mean Pearson correlation between the aligned faces of different
    people (faces aligned on their inner 68 landmarks by a similarity onto the mean shape, 32 x 32 grey,
    standardised: faces.realism.between_subject_correlation). Rows: this dataset's subjects (one face each, a
    neutral one where there is one), the template photos measured the same way, and six real people (a reference
    measurement). Columns people, pairs, mean_correlation, se (jackknife over people), how. Written to
    identity_correlation.csv when `out` is given."""
    rows = []
    if faces.landmarks is not None:
        idx = one_face_per_subject(faces.subject, faces.emotion)
        if len(idx) >= 2:
            r, c = between_subject_correlation(faces.images[idx], faces.landmarks[idx])
            what = "generated subjects" if faces.name == "synthetic" else f"{faces.name} subjects"
            rows.append(dict(faces=what, people=len(idx), pairs=len(idx) * (len(idx) - 1) // 2, mean_correlation=r,
                             se=_jackknife_se(c), how="this run: one face per subject, neutral where there is one"))
    names = list(PHOTOS)
    r, _ = between_subject_correlation([photo(n) for n in names], [photo_mesh(n) for n in names])
    rows.append(dict(faces="the template photos", people=len(names), pairs=len(names) * (len(names) - 1) // 2,
                     mean_correlation=r, se=float("nan"), how="this run: " + " vs ".join(names) + " (the photos)"))
    k = REAL_PEOPLE["people"]
    rows.append(dict(faces="real people", people=k, pairs=k * (k - 1) // 2,
                     mean_correlation=REAL_PEOPLE["mean_correlation"], se=float("nan"),
                     how="reference: six photos of different people, same procedure (not shipped: licences)"))
    table = pd.DataFrame(rows).set_index("faces")
    table[["mean_correlation", "se"]] = table[["mean_correlation", "se"]].round(3)
    if out is not None:
        atomic_to_csv(table.reset_index(), out / "identity_correlation.csv")
    return table


def identity_numbers(table: pd.DataFrame) -> dict:
    """The identity figures the chapter's text quotes, by name (glued into the Markdown with myst-nb)."""
    real = float(table.loc["real people", "mean_correlation"])
    gen = table.loc["generated subjects"] if "generated subjects" in table.index else None
    r = float(gen.mean_correlation) if gen is not None else float("nan")
    return dict(identity_r=r, identity_se=float(gen.se) if gen is not None else float("nan"),
                identity_people=int(gen.people) if gen is not None else 0, identity_goal=IDENTITY_GOAL,
                photos_r=float(table.loc["the template photos", "mean_correlation"]), real_r=real,
                identity_compare="more alike than" if r > real else "no more alike than")


#: One face per emotion for the reader's eye: the EMFACS prototype AUs strongly, plus the extras of Belharbi et
#: al. 2024's codebook that make the expression read at a glance (parted lips of a smile and of fear, the chin
#: raiser of a sad pout, the lip pressor of anger, the upper lip raiser and chin raiser of disgust).
EMOTION_FACES = {
    "neutral": {},
    "happiness": {6: 4.0, 12: 4.5, 25: 3.0},
    "sadness": {1: 4.5, 4: 3.5, 15: 4.5, 17: 3.0},
    "surprise": {1: 4.5, 2: 4.5, 5: 4.0, 26: 5.0},
    "fear": {1: 4.5, 2: 4.0, 4: 3.5, 5: 4.5, 20: 4.5, 25: 3.0, 26: 2.5},
    "anger": {4: 5.0, 5: 3.5, 7: 4.5, 23: 4.5, 24: 3.0},
    "disgust": {9: 5.0, 10: 4.0, 15: 3.5, 16: 3.0, 17: 3.0},
}


def emotion_faces_figure(cfg, subjects=(0, 5)):
    """One face per emotion (EMOTION_FACES) on each of the given subjects, frontal and evenly lit, titled with the
    emotion and its AUs."""
    gen = FaceGenerator(image_size=cfg.image_size)
    fig, axes = plt.subplots(len(subjects), len(EMOTION_FACES), figsize=(2.0 * len(EMOTION_FACES),
                                                                        2.3 * len(subjects)), squeeze=False)
    for row, s in zip(axes, subjects):
        who = identity(gen.config, int(s))
        for ax, (emotion, aus) in zip(row, EMOTION_FACES.items()):
            img, _, _ = gen.render(who, aus, STILL, np.random.default_rng([cfg.seed, int(s)]))
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{emotion}\n" + (" ".join(f"AU{a}" for a in aus) or "no AU"), fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def load_faces(cfg):
    """The chapter's faces: generated (n_faces, image_size, shortcut) or the real dataset in data_dir."""
    if cfg.dataset == "synthetic":
        return load_dataset("synthetic", n=cfg.n_faces, seed=cfg.seed, image_size=cfg.image_size,
                            shortcut=cfg.shortcut)
    return load_dataset(cfg.dataset, data_dir=cfg.data_dir, image_size=cfg.image_size)


def summary(faces) -> str:
    made = f" (generator version {GENERATOR_VERSION})" if faces.name == "synthetic" else ""
    return f"{len(faces)} faces, {len(set(faces.subject))} subjects, images {faces.images.shape[1:]}{made}"


def gallery_figure(faces, n: int = 12):
    """One face of every emotion first, then the next faces, each titled with its emotion and AUs."""
    order = sorted(range(len(faces)), key=lambda i: (str(faces.emotion[i]), i))
    picks = [next(i for i in order if faces.emotion[i] == e) for e in sorted(set(faces.emotion), key=str)]
    picks += [i for i in range(len(faces)) if i not in picks][: n - len(picks)]
    return gallery(faces, picks, cols=6, title=lambda r: f"{r.emotion}\n" + " ".join(f"{a}" for a in sorted(r.aus)))


def single_au_figure(cfg, level: float = 5.0):
    """The neutral template subject, then each generated AU alone at `level`, its true region shown."""
    gen = FaceGenerator(image_size=cfg.image_size)
    person = identity(gen.config, 0)

    def face(au):
        img, land, bits = gen.render(person, {au: level} if au else {}, STILL, np.random.default_rng(cfg.seed))
        k = GENERATOR_AUS.index(au) if au else 0
        regions = {au: ((bits >> np.uint32(k)) & 1) == 1} if au else {}
        return FaceRecord(img, land, {au: level} if au else {}, None, "S000", 0, regions)

    fig, axes = plt.subplots(2, 10, figsize=(17, 4))
    for ax, au in zip(axes.flat, (None,) + GENERATOR_AUS):
        show_face(face(au), ax=ax, au=au, title="neutral" if au is None else f"AU{au}")
    fig.tight_layout()
    return fig


def present(faces) -> pd.DataFrame:
    """0/1 per face and AU (columns AU<n>)."""
    return pd.DataFrame(faces.au_present(), columns=[f"AU{a}" for a in faces.au_numbers])


def dataset_card(faces, out) -> pd.DataFrame:
    """Faces, subjects and mean active AUs per emotion (written to dataset_card.csv)."""
    card = pd.DataFrame({"faces": pd.Series(faces.emotion).value_counts().sort_index()})
    card["subjects"] = pd.Series(faces.subject).groupby(pd.Series(faces.emotion)).nunique()
    if faces.au_numbers:
        card["mean_active_aus"] = present(faces).groupby(pd.Series(faces.emotion)).sum().sum(axis=1) / card["faces"]
    card = card.round(3)
    atomic_to_csv(card.reset_index(names="emotion"), out / "dataset_card.csv")
    return card


def occurrence_figure(faces, out):
    """Share of each emotion's faces showing each AU (written to au_occurrence.csv); None without AU codes."""
    if not faces.au_numbers:
        return None
    occurrence = present(faces).groupby(pd.Series(faces.emotion, name="emotion")).mean()
    fig, ax = plt.subplots(figsize=(12, 3.4))
    sns.heatmap(occurrence, ax=ax, cmap="rocket_r", vmin=0, vmax=1, annot=True, fmt=".1f", annot_kws={"size": 7})
    ax.set_title("share of faces of each emotion showing each AU")
    atomic_to_csv(occurrence.round(4).reset_index(), out / "au_occurrence.csv")
    return fig


def realism(cfg):
    """MediaPipe Face Mesh on n_realism generated faces of each domain: detection rate and landmark error against
    the generator's (realism.csv). Returns (table, source-domain sample, its detected landmarks); None for a real
    dataset."""
    if cfg.dataset != "synthetic":
        return None, None, None
    rows, kept = [], None
    for domain in ("source", "shifted"):
        sample = generate_faces(cfg.n_realism, seed=cfg.seed + 1, image_size=cfg.image_size, domain=domain,
                                shortcut=cfg.shortcut)
        per_face, found_points = mediapipe_agreement(sample)
        rows.append(realism_summary(per_face).assign(domain=domain))
        kept = kept or (sample, found_points)
    table = pd.concat(rows).set_index("domain")
    atomic_to_csv(table.reset_index(), cfg.out / "realism.csv")
    return table, *kept


def realism_figure(sample, found, n: int = 4):
    """Ground-truth landmarks (green) and MediaPipe's (magenta) on the first generated faces (None without them)."""
    if sample is None:
        return None
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3.2))
    for ax, i in zip(axes, range(n)):
        ax.imshow(sample.images[i], cmap="gray")
        ax.scatter(*sample.landmarks[i].T, s=1, c="lime", label="generator")
        ax.scatter(*found[i].T, s=1, c="magenta", label="MediaPipe")
        ax.axis("off")
    axes[0].legend(loc="lower left", fontsize=7, markerscale=4)
    fig.suptitle("ground-truth landmarks (green) and MediaPipe's (magenta)")
    return fig


def photo_figure(photo, aus=(6, 12)):
    """Face Mesh's 468 points on a photo, the 68 iBUG points with seed 001's AU boxes, and seed 004's soft AU map."""
    mesh = detect_landmarks(photo)
    l68 = mesh_to_ibug68(mesh)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    for ax in axes:
        ax.imshow(photo)
        ax.set_xlim(140, 310)
        ax.set_ylim(210, 40)
        ax.axis("off")
    axes[0].scatter(*mesh.T, s=1, c="yellow")
    axes[0].set_title("468 Face Mesh points")
    axes[1].scatter(*l68.T, s=6, c="cyan")
    axes[1].set_title("the 68 iBUG points")
    for au, colour in zip(aus, ("orange", "yellow")):
        draw_boxes(axes[1], l68, au, color=colour)
    axes[2].imshow(au_map(l68, list(aus), photo.shape[:2]), cmap="jet", alpha=0.45)
    axes[2].set_title("soft AU map: " + " + ".join(f"AU{a}" for a in aus))
    fig.tight_layout()
    return fig


def sequence_figure(cfg):
    """A generated clip (neutral -> apex) and four faces carrying the shortcut mark."""
    clip = generate_sequences(1, n_frames=6, seed=cfg.seed + 2, image_size=cfg.image_size)
    marked = generate_faces(4, seed=cfg.seed + 3, image_size=cfg.image_size, shortcut=1.0)
    fig, axes = plt.subplots(1, 10, figsize=(17, 2.2))
    tiles = [(img, f"{clip.emotion[0]} frame {f}") for img, f in zip(clip.images, clip.frame)]
    tiles += [(img, f"shortcut: {e}") for img, e in zip(marked.images, marked.emotion)]
    for ax, (img, title) in zip(axes, tiles):
        ax.imshow(img, cmap="gray")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def au_browser(faces, n_aus: int = 10, per_au: int = 3):
    """Kernel-free browser: up to per_au faces showing each AU (with its region and box); None without AU codes."""
    if not faces.au_numbers:
        return None
    shown = [a for a in faces.au_numbers if faces.au_present([a]).sum() >= 3][:n_aus]
    views = {}
    for au in shown:
        for k, i in enumerate(np.flatnonzero(faces.au_present([au])[:, 0])[:per_au]):
            r = faces[int(i)]
            fig = face_figure(r, au=au, size=2.4, title=f"{r.emotion}, AU{au} = {r.aus[au]:.1f}")
            views[(f"AU{au}", k + 1)] = image_to_widget(fig, dpi=70)   # rendered to PNG and closed
    return browser(views, {"AU": [f"AU{a}" for a in shown], "face": list(range(1, per_au + 1))}, sliders=["face"])


def claims(cfg, realism_table, sample=None, found=None, detection_goal: float = 0.9, nme_goal: float = 0.1,
           identity_table=None):
    """The chapter's checks of its own goals in the shared claim table (claims.csv; the `paper` column names where
    each target comes from): different subjects look like different people (between-subject correlation of aligned
    faces at most IDENTITY_GOAL, jackknife SE; from the table of identity_correlation), MediaPipe finds
    the generated faces (binomial SE), its landmarks agree with the generator's (median NME with a bootstrap SE, from
    the source sample and its detected landmarks), the same seed gives identical faces. None for a real dataset."""
    from ..claims import ClaimTable, bootstrap_se, by_construction, judge, se_proportion, write_claims

    if realism_table is None:
        return None
    t = ClaimTable()
    if identity_table is not None and "generated subjects" in identity_table.index:
        g = identity_table.loc["generated subjects"]
        t.add("Different subjects look like different people",
              f"the book's identity goal: between-subject correlation <= {IDENTITY_GOAL} (six real people: "
              f"{REAL_PEOPLE['mean_correlation']})",
              f"{g.mean_correlation:.3f} over {int(g.people)} subjects (jackknife SE {g.se:.3f})",
              f"the {IDENTITY_GOAL} bar", judge(float(g.mean_correlation), IDENTITY_GOAL, noise=float(g.se),
                                                direction="lower", why="jackknife SE over subjects"))
    src = realism_table.loc["source"]
    rate, n = float(src["detection_rate"]), int(src["faces"])
    se = se_proportion(rate, n)
    t.add("MediaPipe Face Mesh finds generated faces", f"the book's realism goal (DESIGN.md): >= {detection_goal:.0%}",
          f"{rate:.1%} of {n} faces (binomial SE {se:.3f})", f"the {detection_goal:.0%} goal",
          judge(rate, detection_goal, noise=se, why="binomial SE over the faces"))
    med, nme_se, m = float(src["nme468_median"]), float("nan"), 0
    if sample is not None and found is not None:
        err = np.linalg.norm(np.asarray(found) - sample.landmarks, axis=-1).mean(1) / interocular_distance(
            sample.landmarks)
        err = err[np.isfinite(err)]
        m, med, nme_se = len(err), float(np.median(err)), bootstrap_se(err, np.median)
    t.add("Its landmarks agree with the generator's", f"the book's realism goal: median NME < {nme_goal}",
          f"median NME {med:.3f}" + (f" (bootstrap SE {nme_se:.3f}, {m} found faces)" if m else ""),
          f"the {nme_goal} goal", judge(med, nme_goal, noise=nme_se, direction="lower", why="bootstrap SE of the median"))
    same = np.array_equal(generate_faces(8, seed=cfg.seed).images, generate_faces(8, seed=cfg.seed).images)
    t.add("Same seed gives identical faces", "the book's determinism rule: byte-identical",
          "identical" if same else "differ", "a second draw with the same seed",
          by_construction("the generator draws everything from one seeded generator") if same else
          judge(0.0, 1.0, noise=0.0, why="two draws with the same seed differ"))
    table = t.frame()
    write_claims(table, cfg.out)
    return table


__all__ = ["EMOTION_FACES", "IDENTITY_GOAL", "PARAMETERS", "PRESETS", "REAL_PEOPLE", "STILL", "au_browser",
           "au_table", "claims", "codebooks_figure", "dataset_card", "emotion_faces_figure", "gallery_figure",
           "identity_correlation", "identity_numbers", "load_faces", "photos", "subjects_figure", "occurrence_figure", "photo_figure", "realism", "realism_figure",
           "sequence_figure", "settings", "single_au_figure", "summary"]
