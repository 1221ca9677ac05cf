"""Chapter 00: the faces card. The generated faces (or a real dataset) described: AUs and codebooks, a gallery,
single-AU faces, the dataset card, MediaPipe's agreement with the generator's landmarks, and its claims.
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
from ..faces.generator import FaceGenerator, identity
from ..faces.mesh import detect_landmarks
from ..faces.landmarks import interocular_distance
from ..faces.realism import mediapipe_agreement, realism_summary
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


def load_faces(cfg):
    """The chapter's faces: generated (n_faces, image_size, shortcut) or the real dataset in data_dir."""
    if cfg.dataset == "synthetic":
        return load_dataset("synthetic", n=cfg.n_faces, seed=cfg.seed, image_size=cfg.image_size,
                            shortcut=cfg.shortcut)
    return load_dataset(cfg.dataset, data_dir=cfg.data_dir, image_size=cfg.image_size)


def summary(faces) -> str:
    return f"{len(faces)} faces, {len(set(faces.subject))} subjects, images {faces.images.shape[1:]}"


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
    still = dict(roll=0.0, yaw=0.0, scale=1.0, tx=0.0, ty=0.0, light=0.0, light_angle=0.0)

    def face(au):
        img, land, bits = gen.render(person, {au: level} if au else {}, still, np.random.default_rng(cfg.seed))
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


def au_browser(faces, n_aus: int = 10, per_au: int = 4):
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


def claims(cfg, realism_table, sample=None, found=None, detection_goal: float = 0.9, nme_goal: float = 0.1):
    """The chapter's checks of its own goals in the shared claim table (claims.csv; the `paper` column names where
    each target comes from): MediaPipe finds the generated faces (binomial SE), its landmarks agree with the
    generator's (median NME with a bootstrap SE, from the source sample and its detected landmarks), the same seed
    gives identical faces. None for a real dataset."""
    from ..claims import ClaimTable, bootstrap_se, by_construction, judge, se_proportion, write_claims

    if realism_table is None:
        return None
    t = ClaimTable()
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


__all__ = ["PARAMETERS", "PRESETS", "au_browser", "au_table", "claims", "codebooks_figure", "dataset_card",
           "gallery_figure", "load_faces", "occurrence_figure", "photo_figure", "realism", "realism_figure",
           "sequence_figure", "settings", "single_au_figure", "summary"]
