"""Sanity check of explanation methods: cascading model-parameter randomisation (Adebayo et al. 2018).

The layers of a trained model are re-initialised one block at a time, from the output down (the head first, then
the residual blocks of the last stage, ... , the stem last). After every step the maps are recomputed and compared
with the trained model's maps: Spearman rank correlation and SSIM per image, averaged. An explanation that
describes the model must change once the weights it explains are random; one that stays similar while the upper
layers are random shows the input more than the model (what Sixt et al. 2020 proved for z+-type LRP rules).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

#: verdicts of `sanity_verdicts`
VERDICTS = ("pass", "late", "fail")


def randomization_blocks(model: nn.Module, granularity: str = "block") -> list[tuple[str, list[nn.Module]]]:
    """Top-down list of (name, modules) to re-initialise in turn: the head, the residual blocks (or stages) from the
    last to the first, then the stem. Works for the book's ResNets; other models: their parametrised children
    in reverse order."""
    if granularity not in ("block", "stage"):
        raise ValueError(f"granularity must be 'block' (one step per residual block) or 'stage'; got {granularity!r}")
    if all(hasattr(model, a) for a in ("fc", "layer1", "layer4", "conv1", "bn1")):
        steps = [("fc", [model.fc])]
        for stage in ("layer4", "layer3", "layer2", "layer1"):
            layer = getattr(model, stage)
            if granularity == "stage":
                steps.append((stage, [layer]))
            else:
                steps += [(f"{stage}.{i}", [blk]) for i, blk in reversed(list(enumerate(layer)))]
        steps.append(("stem", [model.conv1, model.bn1]))
        return steps
    children = [(n, [m]) for n, m in model.named_children() if any(True for _ in m.parameters())]
    if not children:
        raise ValueError("the model has no parametrised layers to randomise")
    return children[::-1]


@torch.no_grad()
def reinitialize_(modules, seed: int = 0) -> None:
    """Re-draw the parameters of every submodule with PyTorch's default initialisation (seeded, in place).

    Batch norms are reset too (scale 1, shift 0, running mean 0 and variance 1)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for module in modules:
            for m in module.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()


def _normalised_abs(maps: np.ndarray) -> np.ndarray:
    a = np.abs(maps)
    peak = a.reshape(len(a), -1).max(1)
    return a / np.where(peak > 0, peak, 1.0)[:, None, None]


