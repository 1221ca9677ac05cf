"""Caches under data/cache/, keyed by a hash of their config and written atomically (temp file + rename)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


def repo_root() -> Path:
    """The checkout holding this package (src layout), or the working directory for an installed copy."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "facexplain").exists():
            return parent
    return Path.cwd()


def cache_dir() -> Path:
    """data/cache of the checkout, or $FACEXPLAIN_CACHE when set."""
    path = Path(os.environ.get("FACEXPLAIN_CACHE", repo_root() / "data" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _plain(value):
    """JSON stand-in for values json cannot write: numpy scalars/arrays as Python numbers/lists, else str."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def config_hash(config: dict) -> str:
    """Stable short hash of a JSON-able config (keys sorted)."""
    blob = json.dumps(config, sort_keys=True, default=_plain).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _atomic(path: Path, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return _atomic(path, write)


def atomic_write_bytes(path, data: bytes) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    return _atomic(path, write)


def atomic_save_npz(path, **arrays) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return _atomic(path, write)


def atomic_to_csv(df, path, **kwargs) -> Path:
    """Write a pandas DataFrame as CSV without ever leaving a half-written file."""
    kwargs.setdefault("index", False)
    return _atomic(path, lambda tmp: df.to_csv(tmp, **kwargs))


def atomic_torch_save(obj, path) -> Path:
    import torch
    return _atomic(path, lambda tmp: torch.save(obj, tmp))


def cached_arrays(kind: str, config: dict, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Load the arrays cached for (kind, config), or build, store and return them."""
    path = cache_dir() / kind / f"{config_hash(config)}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    arrays = build()
    atomic_save_npz(path, **arrays)
    return arrays


def cached_state_dict(kind: str, config: dict, build: Callable[[], Any]):
    """Load a torch state_dict cached for (kind, config) (weights_only=True), or build, store and return it."""
    import torch
    path = cache_dir() / kind / f"{config_hash(config)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=True)
    state = build()
    atomic_torch_save(state, path)
    return state
