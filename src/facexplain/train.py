"""One training loop for the book's torch models, and a cache of trained weights keyed by their config."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from .cache import cached_state_dict


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None):
    """Index batches over n items, shuffled when an rng is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def steps_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Optimizer steps in one epoch of fit(...) over n items."""
    if drop_last and n >= batch_size:
        return n // batch_size
    return -(-n // batch_size)


def one_cycle(optimizer, max_lr: float, epochs: int, n: int, batch_size: int, drop_last: bool = False,
              warmup: float = 0.25):
    """torch's one-cycle learning-rate schedule (Smith & Topin 2019) over fit(...)'s batches: the rate rises to
    max_lr during the first `warmup` share of the steps, then anneals (cosine) to nearly zero."""
    total = max(1, int(epochs) * steps_per_epoch(n, batch_size, drop_last))
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=float(max_lr), total_steps=total,
                                               pct_start=float(warmup))


class Augment:
    """A light random change of every face of a batch (N, C, H, W), each face its own: a shift of up to `shift` of
    the image size, a scale change of up to `scale`, a contrast change of up to `contrast` around the face's mean
    and a brightness change of up to `brightness` of its standard deviation. Borders are reflected. Works on any
    input normalisation (the brightness step is relative to each image's own spread)."""

    def __init__(self, shift: float = 0.04, scale: float = 0.05, contrast: float = 0.2, brightness: float = 0.2):
        for name, v in dict(shift=shift, scale=scale, contrast=contrast, brightness=brightness).items():
            if not 0 <= float(v) < 1:
                raise ValueError(f"{name} must be in [0, 1): a fraction of the image; got {v}")
        self.shift, self.scale, self.contrast, self.brightness = float(shift), float(scale), float(contrast), \
            float(brightness)

    def __call__(self, x: torch.Tensor, generator: torch.Generator, paired: torch.Tensor | None = None):
        """The changed batch; with `paired` (maps (N, H, W) or (N, C, H, W) that belong to the faces, e.g. AU maps),
        (changed batch, the maps moved by the same shift and scale, zero outside)."""
        n = x.shape[0]
        u = lambda *shape: torch.rand(*shape, generator=generator) * 2 - 1  # noqa: E731  uniform in [-1, 1)
        theta = torch.zeros(n, 2, 3)
        s = 1 + self.scale * u(n)
        theta[:, 0, 0], theta[:, 1, 1] = s, s
        theta[:, :, 2] = 2 * self.shift * u(n, 2)         # affine_grid's coordinates span [-1, 1]
        grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
        out = torch.nn.functional.grid_sample(x, grid.to(x.dtype), padding_mode="reflection", align_corners=False)
        mean = out.mean((2, 3), keepdim=True)
        sd = out.std((2, 3), keepdim=True)
        c = 1 + self.contrast * u(n, 1, 1, 1)
        b = self.brightness * u(n, 1, 1, 1)
        out = (out - mean) * c + mean + b * sd
        if paired is None:
            return out
        m = paired[:, None] if paired.ndim == 3 else paired
        if m.shape[0] != n or m.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"paired maps must be (N, H, W) or (N, C, H, W) like the batch {tuple(x.shape)}; "
                             f"got {tuple(paired.shape)}")
        m = torch.nn.functional.grid_sample(m, grid.to(m.dtype), padding_mode="zeros", align_corners=False)
        return out, (m[:, 0] if paired.ndim == 3 else m)

    def __repr__(self):  # part of the model cache key
        return (f"Augment(shift={self.shift}, scale={self.scale}, contrast={self.contrast}, "
                f"brightness={self.brightness})")


def fit(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: Callable, optimizer,
        epochs: int, batch_size: int = 64, seed: int = 0, device: str = "cpu", progress: bool = False,
        extra: torch.Tensor | None = None, schedule=None, augment: Callable | None = None,
        drop_last: bool = False, channels_last: bool = False) -> list[float]:
    """Train `model` on (inputs, targets) for `epochs`; loss_fn(model, xb, yb[, eb]) -> scalar. Returns the epoch losses.

    Data stay on the CPU and move to `device` batch by batch; the shuffling is seeded. schedule: a torch learning-rate
    scheduler stepped after every batch (e.g. one_cycle(...)); augment(xb, generator[, eb]): a random change of each
    training batch (e.g. Augment, which moves `extra`'s maps with their faces), drawn from a torch.Generator seeded
    with `seed`; drop_last: skip a last batch smaller than batch_size (a batch of a few faces gives batch norm
    useless statistics); channels_last: image batches and convolution weights in channels-last layout while
    training (oneDNN's convolutions and pooling run faster so on a CPU; the weights go back afterwards)."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(int(seed)) if augment is not None else None
    model.to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    history = []
    epochs_iter = range(epochs)
    if progress:
        from tqdm.auto import tqdm
        epochs_iter = tqdm(epochs_iter, desc="training", leave=False)
    for _ in epochs_iter:
        total, count = 0.0, 0
        for idx in batches(len(inputs), batch_size, rng):
            if drop_last and len(idx) < batch_size and count:
                continue
            idx_t = torch.as_tensor(idx)
            xb, eb = inputs[idx_t], None if extra is None else extra[idx_t]
            if augment is not None and eb is None:
                xb = augment(xb, gen)
            elif augment is not None:             # maps that belong to the faces (extra) move with them
                xb, eb = augment(xb, gen, eb)
            xb, yb = xb.to(device), targets[idx_t].to(device)
            if channels_last and xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            args = (model, xb, yb) if eb is None else (model, xb, yb, eb.to(device))
            loss = loss_fn(*args)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
    if channels_last:
        model.to(memory_format=torch.contiguous_format)
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, batch_size: int = 256, device: str = "cpu") -> torch.Tensor:
    """Model outputs for all inputs, in eval mode, batch by batch (returned on the CPU)."""
    model.to(device).eval()
    return torch.cat([model(inputs[i:i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)])


def cached_model(kind: str, config: dict, make: Callable[[], nn.Module], train: Callable[[nn.Module], None],
                 code=(), device: str = "cpu") -> nn.Module:
    """A model built by make() and trained by train(model), or its weights from data/cache/<kind>/ if that config
    was trained before. `config` must hold everything the weights depend on (data, seeds, epochs, ...); the key
    adds the source of this training loop, of the modules defining make/train and of `code` (further modules the
    model's code lives in), the torch version and the `device` it is trained on."""
    model = make()

    def build():
        train(model)
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}

    model.load_state_dict(cached_state_dict(kind, config, build, code=(make, train, *code), device=device))
    return model.eval()