def map_similarity(original, randomized, absolute: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-image Spearman rank correlation and SSIM between two batches of maps (N, H, W).

    absolute=True ranks ``|map|`` (Adebayo et al.'s main variant; the sign of a map often flips with random weights).
    SSIM is taken on ``|map|`` scaled to [0, 1] per image (data_range 1). A constant map carries no ranking: its
    Spearman is 0 (no similarity), and NaN only when the original map itself is constant."""
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    a = np.asarray(original.detach().cpu() if hasattr(original, "detach") else original, np.float64)
    b = np.asarray(randomized.detach().cpu() if hasattr(randomized, "detach") else randomized, np.float64)
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(f"maps must be two batches (N, H, W) of the same shape; got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("maps contain NaN or inf: check the explanation method before comparing maps")
    ra, rb = (np.abs(a), np.abs(b)) if absolute else (a, b)
    rho = np.empty(len(a))
    for i in range(len(a)):
        x, y = ra[i].ravel(), rb[i].ravel()
        if np.ptp(x) == 0:
            rho[i] = np.nan
        elif np.ptp(y) == 0:
            rho[i] = 0.0
        else:
            rho[i] = spearmanr(x, y).statistic
    na, nb = _normalised_abs(a), _normalised_abs(b)
    ssim = np.array([structural_similarity(na[i], nb[i], data_range=1.0) for i in range(len(a))])
    return rho, ssim


def cascading_randomization(model: nn.Module, x: torch.Tensor, target, methods, *, granularity: str = "block",
                            seed: int = 0, absolute: bool = True, method_options: dict | None = None,
                            keep_maps: bool = False):
    """Adebayo et al.'s cascading randomisation of `model` for every method in `methods`.

    Returns (table, maps): table is a DataFrame (method, step, layer, spearman, ssim, spearman_sd, ssim_sd) with
    step 0 = the trained model (similarity 1) and step k = the first k blocks of `randomization_blocks` random;
    maps[method] = array (steps + 1, N, H, W) when keep_maps (else {}). The model itself is not modified."""
    import pandas as pd

    from ..explain import explain

    if isinstance(methods, str):
        methods = [methods]
    if not len(methods):
        raise ValueError("give at least one explanation method")
    method_options = dict(method_options or {})
    model = model.eval()
    blocks = randomization_blocks(model, granularity)
    names = [b[0] for b in blocks]
    rows, kept = [], {}
    for method in methods:
        opts = method_options.get(method, {})
        work = copy.deepcopy(model).eval()
        work_blocks = dict(randomization_blocks(work, granularity))
        base = explain(work, x, target, method=method, **opts).detach().cpu().numpy()
        if not np.all(np.isfinite(base)):
            raise ValueError(f"{method}: the trained model's maps contain NaN/inf")
        stack = [base]
        rows.append(dict(method=method, step=0, layer="none", spearman=1.0, ssim=1.0, spearman_sd=0.0, ssim_sd=0.0))
        for k, name in enumerate(names, start=1):
            reinitialize_(work_blocks[name], seed=int(seed) + k)
            maps = explain(work, x, target, method=method, **opts).detach().cpu().numpy()
            maps = np.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)
            rho, ssim = map_similarity(base, maps, absolute=absolute)
            rows.append(dict(method=method, step=k, layer=name, spearman=float(np.nanmean(rho)),
                             ssim=float(np.mean(ssim)), spearman_sd=float(np.nanstd(rho)), ssim_sd=float(np.std(ssim))))
            if keep_maps:
                stack.append(maps.astype(np.float32))
        if keep_maps:
            kept[method] = np.stack(stack)
    return pd.DataFrame(rows), kept


def sanity_verdicts(table, threshold: float = 0.5, top: str = "layer4"):
    """One verdict per method from a cascading_randomization table.

    pass  the mean Spearman (ranks of ``|map|``) falls below `threshold` by the time the head and the last stage (`top`) are random;
    late  it falls below only after lower layers are random too (insensitive to the layers that decide);
    fail  it never falls below (the maps survive randomising the whole network).
    Columns: method, spearman_top, ssim_top (after the `top` stage), spearman_full, ssim_full, first_drop, verdict."""
    import pandas as pd

    if not 0 < float(threshold) < 1:
        raise ValueError(f"threshold must lie in (0, 1); got {threshold}")
    out = []
    for method, g in table.groupby("method", sort=False):
        g = g.sort_values("step")
        layers = g["layer"].tolist()
        in_top = [i for i, name in enumerate(layers) if name.split(".")[0] == top]
        if not in_top:
            raise ValueError(f"no step randomises {top!r}: layers are {layers}")
        top_row = g.iloc[max(in_top)]
        full_row = g.iloc[-1]
        below = g[(g["step"] > 0) & (g["spearman"] < threshold)]
        first = below.iloc[0] if len(below) else None
        if first is None:
            verdict = "fail"
        elif int(first["step"]) <= int(top_row["step"]):
            verdict = "pass"
        else:
            verdict = "late"
        out.append(dict(method=method, spearman_top=float(top_row["spearman"]), ssim_top=float(top_row["ssim"]),
                        spearman_full=float(full_row["spearman"]), ssim_full=float(full_row["ssim"]),
                        first_drop=None if first is None else str(first["layer"]), verdict=verdict))
    return pd.DataFrame(out, columns=["method", "spearman_top", "ssim_top", "spearman_full", "ssim_full",
                                      "first_drop", "verdict"])


__all__ = ["VERDICTS", "randomization_blocks", "reinitialize_", "map_similarity", "cascading_randomization",
           "sanity_verdicts"]
