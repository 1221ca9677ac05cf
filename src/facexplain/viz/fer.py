"""Figures and the kernel-free map browser of the AU-guided FER chapter (seed 004)."""

from __future__ import annotations

import numpy as np

METHOD_LABELS = {"cam": "CAM", "gradcam": "GradCAM", "gradcam++": "GradCAM++", "layercam": "LayerCAM",
                 "xgradcam": "XGradCAM", "hirescam": "HiResCAM", "eigencam": "EigenCAM", "scorecam": "ScoreCAM",
                 "attention": "attention"}


def label(method: str) -> str:
    """Display name of an explanation method.

    Parameters
    ----------
    method : str
        A :data:`facexplain.explain.METHODS` name, e.g. ``"gradcam++"``.

    Returns
    -------
    str
        Its label in tables and figures (the name itself when there is none).
    """
    return METHOD_LABELS.get(method, method)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.55, cmap: str = "jet") -> np.ndarray:
    """RGB float image: the grey face with a heat map in [0, 1] blended on top."""
    import matplotlib

    grey = np.asarray(image, np.float32)
    grey = grey / 255.0 if grey.max() > 1.0 else grey
    colour = matplotlib.colormaps[cmap](np.clip(heat, 0, 1))[..., :3]
    return (1 - alpha) * np.repeat(grey[..., None], 3, axis=2) + alpha * colour


def _emotion_examples(data, per_class: int):
    labels = data.labels_test
    return {c: np.flatnonzero(labels == c)[:per_class] for c in data.classes}


def example_faces(data, per_class: int = 3) -> np.ndarray:
    """Indices of the first `per_class` test faces of each emotion that has an AU map (for the browser)."""
    ex = _emotion_examples(data, per_class)
    return np.concatenate([ex[c] for c in data.classes if c != "neutral"]).astype(int)


def au_map_figure(data, codebook: str, per_class: int = 2):
    """Test faces of each emotion with their AU map (codebook AUs of the label, placed by the landmarks)."""
    import matplotlib.pyplot as plt
    from ..faces import codebook as get_codebook

    book = get_codebook(codebook)
    ex = _emotion_examples(data, per_class)
    fig, axes = plt.subplots(per_class, len(data.classes), figsize=(1.45 * len(data.classes), 1.6 * per_class),
                             squeeze=False, dpi=72)
    for j, c in enumerate(data.classes):
        for i in range(per_class):
            ax = axes[i, j]
            ax.axis("off")
            if i < len(ex[c]):
                k = ex[c][i]
                ax.imshow(overlay(data.images_test[k], data.maps_test[k].numpy()))
            if i == 0:
                aus = [str(a) for a in book.get(c, ())]
                aus = ("+".join(aus[:5]) + ("\n+" + "+".join(aus[5:]) if len(aus) > 5 else "")) or "no map"
                ax.set_title(f"{c}\n{aus}", fontsize=7)
    fig.suptitle(f"AU maps ({codebook} codebook)", fontsize=9)
    fig.tight_layout()
    return fig


