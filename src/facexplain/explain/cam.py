"""The CAM family behind explain(): CAM from the GAP + linear head, grad-cam's methods, and the layer-attention tap.

"cam"
    Zhou et al.'s class activation map, sum_k w_{target,k} F_k at the last stage (signed, not normalised),
    computed from the linear head's weights (with GAP + linear, GradCAM normalised equals it).
"gradcam", "gradcam++", "layercam", "xgradcam", "hirescam", "eigencam", "scorecam"
    pytorch-grad-cam's classes (used as they are: one ClassifierOutputTarget per image); their maps come
    back ReLU'd, min-max scaled per image and resized to the input.
"attention"
    seed 004's layer attention: channel mean of the layer's features (target ignored).

All maps are returned at the input's resolution (bilinear upsampling), as a float tensor (N, H, W).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

GRADCAM_CLASSES = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "layercam": "LayerCAM",
    "xgradcam": "XGradCAM",
    "hirescam": "HiResCAM",
    "eigencam": "EigenCAM",
    "scorecam": "ScoreCAM",
}
CAM_METHODS = ("cam", *GRADCAM_CLASSES, "attention")

def _taps(model: nn.Module):
    """The model's tap names and their index: a model with taps / tap_index / features (SmallResNet) names its own."""
    if not (hasattr(model, "taps") and hasattr(model, "tap_index") and hasattr(model, "features")):
        raise ValueError("'cam' and 'attention' (and tap names as layers) need a model with .taps, .tap_index(layer) "
                         "and .features(x) (facexplain.models.resnet.SmallResNet); pass grad-cam a module instead")
    return model


def _layer_name(model: nn.Module, layer) -> str:
    m = _taps(model)
    return m.taps[m.tap_index(layer)]


def _target_module(model: nn.Module, layer) -> nn.Module:
    """The module whose output grad-cam hooks: a module, a tap name ("layer4") of the model or a submodule path."""
    if isinstance(layer, nn.Module):
        return layer
    tap_modules = getattr(model, "tap_modules", {})
    name = tap_modules.get(layer, layer) if isinstance(layer, str) else tap_modules[_layer_name(model, layer)]
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ValueError(f"model has no layer {layer!r}: pass a tap name ({', '.join(tap_modules) or 'none'}), a "
                         "submodule path or the module itself") from None


