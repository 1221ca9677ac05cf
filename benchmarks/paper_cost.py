"""Benchmark: what the paper preset's trainings cost, from measured per-step costs at the paper's shapes.

    PYTHONPATH=src .venv/bin/python benchmarks/paper_cost.py [--steps 3] [--gpu-tflops 10] [--gpu-step-ms 1.5]

For each chapter's training family (the models and shapes its paper preset trains), this builds the model at the
paper's shapes, then measures
- the floating-point operations of one training step (forward + backward, torch.utils.flop_counter), and
- the seconds of one training step on this CPU (one torch thread, median of --steps after a warm-up step),
and multiplies by the number of training steps the paper preset takes (trainings x epochs x batches per epoch,
from the chapter's PRESETS). One GPU is estimated as steps x (FLOPs per step / sustained rate + a fixed per-step
overhead for kernel launches and the optimiser); both numbers are assumptions (--gpu-tflops, --gpu-step-ms), not
measurements: no GPU was available. A cluster of W GPUs divides the trainings among them (makespan of equal tasks).
Explanations, data generation and MediaPipe are not counted here.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode


def step_cost(model: torch.nn.Module, x: torch.Tensor, loss_fn, steps: int) -> tuple[float, float]:
    """(FLOPs, CPU seconds) of one training step (forward, backward, Adam update) on batch x."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def one():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x)).backward()
        opt.step()

    model.train()
    with FlopCounterMode(display=False) as counter:
        one()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        one()
        times.append(time.perf_counter() - start)
    return float(counter.get_total_flops()), statistics.median(times)


def families():
    """(chapter, what, model, batch, trainings, samples per epoch, epochs) from the studies' paper presets."""
    from facexplain.faces.aus import PAIN_AUS
    from facexplain.models.emo_lstm import make_emo, paper_hyperparameters
    from facexplain.models.resnet import small_resnet18
    from facexplain.studies import au_guided_fer, au_lrp, landmark_ig, shortcuts

    p01, p03, p04, p11 = (m.settings("paper") for m in (au_lrp, landmark_ig, au_guided_fer, shortcuts))
    from facexplain.faces.generator import GeneratorConfig
    n_subjects = GeneratorConfig().n_subjects                  # the generator's identities: LOSO folds
    yield ("01", "AU detector, LOSO folds", small_resnet18(len(PAIN_AUS), widths=p01.widths), (32, 1, 112, 112),
           n_subjects + 1, int(p01.n_faces * (n_subjects - 1) / n_subjects), p01.epochs)
    train03 = int(p03.n_sequences * (1 - p03.test_fraction)) * (2 if p03.augmentation == "mirror" else 1)
    n03 = 2 * 6 * len(p03.ks) * p03.n_seeds + 12
    for k in (468, 64, 16):                                    # the paper's architecture differs by k
        arch = paper_hyperparameters("happiness", k)
        yield ("03", f"T-EMO/R-EMO, k={k} (1/3 of the grid)", make_emo("t-emo", k, **arch),
               (p03.batch_size, p03.n_frames, 2, k), n03 / 3, train03, p03.epochs)
    unique04 = len(set(p04.lambdas) | {0.0, p04.lam}) + 2 * p04.n_seeds - 2
    yield ("04", "FER ResNet, lambda x seeds", small_resnet18(7, widths=(16, 32, 64, 128)),
           (32, 1, p04.image_size, p04.image_size), unique04, int(p04.n_faces * (1 - p04.test_fraction)), p04.epochs)
    sw = p11.sweep
    n11 = int(sw.n_faces * (1 - sw.test_fraction))
    yield ("11", "AU detector per strength", small_resnet18(len(PAIN_AUS), widths=sw.detector_widths),
           (32, 1, sw.image_size, sw.image_size), len(p11.strengths), n11, sw.detector_epochs)
    yield ("11", "FER ResNet per strength", small_resnet18(7, widths=sw.fer_widths),
           (32, 1, sw.image_size, sw.image_size), len(p11.strengths), n11, sw.fer_epochs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--gpu-tflops", type=float, default=10.0, help="assumed sustained fp32 rate of one GPU")
    p.add_argument("--gpu-step-ms", type=float, default=1.5, help="assumed fixed cost per training step on a GPU")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    rows = []
    for chapter, what, model, shape, trainings, samples, epochs in families():
        x = torch.randn(*shape)
        flops, cpu_s = step_cost(model, x, lambda out: out.float().pow(2).mean(), args.steps)
        steps = trainings * epochs * math.ceil(samples / shape[0])
        gpu_step = flops / (args.gpu_tflops * 1e12) + args.gpu_step_ms / 1e3
        rows.append(dict(chapter=chapter, training=what, trainings=round(trainings, 1), epochs=epochs,
                         steps=int(steps), mflop_per_step=float(f"{flops / 1e6:.3g}"), cpu_s_per_step=float(f"{cpu_s:.3g}"),
                         cpu_hours=round(steps * cpu_s / 3600, 1), gpu_min=round(steps * gpu_step / 60, 1)))
    table = pd.DataFrame(rows)
    per = table.groupby("chapter").agg(trainings=("trainings", "sum"), cpu_hours=("cpu_hours", "sum"),
                                       gpu_min=("gpu_min", "sum")).reset_index()
    for w in (8, 32):   # equal trainings spread over w GPUs: ceil(trainings / w) rounds of one training each
        per[f"gpu_min_on_{w}"] = [round(g / t * math.ceil(t / w), 1) for g, t in zip(per.gpu_min, per.trainings)]
    print(table.to_string(index=False))
    print()
    print(per.to_string(index=False))
    print(f"GPU: {args.gpu_tflops} TFLOP/s sustained + {args.gpu_step_ms} ms per step (assumed); CPU: 1 thread, measured")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
