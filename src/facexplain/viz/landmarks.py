"""Figures of the landmark chapter: faces with their top-k landmarks (paper Fig. 3), the target probability along
the IG path (paper Fig. 2), importance maps on the face and accuracy against the number of landmarks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

TOP_COLOUR = "#1f77b4"


def draw_topk(ax, image, landmarks, ranking, k: int, title: str | None = None, size: float = 6.0):
    """One face: all landmarks as faint dots, the top-k of `ranking` as blue circles (the paper's Fig. 3 style)."""
    landmarks = np.asarray(landmarks)
    if landmarks.ndim != 2 or landmarks.shape[1] != 2:
        raise ValueError(f"landmarks must be (L, 2) pixel coordinates; got {landmarks.shape}")
    if image is not None:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    ax.scatter(*landmarks.T, s=size * 0.15, c="0.6", linewidths=0)
    top = np.asarray(ranking)[: int(k)]
    ax.scatter(*landmarks[top].T, s=size, facecolors="none", edgecolors=TOP_COLOUR, linewidths=0.8)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    if image is None:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    return ax


def topk_grid(faces: dict, rankings: dict, ks, size: float = 1.0):
    """Rows = emotions, columns = k: each emotion's face with its top-k landmarks. faces: {emotion: (image, (L, 2))}."""
    emotions = list(rankings)
    fig, axes = plt.subplots(len(emotions), len(ks), figsize=(size * len(ks), size * len(emotions)), squeeze=False)
    for r, e in enumerate(emotions):
        image, lm = faces[e]
        for c, k in enumerate(ks):
            draw_topk(axes[r, c], image, lm, rankings[e], k, title=f"k={k}" if r == 0 else None, size=3.0)
        axes[r, 0].text(-0.08, 0.5, e, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right",
                        fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig


def importance_faces(faces: dict, importances: dict, size: float = 1.5):
    """Each emotion's face with every landmark coloured (and sized) by its global-IG importance."""
    emotions = list(importances)
    fig, axes = plt.subplots(1, len(emotions), figsize=(size * len(emotions), size * 1.1), squeeze=False)
    for ax, e in zip(axes[0], emotions):
        image, lm = faces[e]
        imp = np.asarray(importances[e], dtype=float)
        w = imp / max(imp.max(), 1e-12)
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, alpha=0.6)
        order = np.argsort(w)
        ax.scatter(*np.asarray(lm)[order].T, c=w[order], s=1 + 14 * w[order], cmap="magma", linewidths=0)
        ax.set_title(e, fontsize=8)
        ax.set_axis_off()
    fig.tight_layout(pad=0.2)
    return fig


def path_probability_plot(alphas, probs: dict, emotion: str, ax=None):
    """Target-class probability along the IG path baseline -> input (paper Fig. 2); probs: {label: (A,)}."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 2.6))
    for label, p in probs.items():
        ax.plot(alphas, p, label=label)
    ax.set_xlabel("alpha (0 = baseline, 1 = input)")
    ax.set_ylabel(f"P({emotion})")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=7, title="baseline", title_fontsize=7)
    return ax


def accuracy_vs_k(summary, svm=None, column: str = "acc", ncols: int = 3):
    """Accuracy against the landmark budget k, one panel per emotion (a grid of `ncols` columns, so each panel
    stays readable at the text column's width): T-EMO and R-EMO as mean ± std over seeds, the SVMs dashed/dotted.

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``emotion``, ``net``, ``k``, ``<column>_mean`` and ``<column>_std``.
    svm : pandas.DataFrame, optional
        Columns ``emotion``, ``model`` (names containing "SVM"), ``k`` and ``<column>``.
    column : str
        ``"acc"`` (accuracy) or ``"bacc"`` (balanced accuracy).
    ncols : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import math

    emotions = list(dict.fromkeys(summary.emotion))
    ncols = max(1, min(int(ncols), len(emotions)))
    nrows = math.ceil(len(emotions) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows + 0.5), sharey=True, squeeze=False)
    for ax, e in zip(axes.ravel(), emotions):
        for net, t in summary[summary.emotion == e].groupby("net", sort=False):
            t = t.sort_values("k")
            ax.errorbar(t.k, t[column + "_mean"], yerr=t[column + "_std"], marker="o", ms=4, capsize=2, label=net)
        if svm is not None:
            for name, t in svm[(svm.emotion == e) & svm.model.str.contains("SVM")].groupby("model"):
                t = t.sort_values("k")
                ax.plot(t.k, t[column], ls="--" if "linear" in name else ":", lw=1.2, color="0.45", label=name)
        ax.set_xscale("log", base=2)
        ks = sorted(set(summary.k))
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) for k in ks], fontsize=8)
        ax.minorticks_off()
        ax.set_title(e, fontsize=11)
        ax.set_xlabel("k landmarks", fontsize=9)
    for ax in axes.ravel()[len(emotions):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("balanced accuracy" if column == "bacc" else "accuracy", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if nrows > 1 else 0.12, 1, 1))
    return fig


def topk_view(image, landmarks, ranking, k: int, scale: int = 2, fmt: str = "jpeg", quality: int = 85) -> bytes:
    """One small image (JPEG or PNG bytes) for the widget: the face (upscaled `scale` x), top-k landmarks circled."""
    import cv2
    from PIL import Image
    import io

    img = cv2.resize(np.asarray(image, np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    rgb = np.repeat(img[..., None], 3, axis=2).copy()
    pts = np.round(np.asarray(landmarks) * scale).astype(int)
    for x, y in pts:
        cv2.circle(rgb, (int(x), int(y)), 1, (170, 170, 170), -1)
    for x, y in pts[np.asarray(ranking)[: int(k)]]:
        cv2.circle(rgb, (int(x), int(y)), 2 + scale // 2, (31, 119, 180), 1, cv2.LINE_AA)
    buf = io.BytesIO()
    if fmt not in ("jpeg", "png"):
        raise ValueError(f"fmt must be 'jpeg' or 'png'; got {fmt!r}")
    if fmt == "jpeg":
        Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    else:
        Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


__all__ = ["accuracy_vs_k", "draw_topk", "importance_faces", "path_probability_plot", "topk_grid", "topk_view"]
