"""Drawing faces with their ground truth: landmarks, AU boxes, AU regions and soft AU maps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..faces.aus import au_number
from ..faces.landmarks import as_ibug68
from ..faces.regions import au_boxes


def draw_boxes(ax, landmarks, au, color="yellow", lw=1.2):
    """Outline the seed 001 box(es) of `au` on an axis."""
    for x0, y0, x1, y1 in au_boxes(landmarks, au):
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=color, lw=lw))


def draw_region(ax, mask, color=(1.0, 0.2, 0.2), alpha=0.35):
    """Tint a boolean region on an axis."""
    overlay = np.zeros(mask.shape + (4,), np.float32)
    overlay[mask] = (*color, alpha)
    ax.imshow(overlay, interpolation="nearest")


def show_face(record, ax=None, au=None, landmarks: str = "none", region=True, box=True, title=None):
    """One face; optionally its landmarks ("68" | "468" | "none"), the region and box of one AU."""
    ax = ax or plt.gca()
    ax.imshow(record.image, cmap="gray", vmin=0, vmax=255)
    if record.landmarks is not None and landmarks != "none":
        pts = as_ibug68(record.landmarks) if landmarks == "68" else record.landmarks
        ax.scatter(pts[:, 0], pts[:, 1], s=2 if landmarks == "468" else 5, c="cyan", lw=0)
    if au is not None:
        n = au_number(au)
        if region and record.regions and n in record.regions:
            draw_region(ax, record.regions[n])
        if box and record.landmarks is not None:
            draw_boxes(ax, record.landmarks, n)
    ax.set_title(title if title is not None else "", fontsize=8)
    ax.axis("off")
    return ax


def face_figure(record, au=None, size=2.2, **kwargs):
    """A small stand-alone figure of one face (for widget views)."""
    fig, ax = plt.subplots(figsize=(size, size))
    show_face(record, ax=ax, au=au, **kwargs)
    fig.tight_layout(pad=0.1)
    return fig


def gallery(dataset, indices, cols=6, size=1.8, title=lambda r: r.emotion, **kwargs):
    """A grid of faces with a title per face."""
    rows = int(np.ceil(len(indices) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.1))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), indices):
        r = dataset[int(i)]
        show_face(r, ax=ax, title=title(r), **kwargs)
    fig.tight_layout()
    return fig
