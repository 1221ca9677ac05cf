"""One look for every figure in the book (matplotlib + seaborn)."""

from __future__ import annotations

BOOK_PALETTE = "colorblind"


def use_book_style(context: str = "notebook", dpi: int = 90) -> None:
    """Apply the book's figure style: seaborn's clean white grid, a colour-blind-safe palette, modest size/dpi
    (figures are embedded in the pages), and no top/right spines."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid", palette=BOOK_PALETTE)
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": dpi,
        "savefig.dpi": dpi,
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "bold",
        "image.cmap": "viridis",
        "image.interpolation": "nearest",
        "font.size": 10,
    })
