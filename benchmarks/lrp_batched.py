"""LRP cost per image: one batched pass vs an image-by-image loop vs a plain gradient pass on the same batch.

Bar (issue 3): batched LRP at least 3x faster per image than the loop. Run:
    .venv/bin/python benchmarks/lrp_batched.py [--n 64] [--method lrp.epsilon_plus_flat] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from facexplain.explain import explain
from facexplain.models.au_detector import make_detector


def timed(fn, repeats: int) -> float:
    """Median wall time of fn() over `repeats` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gradient_pass(model, x, target):
    """Plain input gradient of each image's target logit: one forward + backward for the batch."""
    x = x.clone().requires_grad_(True)
    out = model(x)
    grad, = torch.autograd.grad(out[torch.arange(len(x)), target].sum(), x)
    return grad


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64, help="images in the batch")
    p.add_argument("--size", type=int, default=112, help="image side in pixels")
    p.add_argument("--widths", default="8,16,32,64", help="ResNet stage widths (the chapter's cpu preset)")
    p.add_argument("--method", default="lrp.epsilon_plus_flat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(min(args.threads, 2))
    torch.manual_seed(0)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = make_detector(widths=widths).eval()
    x = torch.rand(args.n, 1, args.size, args.size)
    target = torch.arange(args.n) % len(model.aus)

    t_grad = timed(lambda: gradient_pass(model, x, target), args.repeats)
    t_batch = timed(lambda: explain(model, x, target, method=args.method), args.repeats)
    t_loop = timed(lambda: [explain(model, x[i:i + 1], target[i:i + 1], method=args.method)
                            for i in range(args.n)], max(1, args.repeats // 2))
    per = lambda t: 1000 * t / args.n  # noqa: E731
    print(f"{args.method} on small_resnet18 widths={widths}, {args.n} images at {args.size} px, "
          f"{torch.get_num_threads()} threads")
    print(f"  plain gradient pass (batch) : {per(t_grad):7.2f} ms/image")
    print(f"  LRP batched (one pass)      : {per(t_batch):7.2f} ms/image")
    print(f"  LRP image-by-image loop     : {per(t_loop):7.2f} ms/image")
    print(f"  ratio batched LRP / gradient: {t_batch / t_grad:5.2f}x")
    ratio = t_loop / t_batch
    print(f"  ratio loop / batched LRP    : {ratio:5.2f}x  (bar: >= 3x) -> {'PASS' if ratio >= 3 else 'FAIL'}")


if __name__ == "__main__":
    main()
