"""One call for every explanation method: `maps = explain(model, x, target, method=..., batch_size=...)`.

Which library does the work stays hidden: LRP composites come from zennit (explain/lrp.py), gradients,
gradient x input, Integrated Gradients and SmoothGrad from captum (explain/attribution.py), the CAM family from
grad-cam and the attention tap (explain/cam.py), global IG over a set of landmark clips from captum
(explain/global_ig.py). Every method answers the same call and returns a float tensor with one map per input:
(N, H, W) at the input's resolution for images, (N, L) per landmark for global IG, signed as the method defines it
(positive = evidence for the target). `batch_size` explains that many inputs per backend call.
"""

from __future__ import annotations

import ast
from importlib import import_module
from importlib.util import find_spec

import torch

from .inputs import check_inputs

#: method name -> "module:function" (modules are imported on first use, so a backend's library loads lazily)
METHODS: dict[str, str] = {
    "lrp.epsilon_plus_flat": "lrp:explain_lrp",
    "lrp.epsilon_gamma_box": "lrp:explain_lrp",
    "lrp.epsilon_alpha2_beta1_flat": "lrp:explain_lrp",
    "lrp.epsilon_plus": "lrp:explain_lrp",
    "gradient": "attribution:explain_captum",
    "gradient_x_input": "attribution:explain_captum",
    "integrated_gradients": "attribution:explain_captum",
    "smoothgrad": "attribution:explain_captum",
    "cam": "cam:explain_cam",
    "gradcam": "cam:explain_cam",
    "gradcam++": "cam:explain_cam",
    "layercam": "cam:explain_cam",
    "xgradcam": "cam:explain_cam",
    "hirescam": "cam:explain_cam",
    "eigencam": "cam:explain_cam",
    "scorecam": "cam:explain_cam",
    "attention": "cam:explain_cam",
    "global_ig": "global_ig:explain_global_ig",
}


def _check_registry(methods: dict[str, str]) -> None:
    """Every entry names a backend module of this package and a function defined at its top level (read from the
    module's source, so no backend library is imported)."""
    for name, where in methods.items():
        module, _, func = where.partition(":")
        spec = find_spec(f"{__name__}.{module}")
        if spec is None or spec.origin is None or not func:
            raise ImportError(f"explain method {name!r}: no backend module {module!r} in {__name__}")
        with open(spec.origin, encoding="utf-8") as f:
            defined = {n.name for n in ast.parse(f.read()).body if isinstance(n, ast.FunctionDef)}
        if func not in defined:
            raise ImportError(f"explain method {name!r}: {module}.py defines no function {func!r}")


_check_registry(METHODS)


def explain(model: torch.nn.Module, x: torch.Tensor, target, method: str = "lrp.epsilon_plus_flat",
            batch_size: int | None = None, **options) -> torch.Tensor:
    """Explanation maps of `model`'s output `target` (an int or one index per input) for the inputs x (N, ...),
    `batch_size` inputs per backend call (None: all at once); ``options`` go to the method's backend."""
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}: expected one of {sorted(METHODS)}")
    x, target = check_inputs(model, x, target)       # finite float x (numpy converted), int targets: else ValueError
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W), or (N, frames, 2, landmarks) for global_ig; got shape "
                         f"{tuple(x.shape)}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("x holds no input: nothing to explain")
    target = torch.as_tensor(target, dtype=torch.long, device=x.device)
    if target.ndim == 0:
        target = target.repeat(n)
    if target.shape != (n,):
        raise ValueError(f"target must be one int or one index per image ({n}); got shape {tuple(target.shape)}")
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1):
        raise ValueError(f"batch_size must be a positive whole number (or None: all inputs at once); got {batch_size!r}")
    module, func = METHODS[method].split(":")
    backend = getattr(import_module(f".{module}", __name__), func)
    step = n if batch_size is None else int(batch_size)
    maps = [backend(model, x[i:i + step], target[i:i + step], method=method, **options) for i in range(0, n, step)]
    return maps[0] if len(maps) == 1 else torch.cat(maps)


__all__ = ["METHODS", "explain"]
