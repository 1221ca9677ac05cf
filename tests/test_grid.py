"""facexplain.grid: a chapter's independent trainings serially or as Dask tasks, with the same results either way,
one training per key, the caller's random state untouched, and clear errors for a bad scheduler."""

from __future__ import annotations

import os
import time
import random
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import torch

from facexplain import grid

cloudpickle.register_pickle_by_value(sys.modules[__name__])    # the workers get this module's task functions


def square(task, offset=0, log=None):
    """A task that records each call (one line per call, from any process) in the file `log`."""
    if log is not None:
        with open(log, "a") as f:
            f.write(f"{task['x']}\n")
    return task["x"] ** 2 + offset


def noisy(task):
    """Consumes the global random streams (as an unseeded training step would)."""
    return float(np.random.rand() + random.random() + torch.rand(1).item()) + task


def fails(task):
    if task == 2:
        raise ValueError("task 2 broke")
    return task


def tiny_training(job, x, y):
    """A real (small) training: a seeded linear softmax classifier by SGD; returns its weights' checksum and its
    training accuracy."""
    from facexplain.train import fit, predict

    seed, hidden = job
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(hidden, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    fit(model, x, y, lambda m, xb, yb: torch.nn.functional.cross_entropy(m(xb), yb), opt, epochs=25,
        batch_size=16, seed=seed)
    acc = float((predict(model, x).argmax(1) == y).float().mean())
    return dict(seed=seed, hidden=hidden, acc=acc, weights=float(sum(p.detach().double().sum() for p in model.parameters())))


def test_resolve_reads_the_parameter_then_the_environment(monkeypatch):
    monkeypatch.delenv(grid.ENV, raising=False)
    assert grid.resolve(None) == grid.DEFAULT_SCHEDULER
    assert grid.resolve("local") == "local" and grid.resolve("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    monkeypatch.setenv(grid.ENV, "tcp://scheduler:8786")
    assert grid.resolve(None) == "tcp://scheduler:8786" and grid.resolve("serial") == "serial"
    for bad in ("many", 4, "tcp://"):
        with pytest.raises(ValueError, match="scheduler"):
            grid.resolve(bad)


def test_serial_grid_keeps_order_runs_each_key_once_and_shows_progress(tmp_path, capsys):
    log = tmp_path / "calls.txt"
    tasks = [dict(x=3), dict(x=1), dict(x=3), dict(x=2)]
    out = grid.run(square, tasks, shared=dict(offset=10, log=log), scheduler="serial", progress=True, desc="squares")
    assert out == [19, 11, 19, 14]
    assert sorted(log.read_text().split()) == ["1", "2", "3"]
    assert "squares" in capsys.readouterr().err
    assert grid.run(square, [dict(x=2), dict(x=5)], key=lambda t: "same", scheduler="serial") == [4, 4]


def test_serial_grid_leaves_the_callers_random_state_and_threads(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    threads = torch.get_num_threads()
    grid.run(noisy, [1, 2, 3], scheduler="serial")
    after = (np.random.rand(), random.random(), torch.rand(1).item())
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    assert after == (np.random.rand(), random.random(), torch.rand(1).item())
    assert torch.get_num_threads() == threads


def test_a_failing_task_raises_its_error():
    with pytest.raises(ValueError, match="task 2 broke"):
        grid.run(fails, [1, 2, 3], scheduler="serial")


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ValueError, match="no Dask scheduler answers"):
        grid.client("tcp://127.0.0.1:9")


def test_two_process_cluster_gives_the_serial_results_and_trains_each_key_once(local_cluster, tmp_path):
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(96, 10)), dtype=torch.float32)
    y = torch.as_tensor((x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())
    jobs = [(seed, hidden) for seed in (0, 1, 2) for hidden in (4, 8)]
    serial = pd.DataFrame(grid.run(tiny_training, jobs, shared=dict(x=x, y=y), scheduler="serial"))
    timings = grid.Timings()
    state = torch.get_rng_state()
    distributed = pd.DataFrame(grid.run(tiny_training, jobs + jobs[:2], shared=dict(x=x, y=y), scheduler="local",
                                        n_workers=2, progress=True, timings=timings))
    assert torch.equal(state, torch.get_rng_state())
    pd.testing.assert_frame_equal(serial, distributed.iloc[: len(jobs)], check_exact=True)
    assert distributed.iloc[len(jobs):].reset_index(drop=True).equals(serial.iloc[:2])
    assert len(timings) == len(jobs) and all(t > 0 for t in timings)
    assert serial.acc.min() > 0.6                  # they did learn (the majority class is 0.5)

    log = tmp_path / "calls.txt"
    tasks = [dict(x=i % 4) for i in range(12)]
    assert grid.run(square, tasks, shared=dict(log=log), scheduler="local", n_workers=2) == [(i % 4) ** 2 for i in range(12)]
    assert sorted(log.read_text().split()) == ["0", "1", "2", "3"]    # each key once, across both workers
    workers = local_cluster.run(os.getpid)
    assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()


FAULTS = """
import resource, numpy as np
from facexplain import grid
undone = grid.undo_malloc_trim()
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(2**18); del a
start = faults()
for _ in range(200):
    a = np.ones(2**18); del a          # 2 MiB allocated and freed, as torch does with activations
print(undone, faults() - start)
"""


@pytest.mark.parametrize("env, undone", [({}, False), ({"MALLOC_TRIM_THRESHOLD_": "65536"}, True)])
def test_workers_reuse_freed_memory_despite_dasks_malloc_trim_setting(env, undone):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which makes glibc page-fault every large buffer in again (about
    100000 page faults for 200 buffers of 2 MiB, a 1.45x slower training); grid tasks undo it on their worker."""
    import subprocess
    plain = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", FAULTS], env={**plain, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == str(undone)
    assert int(out[1]) < 5000, f"{out[1]} page faults for 200 reused 2 MiB buffers"


def test_grid_tasks_undo_the_malloc_setting_on_the_cluster_workers(local_cluster):
    grid.run(square, [dict(x=1), dict(x=2), dict(x=3)], scheduler="local", n_workers=2)
    states = local_cluster.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), grid._MALLOC_UNDONE))
    assert all(env == "65536" for env, _ in states.values()), states    # the nanny does set it
    assert any(done for _, done in states.values()), states
    import dask
    profiling = local_cluster.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert not any(profiling.values()), f"the workers' profiler is on: {profiling}"


def test_global_ig_rankings_on_the_cluster_equal_the_serial_ones(local_cluster):
    """Chapter 03's global IG runs one emotion per grid task: same importances to the bit on 2 workers."""
    from types import SimpleNamespace

    from facexplain.models.emo_lstm import t_emo
    from facexplain.studies import landmark_ig as lig

    emotions = ["anger", "joy", "fear"]
    g = torch.Generator().manual_seed(3)
    seqs = SimpleNamespace(x=torch.randn(24, 4, 2, 12, generator=g).numpy(),
                           emotion=np.array(emotions * 8), emotions=emotions)
    torch.manual_seed(0)
    models = {e: t_emo(12, filters=3, lstm_units=5, fc1=6).eval() for e in emotions}
    train_idx = np.arange(24)
    serial, res_s = lig.global_rankings(models, seqs, train_idx, n_steps=8, max_samples=10, scheduler="serial")
    dist, res_d = lig.global_rankings(models, seqs, train_idx, n_steps=8, max_samples=10, scheduler="local")
    pd.testing.assert_frame_equal(serial, dist, check_exact=True)
    assert all(np.array_equal(res_s[e].importance, res_d[e].importance) for e in emotions)
    assert serial.groupby("emotion").importance.std().gt(0).all()       # a ranking, not a constant


def test_models_trained_on_the_cluster_come_back_whole_and_explainable(local_cluster, tmp_path, monkeypatch):
    """Chapter 01's folds return trained detectors; one that came back from a worker must equal the serial one and
    still take zennit's LRP hooks (Dask's own transport of a module broke them: "cannot create weak reference to
    'dict' object")."""
    from facexplain.data import load_dataset
    from facexplain.explain import explain
    from facexplain.models.au_detector import DetectorConfig, cross_validate, inputs_from

    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    faces = load_dataset("synthetic", n=40, seed=0, image_size=48)
    config = DetectorConfig(aus=(4, 12), widths=(4, 8, 8, 8), epochs=1, batch_size=16)

    def on_grid(scheduler):
        return lambda fn, folds, shared: grid.run(fn, folds, shared=shared, key=lambda job: f"fold {job[0]}",
                                                  scheduler=scheduler)

    serial = cross_validate(faces, config, k=2, map_folds=on_grid("serial"))
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path / "other"))      # the workers train again, not load
    dist = cross_validate(faces, config, k=2, map_folds=on_grid("local"))
    pd.testing.assert_frame_equal(serial.per_fold, dist.per_fold, check_exact=True)
    x = inputs_from(faces)[:2]
    for a, b in zip(serial.models, dist.models):
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
        maps = explain(b, x, 0, method="lrp.epsilon_plus_flat")
        assert maps.shape[0] == 2 and torch.isfinite(maps).all() and maps.abs().sum() > 0


