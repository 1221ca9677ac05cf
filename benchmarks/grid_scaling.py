"""Benchmark: one real grid of the book (chapter 03's top-k retraining, Di Luzio et al.) serially and on Dask workers.

    PYTHONPATH=src .venv/bin/python benchmarks/grid_scaling.py [--workers 2] [--n-sequences 240] [--epochs 12]
                                                               [--n-seeds 2] [--ks 468,64,16]

1. Builds chapter 03's data, split and landmark rankings (global IG of the nets on all landmarks) at small settings.
2. Runs the (net x emotion x k x seed) retraining grid through facexplain.grid serially in this process, then on a
   LocalCluster of `--workers` processes (one thread each); each run starts from an empty model cache, so both train
   every net.
3. Prints "identical" when both tables are equal to the last bit (else the differences, and exits 1), then
   "speed-up X.XX" (serial wall time / distributed wall time, the cluster's start-up included, and without it).
4. Projects the wall time to 8, 32 and 128 workers from the measured task durations: a longest-first schedule of
   the serial run's training durations (the makespan), plus the dispatch overhead per task and the cluster start
   measured on the local cluster.

Also prints the machine's load average before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def makespan(durations, workers: int) -> float:
    """Longest-processing-time-first schedule of independent tasks on `workers` identical workers: its length."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for d in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads)


def setup(n_sequences: int, n_frames: int, epochs: int, seed: int = 0):
    """Chapter 03's inputs at small settings: sequences, split, training settings, rankings of both nets."""
    from facexplain import config
    from facexplain.studies import landmark_ig as lig
    from facexplain.data.sequences import load_sequences, split_by_subject

    config.seed_everything(seed)
    seqs = load_sequences("synthetic", n_sequences=n_sequences, n_frames=n_frames, seed=seed, normalisation="neutral")
    train_idx, test_idx = split_by_subject(seqs, test_fraction=0.25, seed=seed)
    settings = lig.TrainSettings(epochs=epochs, lr=3e-3, batch_size=32, filters=4, lstm_units=16, fc1=16,
                                 extra=lig.data_key(seqs, train_idx))
    everything = np.arange(seqs.n_landmarks)
    nets = {net: {e: lig.train_net(seqs, train_idx, e, net, everything, seed, settings) for e in seqs.emotions}
            for net in lig.NETS}
    rankings = {}
    for net, models in nets.items():
        table, _ = lig.global_rankings(models, seqs, train_idx, n_steps=16, max_samples=20, seed=seed)
        rankings[net] = {e: lig.ranking_of(table, e) for e in seqs.emotions}
    return seqs, train_idx, test_idx, settings, rankings


def grid_run(scheduler: str, cache: Path, inputs, ks, seeds, timings):
    """Chapter 03's own top-k grid (studies.landmark_ig.topk_runs) on `scheduler`, from an empty model cache."""
    from facexplain.studies import landmark_ig as lig

    os.environ["FACEXPLAIN_CACHE"] = str(cache)       # an empty model cache: every net is trained
    seqs, train_idx, test_idx, settings, rankings = inputs
    start = time.perf_counter()
    runs = lig.topk_runs(seqs, rankings, ks, seeds, settings, scheduler=scheduler, timings=timings)
    return runs, time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--n-sequences", type=int, default=240)
    p.add_argument("--n-frames", type=int, default=8)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--n-seeds", type=int, default=2)
    p.add_argument("--ks", default="468,64,16")
    args = p.parse_args(argv)
    ks = tuple(int(k) for k in args.ks.split(","))
    seeds = list(range(args.n_seeds))

    from distributed import LocalCluster, Client
    import logging

    from facexplain import grid

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()                       # set-up from the usual cache (data/cache): reused between runs
        inputs = setup(args.n_sequences, args.n_frames, args.epochs)
        n_tasks = 2 * len(inputs[0].emotions) * len(ks) * len(seeds)
        print(f"set-up (data, 12 nets on all landmarks, global IG): {time.perf_counter() - t0:.1f} s; "
              f"grid: 2 nets x {len(inputs[0].emotions)} emotions x {len(ks)} ks x {len(seeds)} seeds = {n_tasks} trainings")

        serial_t = grid.Timings()
        serial, t_serial = grid_run("serial", tmp / "serial", inputs, ks, seeds, serial_t)
        print(f"serial (this process, 1 torch thread per task): {t_serial:.1f} s")

        t0 = time.perf_counter()
        os.environ["FACEXPLAIN_CACHE"] = str(tmp / "dask")
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=0, silence_logs=logging.ERROR)
        client = Client(cluster)
        client.run(lambda: __import__("facexplain.studies.landmark_ig"))      # import torch & co. on every worker
        t_start = time.perf_counter() - t0
        dask_t = grid.Timings()
        try:
            distributed, t_dist = grid_run(cluster.scheduler_address, tmp / "dask", inputs, ks, seeds, dask_t)
        finally:
            grid.close()
            client.close()
            cluster.close()
        print(f"{args.workers} local workers: {t_dist:.1f} s (+ {t_start:.1f} s cluster start and imports)")

    same = serial.equals(distributed)
    if not same:
        diff = serial.compare(distributed) if serial.shape == distributed.shape else "shapes differ"
        print(f"NOT identical:\n{diff}")
        return 1
    print("identical")
    print(f"speed-up {t_serial / (t_dist + t_start):.2f} ({args.workers} workers, cluster start included; "
          f"{t_serial / t_dist:.2f} without it)")

    # projection: the trainings' durations measured in the serial run, scheduled longest-first on w workers, plus the
    # per-task dispatch overhead measured on the cluster (its wall time beyond its own makespan, per task)
    overhead = max(t_dist - makespan(dask_t, args.workers), 0.0) / len(dask_t)
    rows = []
    for w in (1, args.workers, 8, 32, 128):
        span = makespan(serial_t, w)
        wall = span + overhead * len(serial_t) / w + t_start
        rows.append(dict(workers=w, makespan_s=round(span, 1), projected_wall_s=round(wall, 1),
                         projected_speed_up=round(t_serial / wall, 2)))
    print(f"trainings, serial: mean {np.mean(serial_t):.2f} s, max {max(serial_t):.2f} s, sum {sum(serial_t):.1f} s; "
          f"on the workers: mean {np.mean(dask_t):.2f} s; dispatch overhead {overhead:.2f} s per task; "
          f"cluster start {t_start:.1f} s")
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
