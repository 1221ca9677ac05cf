"""Benchmark: a chapter kernel's torch work beside two busy Dask-like workers, with OpenMP's default (spinning)
wait policy and with OMP_WAIT_POLICY=PASSIVE, which the runner sets for kernels beside a cluster (facexplain.book).

    PYTHONPATH=src .venv/bin/python benchmarks/kernel_wait_policy.py [--seconds 30]

Starts three processes for `--seconds` each time: two "workers" (one torch thread, training chapter 04's classifier
on 32 faces per step, as grid tasks do) and one "kernel" (the default thread count, a forward and backward pass on
64 faces, as an explanation does). Runs this with the kernel's default policy, with PASSIVE, and with one kernel
thread, then the kernel alone; prints each process's steps per second and the ratio "kernel beside workers,
PASSIVE / default", plus the machine's load average before (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def work(role: str, seconds: float) -> None:
    import torch

    if role == "worker":
        torch.set_num_threads(1)
    from facexplain.models.fer import fer_model

    torch.manual_seed(0)
    model = fer_model(7)
    x = torch.rand(32 if role == "worker" else 64, 1, 112, 112)
    opt = torch.optim.SGD(model.parameters(), 0.01)
    if role == "kernel":
        model.eval()
    steps, start = 0, time.time()
    while time.time() - start < seconds:
        if role == "worker":
            loss = model(x).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            xx = x.clone().requires_grad_(True)
            model(xx)[:, 0].sum().backward()
        steps += 1
    print(f"{steps / (time.time() - start):.3f}", flush=True)


def launch(role: str, seconds: float, env: dict) -> subprocess.Popen:
    full = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.Popen([sys.executable, __file__, "--role", role, "--seconds", str(seconds)], env=full,
                            stdout=subprocess.PIPE, text=True)


def together(seconds: float, kernel_env: dict) -> tuple[float, list[float]]:
    procs = [launch("worker", seconds, {}), launch("worker", seconds, {}), launch("kernel", seconds, kernel_env)]
    rates = [float(p.communicate()[0].strip()) for p in procs]
    return rates[2], rates[:2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--role", choices=("worker", "kernel"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role:
        work(args.role, args.seconds)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    os.environ.clear()
    os.environ.update(base)
    results = {}
    for name, env in (("default", {}), ("PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"}),
                      ("one thread", {"OMP_NUM_THREADS": "1"})):
        kernel, workers = together(args.seconds, env)
        results[name] = kernel
        print(f"kernel {name:>10}: {kernel:6.2f} steps/s; workers beside it: "
              + ", ".join(f"{w:.2f}" for w in workers))
    for name, env in (("default", {}), ("PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"})):
        q = launch("kernel", args.seconds / 2, env)
        print(f"kernel {name:>10} alone: {float(q.communicate()[0].strip()):6.2f} steps/s")
    print(f"kernel beside workers, PASSIVE / default: {results['PASSIVE'] / results['default']:.2f}x")


if __name__ == "__main__":
    main()