def test_chapter_03_nets_trained_on_the_cluster_equal_the_serial_ones(local_cluster, tmp_path, monkeypatch):
    """train_all runs its trainings as one grid and loads the nets from the cache the workers wrote: the same
    weights as trained here."""
    from facexplain.data.sequences import load_sequences, split_by_subject
    from facexplain.studies import landmark_ig as lig

    seqs = load_sequences("synthetic", n_sequences=48, n_frames=4, seed=0, normalisation="neutral",
                          landmarks="exact")
    train_idx, _ = split_by_subject(seqs, test_fraction=0.25, seed=0)
    settings = lig.TrainSettings(epochs=1, lr=3e-3, batch_size=8, filters=2, lstm_units=4, fc1=4,
                                 extra=dict(lig.data_key(seqs, train_idx), test="grid"))
    workers_cache = set(local_cluster.run(lambda: os.environ["FACEXPLAIN_CACHE"]).values())
    assert len(workers_cache) == 1
    monkeypatch.setenv("FACEXPLAIN_CACHE", workers_cache.pop())          # the kernel loads what the workers wrote
    dist = lig.train_all(seqs, train_idx, 0, settings, nets=("t-emo",), scheduler="local")
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    serial = lig.train_all(seqs, train_idx, 0, settings, nets=("t-emo",), scheduler="serial")
    assert set(serial["t-emo"]) == set(seqs.emotions)
    for e in seqs.emotions:
        a, b = serial["t-emo"][e].state_dict(), dist["t-emo"][e].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_submit_without_a_cluster_runs_the_task_when_its_result_is_asked_for(tmp_path):
    log = tmp_path / "calls.txt"
    state = torch.get_rng_state()
    started = grid.submit(square, dict(x=3), shared=dict(offset=1, log=log), scheduler="serial")
    assert not log.exists()                                   # nothing ran yet: the caller's work comes first
    assert started.result() == 10 and started.result() == 10
    assert log.read_text().split() == ["3"]                   # once
    assert torch.equal(state, torch.get_rng_state())


