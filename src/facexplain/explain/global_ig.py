"""Global Integrated Gradients (Di Luzio et al.): one importance per landmark per emotion, over the training set.

For the binary net of emotion e: take a typical sequence of each of the 5 other emotions as baselines; compute IG
(captum's IntegratedGradients) of the net's emotion probability for every training sequence against every
baseline; per pair, sum ``|IG|`` over frames and coordinates -> one value per landmark; average over the sequences,
then over the baselines -> a vector of L importances; rank the landmarks by it.

The work is batched across (sequence, baseline) pairs and integration steps: captum gets chunks of pairs whose
interpolated points fill `batch_size`, and only the (pairs, L) reduction is kept, never the full attributions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: captum's integration rules (IntegratedGradients(method=...)).
METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right")


class ProbabilityOf(nn.Module):
    """Wraps a 2-logit net so its output is the class probabilities (the paper's F: R^n -> [0, 1])."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return torch.softmax(self.model(x), dim=-1)


def _forward(model: nn.Module, output: str) -> nn.Module:
    if output == "probability":
        return ProbabilityOf(model)
    if output == "logit":
        return model
    raise ValueError(f"output must be 'probability' (the paper's F) or 'logit'; got {output!r}")


class _frozen:
    """Eval mode, no parameter gradients (IG needs input gradients only) and cuDNN off (its RNN backward refuses
    eval mode: "cudnn RNN backward can only be called in training mode"); restores everything on exit."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.training = self.model.training
        self.flags = [(p, p.requires_grad) for p in self.model.parameters()]
        self.model.eval()
        for p, _ in self.flags:
            p.requires_grad_(False)
        self.cudnn = torch.backends.cudnn.flags(enabled=False)
        self.cudnn.__enter__()
        return self.model

    def __exit__(self, *exc):
        self.cudnn.__exit__(*exc)
        for p, flag in self.flags:
            p.requires_grad_(flag)
        self.model.train(self.training)
        return False


@dataclass
class GlobalIG:
    """Result of global_ig for one net: importance (L,), per-baseline importance (B, L), completeness check."""

    importance: np.ndarray
    per_baseline: np.ndarray
    ranking: np.ndarray
    abs_delta_sum: float          # sum over pairs of |sum(IG) - (F(x) - F(x'))|
    abs_diff_sum: float           # sum over pairs of |F(x) - F(x')|
    n_pairs: int
    n_steps: int
    method: str
    per_pair: np.ndarray | None = field(default=None, repr=False)   # (B, N, L) when keep_pairs=True

    @property
    def completeness_error(self) -> float:
        """Relative completeness error over all pairs: ``sum |delta| / sum |F(x) - F(x')|``."""
        return self.abs_delta_sum / max(self.abs_diff_sum, 1e-12)


def rank_landmarks(importance) -> np.ndarray:
    """Landmark indices from most to least important (ties keep the lower index first)."""
    imp = np.asarray(importance, dtype=np.float64)
    if imp.ndim != 1:
        raise ValueError(f"importance must be one value per landmark (L,); got shape {imp.shape}")
    return np.argsort(-imp, kind="stable")


def _check(inputs: torch.Tensor, baselines: torch.Tensor, n_steps: int, method: str):
    if inputs.ndim < 2 or baselines.ndim != inputs.ndim or baselines.shape[1:] != inputs.shape[1:]:
        raise ValueError(f"inputs (N, ...) and baselines (B, ...) must share their per-sample shape; got "
                         f"{tuple(inputs.shape)} and {tuple(baselines.shape)}")
    if len(inputs) == 0 or len(baselines) == 0:
        raise ValueError("global IG needs at least one input and one baseline")
    if int(n_steps) < 2:
        raise ValueError(f"n_steps must be >= 2 (captum's Riemann rules need two points); got {n_steps}")
    if method not in METHODS:
        raise ValueError(f"unknown integration method {method!r}: use one of {METHODS}")


def global_ig(model: nn.Module, inputs, baselines, target: int = 1, n_steps: int = 16,
              method: str = "gausslegendre", batch_size: int = 128, output: str = "probability",
              device: str | None = None, keep_pairs: bool = False) -> GlobalIG:
    """Global IG of `model` (class `target`) over `inputs` (N, P, C, L) against each of `baselines` (B, P, C, L).

    Per pair: a = IG(x, x') of shape (P, C, L); ``s = sum_{P, C} |a|`` (L,). importance = mean over baselines of the
    mean over inputs of s. `batch_size` counts interpolated points per forward/backward pass (pairs x steps).
    """
    from captum.attr import IntegratedGradients

    inputs, baselines = torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(baselines, dtype=torch.float32)
    _check(inputs, baselines, n_steps, method)
    device = device or next(model.parameters()).device
    n, b = len(inputs), len(baselines)
    reduce_dims = tuple(range(1, inputs.ndim - 1))          # frames and coordinates; the last axis is landmarks
    sums = torch.zeros(b, inputs.shape[-1], dtype=torch.float64)
    pairs = torch.zeros(b, n, inputs.shape[-1]) if keep_pairs else None
    per_chunk = max(1, int(batch_size) // int(n_steps))
    abs_delta, abs_diff = 0.0, 0.0
    model = model.to(device)
    with _frozen(model):
        f = _forward(model, output)
        ig = IntegratedGradients(f)
        x_all, base_all = inputs.to(device), baselines.to(device)
        with torch.no_grad():   # F at every input and baseline once (not once per pair) for the completeness check
            f_x = torch.cat([f(x_all[s:s + per_chunk * n_steps]) for s in range(0, n, per_chunk * n_steps)])[:, target]
            f_b = f(base_all)[:, target]
        # all (baseline j, input i) pairs, flattened baseline-major, cut into chunks of `per_chunk` pairs
        for start in range(0, n * b, per_chunk):
            idx = torch.arange(start, min(start + per_chunk, n * b), device=device)
            j, i = idx // n, idx % n
            x, x0 = x_all[i], base_all[j]
            attr = ig.attribute(x, baselines=x0, target=int(target), n_steps=int(n_steps), method=method)
            s = attr.abs().sum(dim=reduce_dims).detach().cpu().double()            # (pairs, L)
            sums.index_add_(0, j.cpu(), s)
            if keep_pairs:
                pairs[j.cpu(), i.cpu()] = s.float()
            diff = f_x[i] - f_b[j]
            delta = attr.detach().flatten(1).sum(1) - diff          # captum's convergence delta
            abs_delta += float(delta.detach().abs().sum())
            abs_diff += float(diff.abs().sum())
    per_baseline = (sums / n).numpy()
    importance = per_baseline.mean(axis=0)
    return GlobalIG(importance, per_baseline, rank_landmarks(importance), abs_delta, abs_diff, n * b,
                    int(n_steps), method, None if pairs is None else pairs.numpy())


def explain_global_ig(model: nn.Module, x: torch.Tensor, target: torch.Tensor, method: str = "global_ig", *,
                      baselines, n_steps: int = 16, ig_method: str = "gausslegendre", internal_batch_size: int = 128,
                      output: str = "probability") -> torch.Tensor:
    """explain() backend: per input clip, the landmark importance (N, L) = mean over `baselines` of the sum over
    frames and coordinates of ``|IG(x, x')|`` (integration rule `ig_method`); its mean over the inputs is global_ig's
    importance. One class for the whole set."""
    classes = torch.unique(target)
    if len(classes) != 1:
        raise ValueError(f"global_ig explains one class over the whole set: give one target; got {classes.tolist()}")
    r = global_ig(model, x, baselines, target=int(classes[0]), n_steps=n_steps, method=ig_method,
                  batch_size=internal_batch_size, output=output, keep_pairs=True)
    return torch.as_tensor(r.per_pair.mean(axis=0))


def loop_ig(model: nn.Module, inputs, baselines, target: int = 1, n_steps: int = 16, method: str = "gausslegendre",
            output: str = "probability") -> np.ndarray:
    """The reference: captum's IntegratedGradients called once per (input, baseline) pair; returns the same
    importance vector as global_ig (the slow path, for tests and the benchmark)."""
    from captum.attr import IntegratedGradients

    inputs, baselines = torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(baselines, dtype=torch.float32)
    _check(inputs, baselines, n_steps, method)
    device = next(model.parameters()).device
    reduce_dims = tuple(range(1, inputs.ndim - 1))
    per_baseline = []
    with _frozen(model):
        ig = IntegratedGradients(_forward(model, output))
        for x0 in baselines.to(device):
            acc = torch.zeros(inputs.shape[-1], dtype=torch.float64)
            for x in inputs.to(device):
                a = ig.attribute(x[None], baselines=x0[None], target=int(target), n_steps=int(n_steps), method=method)
                acc += a.abs().sum(dim=reduce_dims)[0].detach().cpu().double()
            per_baseline.append(acc / len(inputs))
    return torch.stack(per_baseline).mean(0).numpy()


def typical_samples(inputs, labels, classes) -> dict[str, int]:
    """For each class: the index of its sequence closest (Euclidean) to the class's mean sequence."""
    x = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    labels = np.asarray(labels).astype(str)
    out = {}
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if idx.size == 0:
            raise ValueError(f"no training sequence of class {c!r}: every emotion needs at least one to serve "
                             f"as a baseline (use more sequences)")
        d = ((x[idx] - x[idx].mean(0)) ** 2).sum(1)
        out[str(c)] = int(idx[np.argmin(d)])
    return out


def emotion_baselines(inputs, labels, emotion: str, classes) -> tuple[np.ndarray, list[str]]:
    """The typical sequences of every class but `emotion` (the paper's 5 baselines) and their class names."""
    if emotion not in list(classes):
        raise ValueError(f"emotion {emotion!r} is not one of {list(classes)}")
    typ = typical_samples(inputs, labels, classes)
    others = [c for c in classes if c != emotion]
    return np.asarray(inputs)[[typ[c] for c in others]], others


@torch.no_grad()
def path_probability(model: nn.Module, x, baseline, target: int = 1, alphas=None) -> tuple[np.ndarray, np.ndarray]:
    """The target-class probability at points baseline + alpha (x - baseline) of the IG path (paper Fig. 2)."""
    alphas = np.linspace(0, 1, 51) if alphas is None else np.asarray(alphas, dtype=np.float64)
    x, x0 = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(baseline, dtype=torch.float32)
    if x.shape != x0.shape:
        raise ValueError(f"x and baseline must have the same shape; got {tuple(x.shape)} and {tuple(x0.shape)}")
    device = next(model.parameters()).device
    a = torch.as_tensor(alphas, dtype=torch.float32).view(-1, *([1] * x.ndim))
    pts = (x0 + a * (x - x0)).to(device)
    was = model.training
    model.eval()
    p = torch.softmax(model(pts), dim=-1)[:, target].cpu().numpy()
    model.train(was)
    return alphas, p


def completeness_table(model: nn.Module, inputs, baselines, target: int = 1, steps=(2, 4, 8, 16, 32, 64),
                       methods=METHODS, output: str = "probability", batch_size: int = 128):
    """Relative completeness error of global IG for each (method, n_steps): pandas DataFrame."""
    import pandas as pd
    rows = []
    for m in methods:
        for s in steps:
            r = global_ig(model, inputs, baselines, target=target, n_steps=s, method=m, batch_size=batch_size,
                          output=output)
            rows.append(dict(method=m, n_steps=int(s), completeness_error=r.completeness_error))
    return pd.DataFrame(rows)


def cheapest_setting(table, tolerance: float = 0.01) -> dict:
    """The (method, n_steps) with the fewest steps whose completeness error is below `tolerance`
    (ties: the smaller error). Raises if none is."""
    ok = table[table.completeness_error < tolerance]
    if ok.empty:
        raise ValueError(f"no setting keeps the completeness error under {tolerance:.0%}: try more steps")
    best = ok.sort_values(["n_steps", "completeness_error"]).iloc[0]
    return dict(method=str(best.method), n_steps=int(best.n_steps), completeness_error=float(best.completeness_error))
