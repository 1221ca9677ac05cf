"""Figures and the kernel-free heatmap browser of the AU-detection + LRP chapter (seed 001)."""

from __future__ import annotations

import numpy as np

from ..faces.regions import au_boxes

SHORT = {"lrp.epsilon_plus_flat": "EpsilonPlusFlat", "lrp.epsilon_gamma_box": "EpsilonGammaBox",
         "lrp.epsilon_alpha2_beta1_flat": "EpsilonAlpha2Beta1Flat", "lrp.epsilon_plus": "EpsilonPlus"}


def short(method: str) -> str:
    """Display name of an LRP method (its zennit composite)."""
    return SHORT.get(method, method)


def overlay_rgb(image: np.ndarray, relevance: np.ndarray, landmarks=None, au=None, scale: int = 2,
                alpha: float = 0.75) -> np.ndarray:
    """Face (grey uint8) with the relevance blended on top (red = positive, blue = negative, strength = ``|R|``) and
    the AU's box(es) drawn in yellow; upscaled by `scale` (nearest) so the box lines stay crisp. uint8 RGB."""
    img = np.asarray(image, np.float32) / 255.0
    r = np.asarray(relevance, np.float32)
    lim = float(np.percentile(np.abs(r), 99.5)) or float(np.abs(r).max()) or 1.0
    v = np.clip(r / lim, -1, 1)
    rgb = np.repeat(img[..., None], 3, axis=2)
    colour = np.zeros_like(rgb)
    colour[..., 0] = (v > 0)
    colour[..., 2] = (v < 0)
    a = (alpha * np.abs(v))[..., None]
    out = (1 - a) * rgb + a * colour
    out = np.kron(out, np.ones((scale, scale, 1), np.float32))
    if landmarks is not None and au is not None:
        h, w = out.shape[:2]
        for x0, y0, x1, y1 in au_boxes(landmarks, au):
            xs = np.clip(np.round(np.array([x0, x1]) * scale).astype(int), 0, w - 1)
            ys = np.clip(np.round(np.array([y0, y1]) * scale).astype(int), 0, h - 1)
            t = max(1, scale)                   # line width in output pixels (thin lines vanish when shown small)
            for x in xs:
                out[ys[0]:ys[1] + 1, max(0, x - t // 2):x - t // 2 + t] = (1, 1, 0)
            for y in ys:
                out[max(0, y - t // 2):y - t // 2 + t, xs[0]:xs[1] + 1] = (1, 1, 0)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def png_bytes(rgb: np.ndarray, colors: int = 32) -> bytes:
    """A small PNG of an RGB overlay: palette-quantised (the views are embedded in the page, many of them)."""
    import io

    from PIL import Image

    im = Image.fromarray(rgb).quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def mu_chart(mu_table, aus, paper: dict | None = None, domain: str = "source", region: str = "box", ax=None,
             paper_label: str = "paper (Actor Study)"):
    """Relevance mass per AU and composite as grouped bars, with the region's share of the image drawn over each
    AU's group (the mu of a map that spreads its relevance evenly: chance level) and the paper's values.

    Parameters
    ----------
    mu_table : pandas.DataFrame
        Rows of :func:`facexplain.metrics.relevance.mu_summary`: ``au``, ``composite``, ``mu``, ``region``,
        ``area`` and ``domain``.
    aus : sequence of int
        The AUs, in the order of the bars.
    paper : dict, optional
        AU -> (mu, n) of the paper, drawn as black ticks.
    domain, region : str
        Which rows of `mu_table` to draw (``region="box"`` is the paper's measure).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    t = mu_table[(mu_table.domain == domain) & (mu_table.region == region)]
    wide = t.pivot_table(index="au", columns="composite", values="mu").reindex(list(aus))
    wide.columns = [short(c) for c in wide.columns]
    area = t.groupby("au")["area"].mean().reindex(list(aus))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.4))
    wide.plot.bar(ax=ax, width=0.8)
    x = np.arange(len(aus))
    ax.hlines(area.to_numpy(), x - 0.45, x + 0.45, colors="crimson", lw=2,
              label=f"{region} area = chance (evenly spread relevance)")
    if paper:
        ax.plot(x, [paper.get(a, (np.nan,))[0] for a in aus], "k_", ms=18, mew=2, label=paper_label)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(x)
    ax.set_xticklabels([f"AU{a}" for a in aus], rotation=0)
    ax.set(xlabel="", ylabel=f"mu ({region})", ylim=(0, 1), title=f"Relevance mass in the AU {region}")
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    return ax


def heatmap_grid(dataset, maps: dict, picks: dict, aus, methods, size: float = 1.25, dpi: int = 72):
    """Rows = LRP methods, columns = AUs: the heatmap of one chosen face per AU (picks[au] = face index)."""
    import matplotlib.pyplot as plt

    aus = [a for a in aus if a in picks]
    if not aus:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no correctly detected positives to explain", ha="center", va="center")
        return fig
    fig, axes = plt.subplots(len(methods), len(aus), figsize=(size * len(aus), size * len(methods) * 1.05),
                             squeeze=False, dpi=dpi)
    l68 = dataset.landmarks68
    for i, method in enumerate(methods):
        for j, au in enumerate(aus):
            ax = axes[i, j]
            ax.axis("off")
            idx, m = maps.get((au, method), (None, None))
            if idx is None:
                continue
            k = int(np.flatnonzero(idx == picks[au])[0])
            ax.imshow(overlay_rgb(dataset.images[picks[au]], m[k], l68[picks[au]], au))
            if i == 0:
                ax.set_title(f"AU{au}", fontsize=9)
            if j == 0:
                ax.text(-0.08, 0.5, short(method), transform=ax.transAxes, rotation=90, ha="right", va="center",
                        fontsize=7)
    fig.tight_layout(pad=0.2)
    return fig


def low_high_figure(panels, size: float = 1.6, dpi: int = 72):
    """Seed 001's Fig. 2 analog: rows of (title, [(image, map, landmarks, au, caption), ...]) panels."""
    import matplotlib.pyplot as plt

    cols = max(len(p[1]) for p in panels)
    fig, axes = plt.subplots(len(panels), cols, figsize=(size * cols, size * len(panels) * 1.15), squeeze=False,
                             dpi=dpi)
    for r, (title, items) in enumerate(panels):
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(items):
                image, rel, lm, au, caption = items[c]
                ax.imshow(overlay_rgb(image, rel, lm, au))
                ax.set_title(caption, fontsize=7)
        axes[r, 0].text(-0.08, 0.5, title, transform=axes[r, 0].transAxes, rotation=90, ha="right", va="center",
                        fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig


def rank_positions(n: int, n_ranks: int) -> list[int]:
    """n_ranks positions spread evenly over a sorted list of n items, lowest and highest included."""
    if n <= 0:
        return []
    return sorted(set(int(round(p)) for p in np.linspace(0, n - 1, min(n_ranks, n))))


def heatmap_browser(dataset, records, maps: dict, aus, methods, n_ranks: int = 5, region: str = "box",
                    title: str | None = None):
    """Kernel-free widget: AU x composite x mu rank (lowest -> highest) -> heatmap on the face with the AU box."""
    import ipywidgets as widgets

    from .widgets import browser, image_to_widget

    l68 = dataset.landmarks68
    rank_labels = [f"{k + 1}/{n_ranks}" for k in range(n_ranks)]
    views = {}
    for au in aus:
        for method in methods:
            if (au, method) not in maps:
                continue
            idx, m = maps[(au, method)]
            rec = records[(records.au == au) & (records.composite == method)].set_index("index")
            mu = rec.loc[idx, f"mu_{region}"].to_numpy()
            valid = np.flatnonzero(np.isfinite(mu))
            order = valid[np.argsort(mu[valid], kind="stable")]
            for k, pos in enumerate(rank_positions(len(order), n_ranks)):
                j = order[pos]
                face = int(idx[j])
                caption = (f"AU{au} · {short(method)} · face {face}<br>mu ({region}) = {mu[j]:.2f}, "
                           f"rank {pos + 1} of {len(order)}")
                views[(f"AU{au}", short(method), rank_labels[k])] = widgets.VBox(
                    [image_to_widget(png_bytes(overlay_rgb(dataset.images[face], m[j], l68[face], au))),
                     widgets.HTML(f"<small>{caption}</small>")])
    controls = {"AU": [f"AU{a}" for a in aus], "composite": [short(m) for m in methods], "mu rank": rank_labels}
    return browser(views, controls, sliders=["mu rank"], title=title,
                   missing="<i>no correctly detected positive for this AU</i>")


__all__ = ["short", "overlay_rgb", "png_bytes", "mu_chart", "heatmap_grid", "low_high_figure", "rank_positions", "heatmap_browser"]
