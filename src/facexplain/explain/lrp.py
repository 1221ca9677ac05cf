"""LRP backend of explain(): zennit composites on torchvision ResNets, relevance seeded at the explained logit.

Seed 001 explains a sigmoid AU detector with LRP. We seed the relevance at the AU's *logit* (the sigmoid is a
monotone squashing and would only rescale the relevance), canonize the ResNet with zennit's ResNetCanonizer
(batch norms merged into the convolutions, the residual sum made an explicit module) and, by default, leave the
biases out of the rules (zero_params="bias"), so that the input relevance sums to the explained logit. The one
exception is EpsilonGammaBox, which keeps its biases (see make_composite).

A whole batch is explained in one forward/backward pass: the composite is registered once per call and each
image gets its own one-hot output relevance for its own target.
"""

from __future__ import annotations

import torch

#: method name -> zennit composite class name
COMPOSITES = {
    "lrp.epsilon_plus_flat": "EpsilonPlusFlat",
    "lrp.epsilon_gamma_box": "EpsilonGammaBox",
    "lrp.epsilon_alpha2_beta1_flat": "EpsilonAlpha2Beta1Flat",
    "lrp.epsilon_plus": "EpsilonPlus",
}


def make_composite(method: str, x: torch.Tensor | None = None, *, low: float = 0.0, high: float = 1.0,
                   epsilon: float = 1e-6, gamma: float = 0.25, zero_params="default", canonize: bool = True):
    """The zennit composite for `method` (with ResNetCanonizer); EpsilonGammaBox needs the input x for its bounds.

    zero_params="default" leaves the biases out of the rules (zero_params="bias": the input relevance then sums to
    the logit) for every composite but EpsilonGammaBox, which keeps them: with bias-free denominators the gamma rule's
    z + gamma*z+ crosses zero on neurons that only the bias keeps open, and the relevance explodes (sums of 100x to
    10^4x the logit measured on a small ResNet-18)."""
    import zennit.composites as zc
    from zennit.torchvision import ResNetCanonizer

    if method not in COMPOSITES:
        raise ValueError(f"unknown LRP method {method!r}: expected one of {sorted(COMPOSITES)}")
    if zero_params == "default":
        zero_params = None if method == "lrp.epsilon_gamma_box" else "bias"
    if zero_params is not None and not isinstance(zero_params, (str, list, tuple)):
        raise ValueError(f"zero_params must be None, 'bias' or a list of parameter names; got {zero_params!r}")
    kwargs = dict(epsilon=epsilon, zero_params=zero_params, canonizers=[ResNetCanonizer()] if canonize else None)
    cls = getattr(zc, COMPOSITES[method])
    if method == "lrp.epsilon_gamma_box":
        if x is None:
            raise ValueError("EpsilonGammaBox needs the input batch x to build its low/high bounds")
        if not float(low) < float(high):
            raise ValueError(f"EpsilonGammaBox needs low < high (the input range); got low={low}, high={high}")
        lo, hi = float(x.min()), float(x.max())
        if lo < float(low) - 1e-6 or hi > float(high) + 1e-6:
            raise ValueError(f"inputs span [{lo:.3g}, {hi:.3g}], outside the box [low={low}, high={high}]: "
                             "pass low=/high= equal to the range your inputs are normalised to")
        # scalar bounds broadcast to any batch (zennit expands them), so chunks of any size share one composite
        return cls(low=float(low), high=float(high), gamma=gamma, **kwargs)
    return cls(**kwargs)


def lrp_relevance(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, method: str = "lrp.epsilon_plus_flat",
                  *, seed: str = "logit", batch_size: int | None = None, **composite_options):
    """Input relevance (N, C, H, W) and the explained logits (N,) of `model` for one target output per image.

    seed="logit": the output relevance is the target's logit value (so R sums to the logit); seed="one": 1.
    batch_size=None explains the whole batch in one pass; an int splits it into chunks (same composite,
    registered once) to bound memory."""
    from zennit.attribution import Gradient

    if seed not in ("logit", "one"):
        raise ValueError(f"seed must be 'logit' or 'one'; got {seed!r}")
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W); got shape {tuple(x.shape)}")
    target = torch.as_tensor(target, dtype=torch.long, device=x.device).reshape(-1)
    if target.numel() != x.shape[0]:
        raise ValueError(f"one target per image needed: {x.shape[0]} images, {target.numel()} targets")
    if model.training:
        raise ValueError("put the model in eval mode (model.eval()) before LRP: batch norms are merged as in inference")
    with torch.no_grad():
        n_out = model(x[:1]).shape[1]
    if int(target.min()) < 0 or int(target.max()) >= n_out:
        raise ValueError(f"target index out of range: the model has {n_out} outputs; got {target.tolist()[:8]}...")

    x = x.detach()
    composite = make_composite(method, x, **composite_options)
    step = x.shape[0] if not batch_size else int(batch_size)
    rel, logits = [], []
    with Gradient(model=model, composite=composite) as attributor:
        for start in range(0, x.shape[0], step):
            xb = x[start:start + step].clone().requires_grad_(True)
            tb = target[start:start + step]
            def seed_fn(out, tb=tb):
                one_hot = torch.zeros_like(out)
                one_hot[torch.arange(out.shape[0], device=out.device), tb] = 1.0
                return one_hot * out.detach() if seed == "logit" else one_hot

            out, r = attributor(xb, seed_fn)
            rel.append(r.detach())
            logits.append(out.detach()[torch.arange(out.shape[0], device=out.device), tb])
    return torch.cat(rel), torch.cat(logits)


def explain_lrp(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, method: str = "lrp.epsilon_plus_flat",
                **options) -> torch.Tensor:
    """explain() backend: LRP maps (N, H, W), the input relevance summed over channels."""
    rel, _ = lrp_relevance(model, x, target, method, **options)
    return rel.sum(1)


__all__ = ["COMPOSITES", "make_composite", "lrp_relevance", "explain_lrp"]
