"""Figures and kernel-free views of the comparison chapters (10: explainers side by side, 11: shortcut sweep)."""

from __future__ import annotations

import numpy as np

#: short ASCII labels of the methods (for titles, and drawn into PNG tiles with PIL's default font)
ASCII = {
    "lrp.epsilon_plus_flat": "LRP eps+flat", "lrp.epsilon_gamma_box": "LRP eps-gamma-box",
    "lrp.epsilon_alpha2_beta1_flat": "LRP a2b1-flat", "lrp.epsilon_plus": "LRP eps+", "gradient": "gradient",
    "gradient_x_input": "grad x input", "integrated_gradients": "IG", "smoothgrad": "SmoothGrad",
    "gradcam": "GradCAM", "gradcam++": "GradCAM++", "layercam": "LayerCAM", "attention": "attention", "cam": "CAM",
}


SHORT = ASCII


def short(method: str) -> str:
    """A method's short label."""
    return ASCII.get(method, method)


def colorize(m: np.ndarray) -> np.ndarray:
    """A signed map as RGB uint8: red positive, blue negative, white zero, scaled by its largest ``|value|``."""
    import matplotlib

    m = np.nan_to_num(np.asarray(m, np.float64))
    peak = np.abs(m).max()
    v = 0.5 + 0.5 * (m / peak if peak > 0 else m)
    return (matplotlib.colormaps["bwr"](v)[..., :3] * 255).astype(np.uint8)


def _face_tile(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    g = np.asarray(image, np.uint8)
    rgb = np.stack([g, g, g], -1).copy()
    if mask is not None and mask.any():
        from scipy.ndimage import binary_erosion
        edge = mask & ~binary_erosion(mask)
        rgb[edge] = (255, 200, 0)
    return rgb


def map_tiles(image, maps: dict, mask=None, tile: int = 84, ncols: int = 7, title: str | None = None) -> np.ndarray:
    """One face (with its reference region outlined) and every method's map, tiled into one RGB image with labels.

    maps: method -> (H, W) map. Returns uint8 (rows, cols, 3): cheap to store as a PNG view."""
    from PIL import Image, ImageDraw

    tiles = [("face + region", _face_tile(image, None if mask is None else np.asarray(mask, bool)))]
    tiles += [(ASCII.get(k, k), colorize(v)) for k, v in maps.items()]
    label_h = 12
    nrows = int(np.ceil(len(tiles) / ncols))
    top = 14 if title else 0
    canvas = Image.new("RGB", (ncols * tile, top + nrows * (tile + label_h)), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((2, 1), title, fill=(0, 0, 0))
    for k, (name, rgb) in enumerate(tiles):
        r, c = divmod(k, ncols)
        x, y = c * tile, top + r * (tile + label_h)
        canvas.paste(Image.fromarray(rgb).resize((tile - 2, tile - 2), Image.BILINEAR), (x + 1, y + 1))
        draw.text((x + 2, y + tile - 1), name[:16], fill=(0, 0, 0))
    return np.asarray(canvas)


def png_bytes(rgb: np.ndarray, colors: int = 48) -> bytes:
    """An RGB array as a palette PNG (`colors` colours): heatmap tiles shrink about 3x, which keeps pages light."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, np.uint8)).quantize(colors=int(colors), method=Image.Quantize.MEDIANCUT).save(
        buf, format="PNG", optimize=True)
    return buf.getvalue()


def metric_heatmap(summary, metrics=("mu_box", "mu_truth", "cosine", "pointing", "rank_accuracy"), ax=None,
                   title: str = ""):
    """Methods x metrics heatmap of a summary table (one task), annotated with the values."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    t = summary.set_index("method")[list(metrics)]
    t.index = [short(m) for m in t.index]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.9 * len(metrics) + 2.2, 0.32 * len(t) + 0.9))
    sns.heatmap(t, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=1, cbar=False, ax=ax,
                annot_kws=dict(fontsize=7))
    ax.set(title=title, xlabel="", ylabel="")
    ax.tick_params(labelsize=7)
    return ax


def step_layers(table) -> dict:
    """{model: the layer randomised at each step, in step order} of a cascading-randomisation table (model None
    when the table has no model column)."""
    groups = table.groupby("model", sort=False) if "model" in table else [(None, table)]
    return {model: g.drop_duplicates("step").sort_values("step")["layer"].tolist() for model, g in groups}


def layer_axis(table) -> list:
    """One axis of layer names for models of different depth: the deepest model's steps; a shallower model's steps
    sit at the names they share with it (a ResNet-10's layer4.0 beside a ResNet-18's layer4.0)."""
    per_model = list(step_layers(table).values())
    axis = list(max(per_model, key=len))
    for layers in per_model:
        axis += [n for n in layers if n not in axis]
    return axis


