"""Emotion -> Action Unit codebooks: which AUs make up each basic emotion, per source."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Emotions in the book's order. Seed 003 leaves contempt out; seed 004 adds neutral.
EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
EMOTIONS_WITH_NEUTRAL: tuple[str, ...] = EMOTIONS + ("neutral",)

CODEBOOKS: dict[str, dict[str, tuple[int, ...]]] = {
    # EMFACS-style prototypes as commonly tabled (contempt, being unilateral, is not rendered by the generator).
    "emfacs": {
        "happiness": (6, 12),
        "sadness": (1, 4, 15),
        "surprise": (1, 2, 5, 26),
        "fear": (1, 2, 4, 5, 20, 26),
        "anger": (4, 5, 7, 23),
        "disgust": (9, 15, 16),
    },
    # Seed 004 (Belharbi et al.), the codebook of the paper's figure.
    "seed004": {
        "happiness": (6, 12, 25),
        "sadness": (1, 4, 6, 15, 17),
        "surprise": (1, 2, 5, 26, 27),
        "fear": (1, 2, 4, 5, 20, 25, 26, 27),
        "anger": (4, 5, 7, 10, 17, 23, 24, 25, 26),
        "disgust": (9, 10, 16, 17, 25, 26),
    },
}
# Seed 004's public code: the figure's codebook, except that disgust lists AU5 where the figure has AU10.
CODEBOOKS["seed004_code"] = {**CODEBOOKS["seed004"], "disgust": (5, 9, 16, 17, 25, 26)}


def codebook(name: str = "emfacs") -> dict[str, tuple[int, ...]]:
    """The emotion -> AUs mapping called `name` ("emfacs", "seed004", "seed004_code")."""
    try:
        return CODEBOOKS[name]
    except KeyError:
        raise ValueError(f"unknown codebook {name!r}: expected one of {sorted(CODEBOOKS)}") from None


def codebook_matrix(name: str = "emfacs", aus: tuple[int, ...] | None = None) -> pd.DataFrame:
    """The codebook as a 0/1 emotion x AU table (rows in EMOTIONS order, columns 'AU<n>')."""
    book = codebook(name)
    if aus is None:
        aus = tuple(sorted({a for v in book.values() for a in v}))
    data = np.array([[float(a in book[e]) for a in aus] for e in EMOTIONS])
    return pd.DataFrame(data, index=list(EMOTIONS), columns=[f"AU{a}" for a in aus])
