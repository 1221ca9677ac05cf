"""Benchmark: global Integrated Gradients (facexplain.explain.global_ig) on a 468-landmark T-EMO net.

Prints
  (a) global IG time vs captum called once per (clip, baseline) pair (the loop);
  (b) global IG time vs its floor: the same number of forward + input-gradient passes of the net, at the best
      batch size; bar: global IG within 1.25x of the floor and never slower than the loop;
  (c) IG's completeness error (sum of attributions vs F(x) - F(baseline)) against the integration rule and step
      count, the cheapest setting that keeps it under 1%, and what that setting saves against captum's default
      (gausslegendre, 50 steps).

Run: .venv/bin/python benchmarks/global_ig.py [--clips 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from facexplain.data.sequences import load_sequences, split_by_subject
from facexplain.explain.global_ig import (ProbabilityOf, cheapest_setting, completeness_table, emotion_baselines,
                                          global_ig, loop_ig)
from facexplain.studies.landmark_ig import TrainSettings, data_key, train_net


def best_time(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def floor_time(model, shape, n_points: int, batch_sizes) -> tuple[float, int]:
    """Time of n_points forward + input-gradient passes (probability of class 1) at the best batch size."""
    f = ProbabilityOf(model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    results = {}
    for bs in batch_sizes:
        x = torch.randn(bs, *shape)

        def run():
            done = 0
            while done < n_points:
                m = min(bs, n_points - done)
                xb = x[:m].clone().requires_grad_(True)
                torch.autograd.grad(f(xb)[:, 1].sum(), xb)
                done += m
        results[bs] = best_time(run, 2)
    for p in model.parameters():
        p.requires_grad_(True)
    bs = min(results, key=results.get)
    return results[bs], bs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=30, help="training clips explained (N)")
    ap.add_argument("--steps", type=int, default=32, help="integration steps for the timing comparison")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (at most 2 here)")
    ap.add_argument("--emotion", default="surprise")
    args = ap.parse_args()
    torch.set_num_threads(min(2, args.threads))

    seqs = load_sequences(n_sequences=240, n_frames=8, seed=0, normalisation="neutral")
    train, _ = split_by_subject(seqs, 0.25, seed=0)
    settings = TrainSettings(epochs=12, lr=3e-3, batch_size=32, filters=4, lstm_units=16, fc1=16,
                             extra=data_key(seqs, train))
    model = train_net(seqs, train, args.emotion, "t-emo", np.arange(468), 0, settings).eval()
    x_tr, lab = seqs.x[train], seqs.emotion[train].astype(str)
    base, _ = emotion_baselines(x_tr, lab, args.emotion, seqs.emotions)
    inputs = x_tr[: args.clips]
    n, b, m = len(inputs), len(base), args.steps
    points = n * b * m
    print(f"net: T-EMO ({args.emotion}), 468 landmarks x 8 frames, F=4 Q=16 R=16; {n} clips x {b} baselines x "
          f"{m} steps = {points} interpolated points; torch threads = {torch.get_num_threads()}")

    # (a) and (b) at the same setting
    per_bs = {bs: best_time(lambda bs=bs: global_ig(model, inputs, base, n_steps=m, batch_size=bs), 2)
              for bs in (32, 64, 128, 256, 512)}
    g_bs = min(per_bs, key=per_bs.get)
    t_global = per_bs[g_bs]
    t_loop = best_time(lambda: loop_ig(model, inputs, base, n_steps=m), 1)
    t_floor, f_bs = floor_time(model, inputs.shape[1:], points, (16, 32, 64, 128, 256, 512))
    r_ref = global_ig(model, inputs, base, n_steps=m, batch_size=g_bs).importance
    r_loop = loop_ig(model, inputs[:5], base, n_steps=m)
    r_sub = global_ig(model, inputs[:5], base, n_steps=m, batch_size=g_bs).importance
    print(f"global IG       {t_global:8.2f} s  (batch {g_bs} points; per batch size: "
          + ", ".join(f"{k}: {v:.2f}" for k, v in per_bs.items()) + ")")
    print(f"captum loop     {t_loop:8.2f} s  -> loop / global = {t_loop / t_global:.2f}x "
          f"(bar: >= 1.00x) {'OK' if t_loop >= t_global else 'FAIL'}")
    print(f"floor           {t_floor:8.2f} s  (fwd + input-grad passes, best batch {f_bs}) -> global / floor = "
          f"{t_global / t_floor:.2f}x (bar: <= 1.25x) {'OK' if t_global <= 1.25 * t_floor else 'FAIL'}")
    print(f"global vs loop importance: max rel. diff {np.max(np.abs(r_sub - r_loop) / (np.abs(r_loop) + 1e-12)):.2e} "
          f"(5 clips); importance sums to {r_ref.sum():.4f}")

    # (c) completeness against rule and steps, on a subset of clips
    sub = inputs[: min(n, 20)]
    table = completeness_table(model, sub, base, steps=(4, 8, 16, 24, 32, 48, 64, 96),
                               methods=("gausslegendre", "riemann_middle", "riemann_trapezoid", "riemann_left"),
                               batch_size=g_bs)
    print("\ncompleteness error (sum|sum IG - dF| / sum|dF|), rows = steps:")
    print(table.pivot(index="n_steps", columns="method", values="completeness_error").round(4).to_string())
    best = cheapest_setting(table, 0.01)
    t_best = best_time(lambda: global_ig(model, inputs, base, n_steps=best["n_steps"], method=best["method"],
                                         batch_size=g_bs), 2)
    t_default_loop = t_loop * 50 / m   # the loop's cost is linear in the steps: captum's default is 50
    t_default = best_time(lambda: global_ig(model, inputs, base, n_steps=50, batch_size=g_bs), 1)
    print(f"\ncheapest setting under 1%: {best['method']}, {best['n_steps']} steps "
          f"(error {best['completeness_error']:.4f}) -> global IG {t_best:.2f} s; "
          f"captum default (gausslegendre, 50 steps): global {t_default:.2f} s, loop ~{t_default_loop:.2f} s; "
          f"saving vs the default loop {t_default_loop / t_best:.1f}x")


if __name__ == "__main__":
    main()