def sanity_figure(table, methods=None, ncols: int = 4):
    """Cascading randomisation, one panel per method: Spearman (solid) and SSIM (dashed) against the step, one
    colour per model."""
    import matplotlib.pyplot as plt

    methods = list(methods or dict.fromkeys(table["method"]))
    models = list(dict.fromkeys(table["model"])) if "model" in table else [None]
    layers = layer_axis(table)
    nrows = int(np.ceil(len(methods) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.1 * nrows), squeeze=False, sharex=True,
                             sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, method in zip(axes.ravel(), methods):
        sub = table[table["method"] == method]
        for k, model in enumerate(models):
            g = (sub if model is None else sub[sub["model"] == model]).sort_values("step")
            x = [layers.index(n) for n in g["layer"]]
            ax.plot(x, g["spearman"], "o-", ms=2.5, color=colors[k % len(colors)], label=f"{model} Spearman")
            ax.plot(x, g["ssim"], "s--", ms=2.5, color=colors[k % len(colors)], alpha=0.6, label=f"{model} SSIM")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(short(method), fontsize=8)
        ax.set_ylim(-0.5, 1.05)
    for ax in axes.ravel()[len(methods):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(["trained" if n == "none" else n for n in layers], rotation=80, fontsize=6)
    axes[0, 0].legend(fontsize=5.5, loc="lower left")
    fig.supylabel("similarity to the trained model's map", fontsize=8)
    fig.tight_layout()
    return fig


def sanity_strip(strips: dict, layers: dict, columns, tile: int = 56) -> bytes:
    """Maps of one face after the randomisation steps named in `columns`, one row per (model, method), as a light PNG.

    strips: {(model, method): array (steps + 1, H, W)}; layers: {model: the step names, step 0 = "none"} (models of
    different depth have different steps; each column shows the step of its name)."""
    from PIL import Image, ImageDraw

    label_w, head = 150, 14
    rows = list(strips.items())
    missing = sorted({(model, n) for (model, _) in strips for n in columns if n not in layers[model]})
    if missing:
        raise ValueError(f"no randomisation step named {missing[0][1]!r} for model {missing[0][0]!r}: choose columns "
                         "every model has")
    canvas = Image.new("RGB", (label_w + len(columns) * tile, head + len(rows) * tile), "white")
    draw = ImageDraw.Draw(canvas)
    for c, layer in enumerate(columns):
        name = "trained" if layer == "none" else f"-{layer}"
        draw.text((label_w + c * tile + 2, 1), name[:9], fill=(0, 0, 0))
    for r, ((model, method), maps) in enumerate(rows):
        y = head + r * tile
        draw.text((2, y + tile // 2 - 6), f"{model}: {ASCII.get(method, method)}"[:26], fill=(0, 0, 0))
        for c, layer in enumerate(columns):
            img = Image.fromarray(colorize(maps[layers[model].index(layer)])).resize((tile - 2, tile - 2),
                                                                                    Image.BILINEAR)
            canvas.paste(img, (label_w + c * tile + 1, y + 1))
    return png_bytes(np.asarray(canvas))


METRIC_LABELS = {"mu_box": "mu in the AU box", "mu_truth": "mu in the true AU region",
                 "cosine": "cosine to the AU map", "mu_cue": "mu on the shortcut mark",
                 "pointing": "pointing game", "rank_accuracy": "relevance rank accuracy"}


def sweep_figure(table, metrics=("mu_box", "mu_truth", "cosine", "mu_cue")):
    """Chapter 11: against the shortcut strength, one column per model: its score on the shortcut / clean test
    (top) and every method's explanation metric (one row per metric), with one legend for the methods.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (model, strength, method) with ``score``, ``score_shortcut_test``, ``score_clean_test`` and
        the metric columns.
    metrics : sequence of str
        The metric columns to draw, one row each.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(table["model"]))
    nrows = 1 + len(metrics)
    fig, axes = plt.subplots(nrows, len(models), figsize=(4.4 * len(models), 2.35 * nrows + 0.6), squeeze=False,
                             sharex=True)
    for c, model in enumerate(models):
        t = table[table["model"] == model]
        first = t.drop_duplicates("strength")
        ax = axes[0, c]
        ax.plot(first["strength"], first["score_shortcut_test"], "o-", color="black", label="test with the shortcut")
        ax.plot(first["strength"], first["score_clean_test"], "s--", color="0.5", label="same faces, no mark")
        ax.set(ylim=(0, 1), ylabel=str(first["score"].iloc[0]))
        ax.set_title(str(model), fontsize=11)
        ax.legend(fontsize=8, loc="lower left")
        for r, metric in enumerate(metrics, start=1):
            ax = axes[r, c]
            for method, g in t.groupby("method", sort=False):
                ax.plot(g["strength"], g[metric], "o-", ms=4, label=short(method))
            ax.set_ylabel(METRIC_LABELS.get(metric, metric), fontsize=9)
        axes[-1, c].set_xlabel("shortcut strength")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight() + 0.02, 1, 1))
    return fig


__all__ = ["METRIC_LABELS", "SHORT", "short", "colorize", "layer_axis", "map_tiles", "png_bytes", "metric_heatmap",
           "sanity_figure", "sanity_strip", "step_layers", "sweep_figure"]