def cam_cos_figure(table):
    """CAM-COS per method without vs with AU alignment (ATT-COS as the 'attention' bars)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = table[table["with_au"].notna()]          # template controls (no model) are not bars here
    df = table.assign(model=np.where(table["with_au"].astype(bool), "w/ AU", "w/o AU"),
                      method=table["method"].map(label))
    fig, ax = plt.subplots(figsize=(7.0, 3.0))
    sns.barplot(data=df, x="method", y="cam_cos", hue="model", hue_order=["w/o AU", "w/ AU"], ax=ax)
    ax.set_ylabel("cosine with AU map")
    ax.set_xlabel("")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(title="", fontsize=8)
    fig.tight_layout()
    return fig


def sweep_figure(sweep, paper_best: float = 4.0, n_test: int | None = None, ceiling: dict | None = None):
    """Accuracy (with its binomial standard error when n_test is given) and ATT-COS against lambda."""
    import matplotlib.pyplot as plt

    s = sweep.sort_values("lam")
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.6))
    p = s["accuracy"].to_numpy() / 100
    err = 100 * np.sqrt(p * (1 - p) / n_test) if n_test else None
    axes[0].errorbar(s["lam"], s["accuracy"], yerr=err, fmt="o-", capsize=3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[1].plot(s["lam"], s["att_cos"], "o-", color="C1")
    axes[1].axhline(0.85, ls=":", color="grey", lw=1)
    axes[1].text(s["lam"].min(), 0.86, "paper: >= 0.85 for lambda >= 5", fontsize=7, color="grey")
    if ceiling is not None:
        axes[1].axhline(ceiling["best"], ls="-.", color="C2", lw=1)
        axes[1].text(s["lam"].min(), ceiling["best"] - 0.07, f"best {ceiling['size']} map", fontsize=7, color="C2")
    axes[1].set_ylabel("ATT-COS")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("lambda")
        ax.axvline(paper_best, ls="--", color="grey", lw=0.8)
    fig.tight_layout()
    return fig


def class_means(data) -> tuple[dict, dict]:
    """Per-class mean test face and mean AU map."""
    labels = data.labels_test
    faces, maps = {}, {}
    for c in data.classes:
        idx = labels == c
        if idx.any():
            faces[c] = data.images_test[idx].astype(np.float32).mean(0)
            maps[c] = data.maps_test.numpy()[idx].mean(0)
    return faces, maps


def average_maps_figure(views, data, methods=("attention", "cam")):
    """Seed 004's Fig. 1 (right) analog: per-class average maps over the test set, w/o and w/ AU alignment."""
    import matplotlib.pyplot as plt

    faces, au = class_means(data)
    classes = [c for c in data.classes if c != "neutral"]
    methods = [m for m in methods if (m, False) in views and (m, True) in views]   # those that were computed
    rows = [(m, w) for m in methods for w in (False, True)] + [("AU map", None)]
    fig, axes = plt.subplots(len(rows), len(classes), figsize=(1.2 * len(classes), 1.25 * len(rows)), squeeze=False,
                             dpi=72)   # overlays compress poorly as PNG: keep the page light
    for i, (m, w) in enumerate(rows):
        for j, c in enumerate(classes):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            heat = au[c] if w is None else views[(m, w)]["mean"][c]
            heat = heat / heat.max() if heat.max() > 0 else heat
            ax.imshow(overlay(faces[c], heat))
            if i == 0:
                ax.set_title(c, fontsize=8)
            if j == 0:
                ax.set_ylabel("mean AU map" if w is None else f"{label(m)}\n{'w/' if w else 'w/o'} AU", fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def map_strip(views, data, method: str, with_au: bool, emotion: str, keep_faces, tile: int = 96) -> np.ndarray:
    """One browser view: top row the class-average map and per-face maps, bottom row the matching AU maps."""
    from PIL import Image

    faces, au = class_means(data)

    def small(rgb):
        img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
        return np.asarray(img.resize((tile, tile), Image.BILINEAR), np.float32) / 255.0

    v = views[(method, with_au)]
    mean = v["mean"][emotion]
    top = [small(overlay(faces[emotion], mean / mean.max() if mean.max() > 0 else mean))]
    a = au[emotion]
    bottom = [small(overlay(faces[emotion], a / a.max() if a.max() > 0 else a))]
    labels = data.labels_test[np.asarray(keep_faces, int)]
    for k, (face_idx, lab) in enumerate(zip(keep_faces, labels)):
        if lab != emotion:
            continue
        top.append(small(overlay(data.images_test[face_idx], v["faces"][k])))
        bottom.append(small(overlay(data.images_test[face_idx], data.maps_test[face_idx].numpy())))
    gap = np.ones((tile, 4, 3), np.float32)
    row = lambda tiles: np.concatenate(sum([[t, gap] for t in tiles], [])[:-1], axis=1)  # noqa: E731
    return np.concatenate([row(top), np.ones((4, row(top).shape[1], 3), np.float32), row(bottom)], axis=0)


def jpeg_widget(rgb: np.ndarray, quality: int = 75, scale: float = 1.0):
    """An ipywidgets Image holding an RGB float array as JPEG (a few kB: the browser embeds ~100 of them), shown
    `scale` times its pixel size (the browser enlarges it: readable tiles without heavier pages)."""
    import io

    import ipywidgets as widgets
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    layout = widgets.Layout(width=f"{round(rgb.shape[1] * scale)}px") if scale != 1 else widgets.Layout()
    return widgets.Image(value=buf.getvalue(), format="jpeg", layout=layout)


def map_browser(views, data, methods, keep_faces, tile: int = 80, scale: float = 1.6, quality: int = 70):
    """Kernel-free widget: method x (w/o | w/ AU) x emotion -> average and per-face maps above their AU maps.

    Tiles are stored at `tile` pixels (JPEG `quality`) and shown `scale` times larger (128 px by default): about
    100 views are embedded in the page, so the stored size is what the page weighs and the shown size what a
    reader sees."""
    from .widgets import browser

    classes = [c for c in data.classes if c != "neutral"]
    models = ["w/o AU", "w/ AU"]
    strips = {(label(m), model, c): jpeg_widget(map_strip(views, data, m, model == "w/ AU", c, keep_faces, tile),
                                                quality=quality, scale=scale)
              for m in methods for model in models for c in classes}
    title = ("top: class-average map, then single test faces; bottom: the AU maps they are scored against "
             "(colour: jet, red = high)")
    return browser(strips, {"method": [label(m) for m in methods], "model": models, "emotion": classes},
                   title=title)


__all__ = ["au_map_figure", "example_faces", "average_maps_figure", "cam_cos_figure", "class_means", "map_browser", "map_strip",
           "jpeg_widget", "overlay", "sweep_figure"]
