"""Seed 004's interpretable FER model: a small ResNet emotion classifier whose layer attention is aligned with AU maps.

The attention of layer l is the channel mean of its features, T_l = mean_j F_l[j]. Training minimises
cross-entropy + lambda * (1 - cos(T_l, A)), A the face's AU map shrunk to T_l's size; faces without a map
(neutral) only contribute the cross-entropy. lambda = 0 is the plain classifier ("w/o AU").
Chapter 04's pipeline (data, training runs, tables, claims) is in facexplain.studies.au_guided_fer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..faces import EMOTIONS_WITH_NEUTRAL
from .resnet import SmallResNet, small_resnet18

#: Names of the tap points: the stem and the four residual stages of the small ResNet.
LAYERS = SmallResNet.taps
#: Grey-level normalisation of the inputs (uint8 / 255 - MEAN) / STD.
MEAN, STD = 0.5, 0.25
#: Index into model.features(x) of a layer name ("stem", "layer1".."layer4") or index 0..4.
layer_index = SmallResNet.tap_index


def fer_model(num_classes: int = len(EMOTIONS_WITH_NEUTRAL), widths=(16, 32, 64, 128)) -> SmallResNet:
    """The emotion classifier: the book's parameter-reduced ResNet-18 (GAP + linear head) with `num_classes` logits."""
    return small_resnet18(num_classes, widths=widths)


def to_input(images) -> torch.Tensor:
    """uint8 grey faces (N, H, W) -> normalised float tensor (N, 1, H, W)."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim != 3:
        raise ValueError(f"images must be grey (N, H, W); got shape {tuple(x.shape)}")
    return ((x / 255.0 - MEAN) / STD)[:, None]


def logits_and_features(model: SmallResNet, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One pass giving the logits and the stage outputs [stem, layer1..layer4] (same logits as model(x))."""
    feats = model.features(x)
    logits = model.fc(torch.flatten(model.avgpool(feats[-1]), 1))
    return logits, feats