def _upsample(maps: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(maps[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def _features(model: nn.Module, x: torch.Tensor, layer) -> torch.Tensor:
    return _taps(model).features(x)[model.tap_index(layer)]


@torch.no_grad()
def _cam(model, x, target, layer) -> torch.Tensor:
    if _layer_name(model, layer) != model.taps[-1]:
        raise ValueError(f"'cam' weighs the last stage's maps by the linear head, so layer must be "
                         f"{model.taps[-1]!r}; got {layer!r} (use 'gradcam' for other layers)")
    if not isinstance(getattr(model, "fc", None), nn.Linear):
        raise ValueError("'cam' needs a GAP + linear head (model.fc an nn.Linear)")
    feats = _features(model, x, layer)
    w = model.fc.weight[target]                       # (N, C)
    return torch.einsum("nc,nchw->nhw", w, feats)


@torch.no_grad()
def _attention(model, x, layer) -> torch.Tensor:
    return _features(model, x, layer).mean(dim=1)


@contextmanager
def _quiet_scorecam():
    """grad-cam's ScoreCAM draws a tqdm bar per image; swap its module's tqdm for a silent one meanwhile."""
    from pytorch_grad_cam import score_cam

    class _Silent:
        @staticmethod
        def tqdm(iterable, *args, **kwargs):
            return iterable

    saved = score_cam.tqdm
    score_cam.tqdm = _Silent
    try:
        yield
    finally:
        score_cam.tqdm = saved


def _gradcam(model, x, target, method, layer, aug_smooth=False, eigen_smooth=False,
             scorecam_batch_size: int = 64) -> torch.Tensor:
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = getattr(pytorch_grad_cam, GRADCAM_CLASSES[method])
    targets = [ClassifierOutputTarget(int(t)) for t in target]
    was_training = model.training
    with cls(model=model, target_layers=[_target_module(model, layer)]) as cam:
        if method == "scorecam":
            cam.batch_size = int(scorecam_batch_size)
            with _quiet_scorecam():
                maps = cam(input_tensor=x, targets=targets, aug_smooth=aug_smooth, eigen_smooth=eigen_smooth)
        else:
            maps = cam(input_tensor=x, targets=targets, aug_smooth=aug_smooth, eigen_smooth=eigen_smooth)
    model.train(was_training)
    return torch.as_tensor(np.asarray(maps, dtype=np.float32))


def _checked_batch(x: torch.Tensor, target) -> torch.Tensor:
    """The targets as one long per image of the batch x (N, C, H, W); a ValueError names what does not fit."""
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W); got shape {tuple(x.shape)}")
    target = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if len(target) != len(x):
        raise ValueError(f"need one target per image: {len(target)} targets for {len(x)} images")
    return target


def _gradcam_shared(model, x, target, methods, layer) -> dict[str, torch.Tensor]:
    """grad-cam's maps of several methods from one forward and backward pass: each method's own class turns the same
    layer activations and gradients into its map (BaseCAM.compute_cam_per_layer and aggregate_multi_layers, as its
    __call__ does); equal to running them one by one, at a fraction of the cost. grad-cam puts the model in eval
    mode: the caller (explain_cams) restores its mode."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = [ClassifierOutputTarget(int(t)) for t in target]
    module = _target_module(model, layer)
    cams = {m: getattr(pytorch_grad_cam, GRADCAM_CLASSES[m])(model=model, target_layers=[module]) for m in methods}
    lead = next((m for m in methods if cams[m].uses_gradients), methods[0])
    shared = cams[lead].activations_and_grads
    try:
        for m, cam in cams.items():          # one set of hooks: the lead's records what every method needs
            if m != lead:
                cam.activations_and_grads.release()
                cam.activations_and_grads = shared
        out = {lead: cams[lead](input_tensor=x, targets=targets)}
        for m, cam in cams.items():
            if m != lead:
                out[m] = cam.aggregate_multi_layers(cam.compute_cam_per_layer(x, targets, False))
    finally:
        shared.release()
    return {m: torch.as_tensor(np.asarray(out[m], dtype=np.float32)) for m in methods}


def explain_cams(model: nn.Module, x: torch.Tensor, target: torch.Tensor, methods=CAM_METHODS, layer="layer4",
                 batch_size: int = 64) -> dict[str, torch.Tensor]:
    """{method: explain_cam(model, x, target, method, layer)} for several methods at once: grad-cam's gradient
    methods share one forward and backward pass per batch (ScoreCAM runs on its own). Same maps, less time."""
    methods = list(dict.fromkeys(methods))
    bad = [m for m in methods if m not in CAM_METHODS]
    if bad:
        raise ValueError(f"unknown CAM methods {bad}: expected some of {CAM_METHODS}")
    target = _checked_batch(x, target)
    together = [m for m in methods if m in GRADCAM_CLASSES and m != "scorecam"]
    alone = [m for m in methods if m not in together]
    out = {m: explain_cam(model, x, target, m, layer, batch_size) for m in alone}
    if together:
        device = next(model.parameters()).device
        parts = {m: [] for m in together}
        was_training = model.training
        model.eval()
        try:
            for i in range(0, len(x), int(batch_size)):
                maps = _gradcam_shared(model, x[i:i + batch_size].to(device), target[i:i + batch_size], together,
                                       layer)
                for m in together:
                    parts[m].append(maps[m])
        finally:
            model.train(was_training)
        out.update({m: torch.cat(parts[m]) for m in together})
    return {m: out[m] for m in methods}


def explain_cam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, method: str = "gradcam", layer="layer4",
                batch_size: int = 64, **options) -> torch.Tensor:
    """Maps (N, H, W) at x's resolution for `method` at `layer` (tap name, index 0-4 or, for grad-cam, a module).

    options go to grad-cam (aug_smooth, eigen_smooth, scorecam_batch_size). Images are processed `batch_size` at a
    time; the model is left in the mode it came in (grad-cam evaluates in eval mode)."""
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}: expected one of {CAM_METHODS}")
    target = _checked_batch(x, target)
    unknown = set(options) - {"aug_smooth", "eigen_smooth", "scorecam_batch_size"}
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)} for {method!r}: use aug_smooth, eigen_smooth, "
                         "scorecam_batch_size")
    device = next(model.parameters()).device
    size = x.shape[-2:]
    out = []
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), int(batch_size)):
            xb, tb = x[i:i + batch_size].to(device), target[i:i + batch_size].to(device)
            if method == "cam":
                m = _upsample(_cam(model, xb, tb, layer), size)
            elif method == "attention":
                m = _upsample(_attention(model, xb, layer), size)
            else:
                m = _gradcam(model, xb, tb.cpu(), method, layer, **options)
            out.append(m.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


__all__ = ["CAM_METHODS", "GRADCAM_CLASSES", "explain_cam", "explain_cams"]
