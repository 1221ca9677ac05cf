"""Shared run settings: seeding, device choice, presets and the results folder."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np

PRESETS = ("cpu", "paper", "paper-smoke")   # paper-smoke: paper shapes, tiny counts (tests)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (if imported) and return a NumPy Generator for explicit use."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but the faces layer does not need it
        pass
    else:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when a GPU is there, else "cpu"; anything else is checked and passed through."""
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA GPU is available: use device='auto' or 'cpu'")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    return device


def check_preset(preset: str) -> str:
    """Check a chapter's `preset` parameter.

    Parameters
    ----------
    preset : str
        ``"cpu"`` (small sizes, minutes on two cores) or ``"paper"`` (the papers' sizes, for a GPU).

    Returns
    -------
    str
        `preset`, unchanged.

    Raises
    ------
    ValueError
        For any other value, naming the valid ones.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: use one of {PRESETS}")
    return preset


def results_path(results_dir: str | os.PathLike, params: dict | None = None) -> Path:
    """Create `results_dir` and (optionally) write the run's parameters there as params.json."""
    from .cache import atomic_write_text
    path = Path(results_dir)
    path.mkdir(parents=True, exist_ok=True)
    if params is not None:
        atomic_write_text(path / "params.json", json.dumps(params, indent=2, sort_keys=True, default=str))
    return path
