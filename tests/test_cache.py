"""facexplain.cache: atomic writes never leave a half-written file, and cache keys are stable."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from facexplain import cache


class _FailingFrame:
    """Quacks like a DataFrame whose to_csv writes half the file, then dies."""

    def __init__(self, exc):
        self.exc = exc

    def to_csv(self, path, **kwargs):
        with open(path, "w") as f:
            f.write("a,b\n1,")
        raise self.exc


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_write_leaves_nothing(tmp_path, exc):
    target = tmp_path / "t.csv"
    with pytest.raises(type(exc)):
        cache.atomic_to_csv(_FailingFrame(exc), target)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "t.csv"
    cache.atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        cache.atomic_to_csv(_FailingFrame(RuntimeError("boom")), target)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_failed_torch_save_leaves_nothing(tmp_path):
    with pytest.raises(Exception):
        cache.atomic_torch_save({"f": lambda x: x}, tmp_path / "m.pt")     # lambdas cannot be pickled
    assert list(tmp_path.iterdir()) == []


def test_writes_round_trip(tmp_path):
    import pandas as pd

    cache.atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    cache.atomic_write_text(tmp_path / "sub" / "t.txt", "é")
    cache.atomic_save_npz(tmp_path / "a.npz", x=np.arange(3))
    cache.atomic_to_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "d.csv")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "t.txt").read_text(encoding="utf-8") == "é"
    assert np.load(tmp_path / "a.npz")["x"].tolist() == [0, 1, 2]
    assert (tmp_path / "d.csv").read_text() == "a\n1\n2\n"


def test_config_hash_ignores_key_order_and_is_sha256_of_sorted_json():
    a = {"n": 200, "seed": 0, "opts": {"size": 112, "shortcut": 0.5}}
    b = {"opts": {"shortcut": 0.5, "size": 112}, "seed": 0, "n": 200}
    assert cache.config_hash(a) == cache.config_hash(b)
    expected = hashlib.sha256(b'{"n": 200, "opts": {"shortcut": 0.5, "size": 112}, "seed": 0}').hexdigest()[:16]
    assert cache.config_hash(a) == expected
    assert cache.config_hash({**a, "seed": 1}) != cache.config_hash(a)


def test_config_hash_is_the_same_in_another_process():
    code = "from facexplain.cache import config_hash; print(config_hash({'b': [1, 2], 'a': 'x', 'c': None}))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONHASHSEED=seed)).stdout.strip() for seed in ("1", "2")}
    assert outs == {cache.config_hash({"a": "x", "b": [1, 2], "c": None})}


def test_config_hash_numpy_scalars_match_python_numbers():
    assert cache.config_hash({"n": np.int64(3)}) == cache.config_hash({"n": 3})


def test_cached_arrays_builds_once(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return {"x": np.arange(4)}

    first = cache.cached_arrays("kind", {"n": 4}, build)
    second = cache.cached_arrays("kind", {"n": 4}, build)
    assert len(calls) == 1 and second["x"].tolist() == first["x"].tolist() == [0, 1, 2, 3]
    assert [p.name for p in (tmp_path / "kind").iterdir()] == [cache.config_hash({"n": 4}) + ".npz"]


def test_cached_arrays_failed_build_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))

    def build():
        raise RuntimeError("no data")

    with pytest.raises(RuntimeError):
        cache.cached_arrays("kind", {"n": 1}, build)
    assert not (tmp_path / "kind").exists() or list((tmp_path / "kind").iterdir()) == []


def test_cached_state_dict_round_trip(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    state = {"w": torch.arange(3.0)}
    cache.cached_state_dict("model", {"lr": 0.1}, lambda: state)
    loaded = cache.cached_state_dict("model", {"lr": 0.1}, lambda: pytest.fail("rebuilt"))
    assert torch.equal(loaded["w"], state["w"])