def attention(model: SmallResNet, x: torch.Tensor, layer="layer4", size: tuple[int, int] | None = None) -> torch.Tensor:
    """Layer attention T_l = channel mean of layer l's features, (N, h, w); bilinearly resized to `size` if given."""
    t = model.features(x)[layer_index(layer)].mean(dim=1)
    if size is not None:
        t = F.interpolate(t[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return t


def shrink_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """AU maps (N, H, W) averaged down to an attention map's size (area interpolation keeps small blobs)."""
    return F.adaptive_avg_pool2d(maps[:, None], tuple(size))[:, 0]


def alignment_cosine(att: torch.Tensor, maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-face cosine R(T_l, A) between attention maps and AU maps of the same size, (N,)."""
    a, m = att.flatten(1), maps.flatten(1)
    return (a * m).sum(1) / (a.norm(dim=1) * m.norm(dim=1) + eps)


def au_loss(model: SmallResNet, x: torch.Tensor, y: torch.Tensor, maps: torch.Tensor, lam: float = 0.0,
            layer="layer4") -> torch.Tensor:
    """Cross-entropy + lam * (1 - cos(T_l, A)), the alignment term averaged over the faces that have an AU map."""
    logits, feats = logits_and_features(model, x)
    loss = F.cross_entropy(logits, y)
    if lam:
        att = feats[layer_index(layer)].mean(dim=1)
        with_map = maps.flatten(1).amax(1) > 0
        if with_map.any():
            target = shrink_maps(maps[with_map], att.shape[-2:])
            loss = loss + lam * (1.0 - alignment_cosine(att[with_map], target)).mean()
    return loss


#: Light random changes of the training faces (fit_classifier(augment=...)): shifts of up to 4% of the image, scale
#: changes of up to 5%, contrast and brightness changes of up to 20%. A face's AU map moves with the face.
AUGMENT = dict(shift=0.04, scale=0.05, contrast=0.2, brightness=0.2)


def augment_batch(x: torch.Tensor, maps: torch.Tensor, generator: torch.Generator, shift: float = 0.04,
                  scale: float = 0.05, contrast: float = 0.2, brightness: float = 0.2):
    """Each face of a batch (N, 1, H, W) randomly shifted, scaled (borders reflected), its contrast and brightness
    changed (relative to its own spread, so any input normalisation works); its AU map (N, H, W) moved by the same
    shift and scale (zero outside). Returns (faces, maps)."""
    for name, v in dict(shift=shift, scale=scale, contrast=contrast, brightness=brightness).items():
        if not 0 <= float(v) < 1:
            raise ValueError(f"{name} must be in [0, 1): a fraction of the image; got {v}")
    n = x.shape[0]

    def u(*shape):  # uniform in [-1, 1)
        return torch.rand(*shape, generator=generator) * 2 - 1

    theta = torch.zeros(n, 2, 3)
    s = 1 + scale * u(n)
    theta[:, 0, 0], theta[:, 1, 1] = s, s
    theta[:, :, 2] = 2 * shift * u(n, 2)                  # affine_grid's coordinates span [-1, 1]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False).to(x.dtype)
    out = F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)
    mean, sd = out.mean((2, 3), keepdim=True), out.std((2, 3), keepdim=True)
    out = mean + (out - mean) * (1 + contrast * u(n, 1, 1, 1)) + brightness * sd * u(n, 1, 1, 1)
    moved = F.grid_sample(maps[:, None], grid.to(maps.dtype), padding_mode="zeros", align_corners=False)[:, 0]
    return out, moved


def fit_classifier(model: SmallResNet, x: torch.Tensor, y: torch.Tensor, maps: torch.Tensor, lam: float = 0.0,
                   layer="layer4", epochs: int = 20, batch_size: int = 32, lr: float = 4e-3,
                   weight_decay: float = 5e-4, augment: dict | None = AUGMENT, seed: int = 0,
                   device: str = "cpu", progress: bool = False) -> list[float]:
    """Train the emotion classifier with au_loss: AdamW, a one-cycle learning rate (warm-up to `lr` over the first
    quarter of the steps, cosine decay to ~0), full batches only (batch norm needs them), the training faces and
    their AU maps changed by augment_batch(**augment) (None: no augmentation). Seeded; returns the epoch losses."""
    if not (len(x) == len(y) == len(maps)):
        raise ValueError(f"x, y and maps must have one entry per face; got {len(x)}, {len(y)}, {len(maps)}")
    bs = min(int(batch_size), len(x))
    steps = len(x) // bs
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=int(epochs) * steps, pct_start=0.25)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(int(seed))
    # channels-last activations: oneDNN's convolutions and max pooling run 1.65x faster per step on one CPU thread
    # (0.135 s against 0.222 s for a batch of 32 at 112 px); the weights go back to the default layout afterwards
    model.to(device).to(memory_format=torch.channels_last).train()
    history = []
    epoch_iter = range(int(epochs))
    if progress:
        from tqdm.auto import tqdm
        epoch_iter = tqdm(epoch_iter, desc="training", leave=False)
    for _ in epoch_iter:
        order, total = torch.as_tensor(rng.permutation(len(x))), 0.0
        for k in range(steps):
            idx = order[k * bs:(k + 1) * bs]
            xb, mb = x[idx], maps[idx]
            if augment is not None:
                xb, mb = augment_batch(xb, mb, gen, **augment)
            xb = xb.to(device).contiguous(memory_format=torch.channels_last)
            loss = au_loss(model, xb, y[idx].to(device), mb.to(device), lam=lam, layer=layer)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append(total / steps)
    model.to(memory_format=torch.contiguous_format).eval()
    return history


__all__ = ["AUGMENT", "LAYERS", "MEAN", "STD", "alignment_cosine", "attention", "au_loss", "augment_batch",
           "fer_model", "fit_classifier", "layer_index", "logits_and_features", "shrink_maps", "to_input"]
