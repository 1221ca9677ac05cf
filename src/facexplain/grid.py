"""A chapter's independent trainings as Dask tasks (dask.distributed), or the same calls in this process.

    rows = grid.run(fn, tasks, shared=dict(seqs=seqs, settings=settings), scheduler=None, progress=True)

returns `[fn(task, **shared) for task in tasks]`, in the order of `tasks`, computed

- in this process ("serial"),
- on a `distributed.LocalCluster` started on first use and kept for the kernel's lifetime ("local": one worker
  process per core, one thread each), or
- on an existing cluster, given by its scheduler address ("tcp://host:8786"); the workers need this package
  installed and the same data cache (FACEXPLAIN_CACHE on a shared disk) to share trained models.

`grid.submit(fn, task, shared=...)` starts one such task and returns at once (`.result()` waits for it), so a
notebook can go on with its own work while a worker trains; without a cluster the call runs at `.result()`.

`scheduler=None` reads the environment variable DASK_SCHEDULER_ADDRESS (the runner's `--scheduler` sets it) and
falls back to DEFAULT_SCHEDULER.

The result does not depend on where a task runs: every call runs with the same number of torch threads
(`threads`, 1 by default, as on a one-thread worker), the caller's deterministic-algorithms setting, and with the
process's global random states (random, numpy, torch) saved before and restored after, so a serial grid leaves
the notebook's random streams as a distributed one does. Tasks must seed themselves (the book's training
functions do). Tasks with the same key (`key(task)`, by default a hash of the task) run once and share their
result; across processes a file lock per key under the cache folder keeps two workers from training the same
model at the same time (the second then finds it in the cache).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import re
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .cache import cache_dir, config_hash

#: What `scheduler=None` means when DASK_SCHEDULER_ADDRESS is not set (see book/running.md for the measurement).
DEFAULT_SCHEDULER = "serial"
ENV = "DASK_SCHEDULER_ADDRESS"
_ADDRESS = re.compile(r"^[a-z]+://\S+$|^[\w.-]+:\d+$")
_CLIENTS: dict[str, Any] = {}


def resolve(scheduler: str | None = None) -> str:
    """"serial", "local" or a scheduler address, from the `scheduler` parameter, DASK_SCHEDULER_ADDRESS, or
    DEFAULT_SCHEDULER (in that order)."""
    value = scheduler if scheduler not in (None, "", "auto") else os.environ.get(ENV) or DEFAULT_SCHEDULER
    if not isinstance(value, str):
        raise ValueError(f"scheduler={value!r}: use None, 'serial', 'local' or an address such as 'tcp://host:8786'")
    value = value.strip()
    if value in ("serial", "local") or _ADDRESS.match(value):
        return value
    raise ValueError(f"scheduler={value!r} is not 'serial', 'local' or a scheduler address such as "
                     f"'tcp://host:8786' (also read from ${ENV})")


def n_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def client(scheduler: str | None = None, n_workers: int | None = None):
    """The dask.distributed Client for `scheduler` (None for "serial"). A local cluster is started once per process
    (n_workers processes, default one per core, one thread each) and closed when the process exits."""
    mode = resolve(scheduler)
    if mode == "serial":
        return None
    name = f"local:{n_workers or n_cores()}" if mode == "local" else mode
    found = _CLIENTS.get(name)
    if found is not None and found.status == "running":
        return found
    from distributed import Client, LocalCluster

    if mode == "local":
        import dask

        # no statistical profiler in the workers: its 10 ms stack sampling competes for the GIL with small models'
        # Python-heavy steps (chapter 03's trainings took 0.69 s on a worker with it, 0.62 s without, 0.49-0.56 s
        # in-process; benchmarks/grid_scaling.py)
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=n_workers or n_cores(), threads_per_worker=1, processes=True,
                                   dashboard_address=None, memory_limit=0, silence_logs=logging.ERROR)
        made = Client(cluster)
    else:
        try:
            made = Client(mode, timeout=30)
        except OSError as err:
            raise ValueError(f"no Dask scheduler answers at {mode!r} ({err}): start one (`dask scheduler` and "
                             f"`dask worker {mode}`), or use scheduler='local' or 'serial'") from None
    _CLIENTS[name] = made
    return made


@atexit.register
def close() -> None:
    """Close the clients (and the local cluster) this process opened."""
    while _CLIENTS:
        _, c = _CLIENTS.popitem()
        cluster = getattr(c, "cluster", None)
        with contextlib.suppress(Exception):
            c.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def _lock(key: str):
    from filelock import FileLock
    folder = cache_dir() / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / f"{key}.lock"))


_MALLOC_UNDONE = False


def undo_malloc_trim() -> bool:
    """Give torch back glibc's default memory reuse in a Dask worker.

    Dask's nanny starts every worker with MALLOC_TRIM_THRESHOLD_=65536. Setting it switches off glibc's sliding
    mmap threshold, so each large tensor torch frees goes back to the system and the next one is page-faulted in
    again: one ResNet-18 training step took 1.45x as long (8.7 s against 6.05 s for 6 steps, one worker alone on
    the 2-core machine; 6.4 s with this undone). Setting the two thresholds to glibc's own ceilings (mmap 32 MiB,
    trim 64 MiB) restores the default behaviour. Runs once per process, only where the variable is set (a worker);
    returns whether it changed anything."""
    global _MALLOC_UNDONE
    if _MALLOC_UNDONE or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    _MALLOC_UNDONE = True
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc: nothing to undo
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 64 * 2**20))


def call(fn: Callable, task, shared: dict, threads: int, deterministic: bool, lock_key: str | None = None):
    """``fn(task, **shared)`` with `threads` torch threads and the deterministic setting, under the key's file lock,
    leaving the process's global random states and torch settings as they were. Returns (result, seconds)."""
    import torch

    undo_malloc_trim()
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    settings = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(bool(deterministic), warn_only=True)
    start = time.perf_counter()
    try:
        with _lock(lock_key) if lock_key else contextlib.nullcontext():
            result = fn(task, **shared)
        return result, time.perf_counter() - start
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        torch.set_num_threads(settings[0])
        torch.use_deterministic_algorithms(settings[1], warn_only=settings[2])


