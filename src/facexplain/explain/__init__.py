"""One call for every explanation method: `maps = explain(model, x, target, method=...)`.

Which library does the work stays hidden: LRP composites come from zennit (explain/lrp.py), gradients,
gradient x input, Integrated Gradients and SmoothGrad from captum (explain/attribution.py), the CAM family from
grad-cam and the attention tap (explain/cam.py). Every method answers the same call and returns a float tensor
(N, H, W) at the input's resolution, signed as the method defines it (positive = evidence for the target).
"""

from __future__ import annotations

from importlib import import_module

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
}


def explain(model: torch.nn.Module, x: torch.Tensor, target, method: str = "lrp.epsilon_plus_flat",
            **options) -> torch.Tensor:
    """Explanation maps (N, H, W) of `model`'s output `target` (an int or one index per image) for inputs x."""
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}: expected one of {sorted(METHODS)}")
    x, target = check_inputs(model, x, target)       # finite float x (numpy converted), int targets: else ValueError
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W); got shape {tuple(x.shape)}")
    n = x.shape[0]
    target = torch.as_tensor(target, dtype=torch.long, device=x.device)
    if target.ndim == 0:
        target = target.repeat(n)
    if target.shape != (n,):
        raise ValueError(f"target must be one int or one index per image ({n}); got shape {tuple(target.shape)}")
    module, func = METHODS[method].split(":")
    return getattr(import_module(f".{module}", __name__), func)(model, x, target, method=method, **options)


__all__ = ["METHODS", "explain"]
