"""captum backend of explain(): gradient, gradient x input, Integrated Gradients and SmoothGrad maps.

Each method explains the target output (the logit by default, like the LRP backend; output="probability" explains
the softmax probability) of every image for its own target, and returns signed maps (N, H, W): the input
attribution summed over channels. The model is put in eval mode with its parameters' gradients and cuDNN switched
off for the call (cuDNN's RNN backward refuses eval mode) and restored afterwards.
"""

from __future__ import annotations

import torch
from torch import nn

CAPTUM_METHODS = ("gradient", "gradient_x_input", "integrated_gradients", "smoothgrad")


class _Softmax(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return torch.softmax(self.model(x), dim=-1)


def _baselines(baselines, x: torch.Tensor):
    if baselines is None:
        return torch.zeros_like(x)
    if isinstance(baselines, (int, float)):
        return torch.full_like(x, float(baselines))
    b = torch.as_tensor(baselines, dtype=x.dtype, device=x.device)
    if b.shape == x.shape[1:]:
        b = b.expand_as(x)
    if b.shape != x.shape:
        raise ValueError(f"baselines must be a number, one input {tuple(x.shape[1:])} or one per input "
                         f"{tuple(x.shape)}; got {tuple(b.shape)}")
    return b


def captum_attribution(model: nn.Module, x: torch.Tensor, target, method: str = "integrated_gradients", *,
                       output: str = "logit", batch_size: int | None = None, baselines=None, n_steps: int = 32,
                       ig_method: str = "gausslegendre", internal_batch_size: int | None = None,
                       nt_samples: int = 16, stdevs: float | None = None, noise_level: float = 0.15,
                       seed: int = 0) -> torch.Tensor:
    """Input attributions with the shape of x (any shape (N, ...)), one target per input.

    integrated_gradients: `baselines` (None = zeros), `n_steps`, `ig_method` (captum's rule), `internal_batch_size`.
    smoothgrad: `nt_samples` noisy copies with standard deviation `stdevs` (default: noise_level x the batch's
    value range), drawn from a generator seeded by `seed` (same call -> same maps)."""
    from captum.attr import InputXGradient, IntegratedGradients, NoiseTunnel, Saliency

    if method not in CAPTUM_METHODS:
        raise ValueError(f"unknown captum method {method!r}: expected one of {CAPTUM_METHODS}")
    if output not in ("logit", "probability"):
        raise ValueError(f"output must be 'logit' or 'probability'; got {output!r}")
    n = x.shape[0]
    target = torch.as_tensor(target, dtype=torch.long, device=x.device).reshape(-1)
    if target.numel() == 1 and n > 1:
        target = target.repeat(n)
    if target.numel() != n:
        raise ValueError(f"one target per input needed: {n} inputs, {target.numel()} targets")
    if n_steps < 2:
        raise ValueError(f"n_steps must be >= 2; got {n_steps}")
    if nt_samples < 1:
        raise ValueError(f"nt_samples must be >= 1; got {nt_samples}")

    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            n_out = model(x[:1]).shape[1]
        if int(target.min()) < 0 or int(target.max()) >= n_out:
            raise ValueError(f"target index out of range: the model has {n_out} outputs; got {target.tolist()[:8]}")
        f = _Softmax(model) if output == "probability" else model
        x = x.detach()
        if method == "smoothgrad" and stdevs is None:
            stdevs = float(noise_level) * float(x.max() - x.min())
        step = n if not batch_size else int(batch_size)
        out = []
        with torch.backends.cudnn.flags(enabled=False):
            for start in range(0, n, step):
                xb, tb = x[start:start + step], target[start:start + step]
                if method == "gradient":
                    a = Saliency(f).attribute(xb.clone().requires_grad_(), target=tb, abs=False)
                elif method == "gradient_x_input":
                    a = InputXGradient(f).attribute(xb.clone().requires_grad_(), target=tb)
                elif method == "integrated_gradients":
                    a = IntegratedGradients(f).attribute(xb, baselines=_baselines(baselines, x)[start:start + step],
                                                         target=tb, n_steps=int(n_steps), method=ig_method,
                                                         internal_batch_size=internal_batch_size)
                else:
                    devices = [x.device] if x.device.type == "cuda" else []
                    with torch.random.fork_rng(devices=devices):
                        torch.manual_seed(int(seed) + start)
                        a = NoiseTunnel(Saliency(f)).attribute(xb, nt_type="smoothgrad", nt_samples=int(nt_samples),
                                                               stdevs=float(stdevs), target=tb, abs=False)
                out.append(a.detach())
        return torch.cat(out)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def explain_captum(model: nn.Module, x: torch.Tensor, target, method: str = "integrated_gradients",
                   **options) -> torch.Tensor:
    """explain() backend: signed maps (N, H, W), the captum attribution summed over the channels."""
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W); got shape {tuple(x.shape)}")
    return captum_attribution(model, x, target, method, **options).sum(1)


__all__ = ["CAPTUM_METHODS", "captum_attribution", "explain_captum"]