def pack(obj) -> bytes:
    """torch.save bytes of `obj` (e.g. a {name: model} dict) for a grid's `shared`: Dask's own transport of a torch
    module fails on some (an LSTM's weak references to its weights; the ordered dicts zennit's hooks need)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def unpack(data: bytes):
    """The object pack() saved, on the CPU unless CUDA is there (inside a grid task)."""
    import io

    import torch

    return torch.load(io.BytesIO(data), weights_only=False, map_location=None if torch.cuda.is_available() else "cpu")


def _call_packed(fn: Callable, task, shared: dict, threads: int, deterministic: bool, lock_key: str | None = None):
    """call(...) on a worker, its (result, seconds) returned as pack() bytes: a model that comes back through Dask's
    own transport has lost the ordered dicts zennit's hooks need; torch.save keeps it whole."""
    return pack(call(fn, task, shared, threads, deterministic, lock_key))


def _default_key(task) -> str:
    return config_hash(dict(task=task)) if not isinstance(task, str) else task


def _prefix(fn: Callable) -> str:
    return re.sub(r"\W+", "-", f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', 'fn')}").strip("-")


def _lock_key(prefix: str, key: str) -> str:
    return config_hash(dict(fn=prefix, key=key))


def _scatter(c, shared: dict, threads: int, deterministic: bool) -> tuple[dict, str]:
    """Send `shared` to the cluster once (a list per value: one future each); returns (futures, token naming them).

    Each call's data gets keys of its own (hash=False). Keys named by the content would be the same when the same
    inputs are sent again right after an earlier call let go of them, and the scheduler can then receive the earlier
    release after the new data: it forgets the data, and the waiting tasks are cancelled ("lost dependencies")."""
    from dask.base import tokenize

    sent = {name: c.scatter([value], hash=False)[0] for name, value in shared.items()}
    return sent, tokenize(sorted((name, f.key) for name, f in sent.items()), threads, deterministic)


def _submit(c, fn: Callable, task, sent: dict, token: str, threads: int, deterministic: bool, prefix: str,
            lock_key: str):
    """One task on the cluster; its (result, seconds) come back as pack() bytes."""
    return c.submit(_call_packed, fn, task, sent, threads, deterministic, lock_key,
                    key=f"{prefix}-{lock_key}-{token}", pure=False, retries=0)


class Pending:
    """One task started by submit(); result() waits for it and returns ``fn(task, **shared)``."""

    def __init__(self, compute: Callable[[], Any], future=None):
        self._compute, self.future, self._value, self._done = compute, future, None, False

    def result(self):
        if not self._done:
            self._value, self._done = self._compute(), True
            self._compute = self.future = None
        return self._value


def submit(fn: Callable, task, *, shared: dict | None = None, key: Callable[[Any], str] | None = None,
           scheduler: str | None = None, threads: int = 1, n_workers: int | None = None) -> Pending:
    """Start ``fn(task, **shared)`` as one Dask task and return at once, so the caller's own work overlaps it; the
    result is the same as run(fn, [task], ...)[0]. Without a cluster ("serial") the call runs in this process when
    result() is first asked for."""
    import torch

    shared = dict(shared or {})
    prefix = _prefix(fn)
    lock_key = _lock_key(prefix, str((key or _default_key)(task)))
    deterministic = torch.are_deterministic_algorithms_enabled()
    c = client(scheduler, n_workers)
    if c is None:
        return Pending(lambda: call(fn, task, shared, threads, deterministic, lock_key)[0])
    sent, token = _scatter(c, shared, threads, deterministic)
    future = _submit(c, fn, task, sent, token, threads, deterministic, prefix, lock_key)
    return Pending(lambda: unpack(future.result())[0], future)


class Timings(list):
    """Seconds each unique task took where it ran (for benchmarks/grid_scaling.py's makespan projection)."""


def run(fn: Callable, tasks: Sequence | Iterable, *, shared: dict | None = None, key: Callable[[Any], str] | None = None,
        scheduler: str | None = None, progress: bool = False, desc: str = "grid", threads: int = 1,
        n_workers: int | None = None, timings: Timings | None = None) -> list:
    """``[fn(task, **shared) for task in tasks]`` computed serially or as Dask tasks (see the module docstring).

    `fn` must be importable by the workers (a module-level function of this package); `shared` holds the large
    inputs every task needs (sent to the workers once); `key(task)` names a task for de-duplication and the file
    lock (default: a hash of the task). `progress` shows a tqdm bar over finished tasks. `timings`, if given,
    receives each unique task's duration."""
    import torch

    tasks = list(tasks)
    shared = dict(shared or {})
    keyf = key or _default_key
    keys = [str(keyf(t)) for t in tasks]
    unique = list(dict.fromkeys(keys))
    first = {k: tasks[keys.index(k)] for k in unique}
    deterministic = torch.are_deterministic_algorithms_enabled()
    prefix = _prefix(fn)
    lock_keys = {k: _lock_key(prefix, k) for k in unique}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(unique), desc=desc, leave=False)
    results: dict[str, Any] = {}
    c = client(scheduler, n_workers)
    try:
        if c is None:
            for k in unique:
                results[k] = call(fn, first[k], shared, threads, deterministic, lock_keys[k])
                if bar is not None:
                    bar.update(1)
        else:
            from distributed import as_completed

            sent, token = _scatter(c, shared, threads, deterministic)
            futures = {_submit(c, fn, first[k], sent, token, threads, deterministic, prefix, lock_keys[k]): k
                       for k in unique}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = unpack(future.result())
                    if bar is not None:
                        bar.update(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        if bar is not None:
            bar.close()
    if timings is not None:
        timings.extend(results[k][1] for k in unique)
    return [results[k][0] for k in keys]


__all__ = ["DEFAULT_SCHEDULER", "Pending", "Timings", "call", "client", "close", "n_cores", "pack", "resolve", "run",
           "submit", "undo_malloc_trim", "unpack"]