def pid_and_square(task):
    return os.getpid(), task ** 2


def test_submit_on_the_cluster_runs_on_a_worker_and_equals_the_serial_call(local_cluster):
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.normal(size=(64, 10)), dtype=torch.float32)
    y = torch.as_tensor((x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())
    serial = grid.submit(tiny_training, (3, 6), shared=dict(x=x, y=y), scheduler="serial").result()
    started = grid.submit(tiny_training, (3, 6), shared=dict(x=x, y=y), scheduler="local", n_workers=2)
    assert started.future is not None
    assert started.result() == serial
    pid, value = grid.submit(pid_and_square, 7, scheduler="local", n_workers=2).result()
    assert value == 49 and pid in local_cluster.run(os.getpid).values() and pid != os.getpid()


def busy(seconds):
    time.sleep(seconds)
    return seconds


def test_submit_keeps_its_shared_inputs_while_the_task_waits_for_a_worker(local_cluster):
    """A task submitted while both workers are busy waits in the queue; its scattered inputs must stay on the
    cluster until it has run (the caller holds only the Pending; releasing the inputs cancelled the task with
    "lost dependencies" in `make book`, chapter 01 beside chapter 03)."""
    import gc

    offset = np.full(1000, 2.0)
    for attempt in range(5):
        assert grid.run(square_of, [dict(x=attempt)], shared=dict(offset=offset), scheduler="local",
                        n_workers=2) == [attempt ** 2 + 2]       # the same inputs were sent (and let go) just before
        blockers = [local_cluster.submit(busy, 1, pure=False) for _ in range(2)]
        started = grid.submit(square_of, dict(x=4), shared=dict(offset=offset), scheduler="local", n_workers=2)
        gc.collect()
        time.sleep(0.2)
        assert started.result() == 18
        assert [b.result() for b in blockers] == [1, 1]


def square_of(task, offset):
    return task["x"] ** 2 + int(offset[0])


def test_chapter_01_shortcut_experiment_started_on_the_cluster_equals_the_serial_one(local_cluster, tmp_path,
                                                                                    monkeypatch):
    """The notebook starts the planted-cue experiment on a worker (au_lrp.start_shortcut) right after the folds; its
    F1, its relevance masses and its model must be those of the in-process run."""
    from facexplain.models.au_detector import DetectorConfig
    from facexplain.studies import au_lrp

    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    cfg = au_lrp.settings("cpu", n_faces=40, max_per_au=3, composites=["lrp.epsilon_plus_flat"],
                          main_composite="lrp.epsilon_plus_flat")
    config = DetectorConfig(aus=(4, 12, 25), widths=(4, 8, 8, 8), epochs=1, batch_size=16)
    fit = au_lrp.Fit(cv=None, config=config, f1_cv=None, chance={}, best=0, train_idx=np.arange(28),
                     test_idx=np.arange(28, 40), model=None)
    cfg["scheduler"] = "serial"
    serial = au_lrp.start_shortcut(cfg, fit).result()
    cfg["scheduler"] = "local"
    started = au_lrp.start_shortcut(cfg, fit)
    assert started.future is not None
    dist = started.result()
    pd.testing.assert_frame_equal(serial["f1"], dist["f1"], check_exact=True)
    pd.testing.assert_frame_equal(serial["records"], dist["records"], check_exact=True)
    assert all(torch.equal(p, q) for p, q in zip(serial["model"].state_dict().values(),
                                                 dist["model"].state_dict().values()))
    assert len(serial["records"]) > 0
    cfg["dataset"] = "ckplus"
    assert au_lrp.start_shortcut(cfg, fit) is None           # the mark needs generated faces
