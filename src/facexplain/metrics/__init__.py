"""Explanation and model metrics: relevance mass mu, cosine to AU maps, pointing game, randomisation checks.

Names are imported lazily from their modules (one idea per module)."""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "relevance_mass": "relevance",
    "relevance_rank_accuracy": "relevance",
    "pointing_game": "relevance",
    "map_cosine": "maps",
    "topk_precision": "landmarks",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
