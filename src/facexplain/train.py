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


def fit(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: Callable, optimizer,
        epochs: int, batch_size: int = 64, seed: int = 0, device: str = "cpu", progress: bool = False,
        extra: torch.Tensor | None = None) -> list[float]:
    """Train `model` on (inputs, targets) for `epochs`; loss_fn(model, xb, yb[, eb]) -> scalar. Returns the epoch losses.

    Data stay on the CPU and move to `device` batch by batch; the shuffling is seeded."""
    rng = np.random.default_rng(seed)
    model.to(device).train()
    history = []
    epochs_iter = range(epochs)
    if progress:
        from tqdm.auto import tqdm
        epochs_iter = tqdm(epochs_iter, desc="training", leave=False)
    for _ in epochs_iter:
        total, count = 0.0, 0
        for idx in batches(len(inputs), batch_size, rng):
            idx_t = torch.as_tensor(idx)
            xb, yb = inputs[idx_t].to(device), targets[idx_t].to(device)
            args = (model, xb, yb) if extra is None else (model, xb, yb, extra[idx_t].to(device))
            loss = loss_fn(*args)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
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
