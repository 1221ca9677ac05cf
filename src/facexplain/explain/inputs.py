"""The checks every explain() call makes on its inputs before a backend sees them.

Non-finite inputs would come back as all-NaN maps, a class name as a target as a TypeError deep inside torch, a
numpy batch as an AttributeError: each gets one ValueError naming the argument and the fix instead. A numpy (or
list) batch of floats is converted to a tensor on the model's device, since that is what every caller means.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch


def _model_param(model):
    try:
        return next(model.parameters())
    except (StopIteration, AttributeError, TypeError):
        return None


def check_inputs(model, x, target) -> tuple[torch.Tensor, object]:
    """(x, target) checked: x a finite float tensor (numpy/list batches converted to the model's dtype and device),
    target an int or a sequence of ints (no class names, no fractional values). Raises ValueError otherwise."""
    if not isinstance(x, torch.Tensor):
        try:
            a = np.asarray(x)
        except Exception:      # noqa: BLE001 - anything that is not array-like
            a = None
        if a is None or a.dtype.kind not in "fiub" or a.dtype == object:
            raise ValueError(f"x must be a float tensor (N, C, H, W); got {type(x).__name__}")
        param = _model_param(model)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        x = torch.as_tensor(a, dtype=dtype, device=param.device if param is not None else None)
    if not x.is_floating_point():
        raise ValueError(f"x has dtype {x.dtype}: explain the model's normalised float input, not raw pixels "
                         "(e.g. facexplain.models.fer.to_input(images))")
    finite = torch.isfinite(x.detach())
    if not bool(finite.all()):
        bad = torch.nonzero(~finite.reshape(len(x), -1).all(dim=1)).flatten()[:5].tolist() if x.ndim else []
        raise ValueError(f"x contains NaN or inf (image(s) {bad}): every map would be NaN; clean or drop those "
                         "inputs before explaining them")
    return x, _check_target(target)


def _check_target(target):
    if isinstance(target, (str, bytes)) or (isinstance(target, np.ndarray) and target.dtype.kind in "USO"):
        raise ValueError(f"target must be a class index (int) or one index per image; got {target!r}: map class "
                         "names to indices first (e.g. classes.index(name))")
    if isinstance(target, bool):
        raise ValueError(f"target must be a class index (int); got the bool {target!r}")
    if isinstance(target, numbers.Integral):
        return int(target)
    if isinstance(target, torch.Tensor):
        values = target.detach().cpu().numpy()
    else:
        try:
            values = np.asarray(target)
        except Exception:      # noqa: BLE001
            raise ValueError(f"target must be an int or a sequence of ints; got {type(target).__name__}") from None
    if values.dtype.kind in "USO":
        raise ValueError(f"target must be class indices (ints); got {target!r}: map class names to indices first "
                         "(e.g. classes.index(name))")
    if values.dtype.kind == "f" and (not np.isfinite(values).all() or not np.all(values == np.round(values))):
        raise ValueError(f"target must be whole class indices; got {values.tolist()}")
    if values.dtype.kind not in "iuf":
        raise ValueError(f"target must be an int or a sequence of ints; got dtype {values.dtype}")
    if values.size and values.min() < 0:
        raise ValueError(f"target indices must be >= 0; got {values.tolist()}")
    return target


__all__ = ["check_inputs"]
