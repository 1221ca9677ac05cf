"""Datasets -> one record shape. `load_dataset(name, data_dir=None, **options)` is the single entry point."""

from __future__ import annotations

from .records import FaceDataset, FaceRecord

DATASETS = ("synthetic", "ckplus", "rafdb", "affectnet", "unbc")


def load_dataset(name: str = "synthetic", data_dir=None, **options) -> FaceDataset:
    """Load a dataset by name: generated ("synthetic", no data_dir) or real, read from `data_dir` in its native layout.

    load_dataset("synthetic", n=200, seed=0, image_size=112)
    load_dataset("ckplus", data_dir="/data/CK+", frames="peak")
    """
    key = str(name).lower().replace("-", "").replace("+", "plus").replace("_", "")
    if key == "synthetic":
        if data_dir is not None:
            raise ValueError("the synthetic dataset is generated, not read: leave data_dir=None")
        from .synthetic import load_synthetic
        return load_synthetic(**options)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {DATASETS}")
    if data_dir is None:
        raise ValueError(f"dataset {name!r} is read from disk: pass data_dir=<folder holding it> "
                         f"(see data/README.md for the expected layout)")
    from importlib import import_module
    loader = getattr(import_module(f".{key}", __name__), f"load_{key}")
    return loader(data_dir, **options)


__all__ = ["DATASETS", "FaceDataset", "FaceRecord", "load_dataset"]
