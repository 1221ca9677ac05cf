"""Chapter 00: the faces card. The generated faces (or a real dataset) described: AUs and codebooks, a gallery,
single-AU faces, the dataset card, MediaPipe's agreement with the generator's landmarks, and its claims.
"""

from __future__ import annotations

from ..data import DATASETS
from .settings import Param, resolve

#: preset -> values of the parameters left at None
PRESETS = {"cpu": dict(n_faces=400, n_realism=120), "paper": dict(n_faces=4000, n_realism=1000)}

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


__all__ = ["PARAMETERS", "PRESETS", "settings"]
