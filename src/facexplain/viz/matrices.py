"""Grids of emotion x AU matrices on one colour scale, with the colour bar that says what the shades mean."""

from __future__ import annotations

import numpy as np


def matrix_grid(matrices, ncols: int = 2, vmin: float = 0.0, vmax: float = 1.0, cmap: str = "rocket_r",
                cbar_label: str = "", titles=None, size=(4.6, 2.1), au_ticks: bool = True):
    """Heatmaps of several matrices side by side on one colour scale, with one shared colour bar.

    Parameters
    ----------
    matrices : dict of str to pandas.DataFrame
        Name -> matrix (rows: emotions, columns: AUs such as ``"AU4"``); drawn in this order.
    ncols : int
        Panels per row.
    vmin, vmax : float
        The colour scale, shared by every panel.
    cmap : str
        A matplotlib / seaborn colour map.
    cbar_label : str
        What the colour means (shown beside the colour bar).
    titles : callable or dict, optional
        Panel title for a name (default: the name).
    size : (float, float)
        Inches per panel (width, height).
    au_ticks : bool
        Label AU columns by their numbers only ("AU4" -> "4"), with "AU" as the axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    names = list(matrices)
    if not names:
        raise ValueError("matrix_grid needs at least one matrix")
    ncols = max(1, min(int(ncols), len(names)))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols + 0.9, size[1] * nrows), squeeze=False,
                             layout="constrained")
    title_of = titles if callable(titles) else (lambda n: (titles or {}).get(n, n))
    mesh = None
    for ax, name in zip(axes.ravel(), names):
        m = matrices[name]
        sns.heatmap(m.astype(float), ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, cbar=False, linewidths=0.3,
                    linecolor="white")
        mesh = ax.collections[0]
        ax.set_title(title_of(name), fontsize=10)
        if au_ticks:
            labels = [str(c)[2:] if str(c).upper().startswith("AU") else str(c) for c in m.columns]
            ax.set_xticks(np.arange(m.shape[1]) + 0.5, labels, fontsize=7, rotation=0)
            ax.set_xlabel("AU", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylabel("")
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    bar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.9, aspect=30, pad=0.01)
    if cbar_label:
        bar.set_label(cbar_label, fontsize=9)
    bar.ax.tick_params(labelsize=8)
    return fig


__all__ = ["matrix_grid"]
