"""Chapter 02 (Shingjergji et al.): the Face Game. A landmark AU reader calibrated on generated faces (shared with
chapter 12 through studies/shared.py), target faces, Jaccard scores and natural-language instructions
(facexplain.game), the simulated player study with its t-tests, and the AU x emotion matrix of good tries.
"""

from __future__ import annotations

from .settings import Param, resolve

#: preset -> values of the parameters left at None
PRESETS = {"cpu": dict(n_train=1000, n_test=400, n_mediapipe=300, n_study_seeds=5),
           "paper": dict(n_train=3000, n_test=2000, n_mediapipe=1500, n_study_seeds=20)}

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic"),
    "n_players": Param("int", 36, low=2),
    "n_targets": Param("int", 6, low=1),
    "n_tries": Param("int", 5, low=1),
    "score_threshold": Param("float", 0.33, low=0, high=1),
    "max_items": Param("int", 3, low=1),
    "comprehension": Param("float", 0.7, low=0, high=1),
    "landmark_noise": Param("float", 0.015, low=0),
    "n_train": Param("int", None, low=20),
    "n_test": Param("int", None, low=10),
    "n_study_seeds": Param("int", None, low=0),
    "n_mediapipe": Param("int", None, low=0),
}


def settings(preset: str = "cpu", **given):
    """Chapter 02's parameters: the given ones, the rest from the preset, every one checked."""
    return resolve("02_face_game", PARAMETERS, PRESETS, preset, given)


__all__ = ["PARAMETERS", "PRESETS", "settings"]
