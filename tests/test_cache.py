"""facexplain.cache: atomic writes never leave a half-written file; cache keys are stable and hold the code's source,
the torch version and the device."""

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
    assert [p.name for p in (tmp_path / "kind").iterdir()] == [cache.entry_key({"n": 4}, (build,)) + ".npz"]


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


# --- keys: the source of the code that made an entry, the torch version, the device -------------------------
def _module(path, text):
    """Import `text` as a module from the file `path` (a fresh module object each call)."""
    import importlib.util

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"mod_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILDER = "import numpy as np\n\ndef build():\n    return {'x': np.arange(3) * FACTOR}\n\nFACTOR = %d\n"


def test_code_hash_follows_the_source_text_not_the_place(tmp_path):
    a = _module(tmp_path / "one" / "builder.py", BUILDER % 1)
    b = _module(tmp_path / "two" / "builder.py", BUILDER % 1)        # same text elsewhere: same hash
    assert cache.code_hash(a) == cache.code_hash(b) == cache.code_hash(a.build)
    c = _module(tmp_path / "three" / "builder.py", BUILDER % 2)      # one character changed: another hash
    assert cache.code_hash(c) != cache.code_hash(a)
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "data.bin").write_bytes(b"\x00")
    before = cache.code_hash(pkg)
    (pkg / "sub" / "data.bin").write_bytes(b"\x01")                  # packages hash every file, assets too
    assert cache.code_hash(pkg) != before


def test_entry_key_holds_torch_version_and_device(monkeypatch):
    import torch

    key = cache.entry_key({"n": 1}, (cache,), "cpu")
    assert cache.torch_version() == torch.__version__
    assert key != cache.entry_key({"n": 1}, (cache,), "cuda")
    assert key != cache.entry_key({"n": 1}, (np,), "cpu")
    assert key == cache.entry_key({"n": 1}, (cache,), torch.device("cpu")) == cache.entry_key({"n": 1}, (cache,), "auto")
    monkeypatch.setattr(cache, "torch_version", lambda: "0.0.1")
    assert key != cache.entry_key({"n": 1}, (cache,), "cpu")


def test_editing_the_builder_makes_a_new_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path / "cache"))
    one = _module(tmp_path / "m" / "builder.py", BUILDER % 1)
    assert cache.cached_arrays("k", {"n": 3}, one.build)["x"].tolist() == [0, 1, 2]
    two = _module(tmp_path / "m" / "builder.py", BUILDER % 2)         # the same file, edited
    assert cache.cached_arrays("k", {"n": 3}, two.build)["x"].tolist() == [0, 2, 4]
    assert len(list((tmp_path / "cache" / "k").glob("*.npz"))) == 2


def test_cached_model_key_holds_device_and_model_code(tmp_path, monkeypatch):
    import torch

    from facexplain import train

    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    runs = []

    def make():
        return torch.nn.Linear(2, 1)

    def fit(model):
        runs.append(1)

    train.cached_model("m", {"a": 1}, make, fit, device="cpu")
    train.cached_model("m", {"a": 1}, make, fit, device="cpu")
    assert len(runs) == 1
    train.cached_model("m", {"a": 1}, make, fit, device="cuda")       # the key only: nothing runs on a GPU here
    train.cached_model("m", {"a": 1}, make, fit, code=(np,), device="cpu")
    assert len(runs) == 3


CACHE_CALLS = {"cached_arrays", "cached_state_dict", "cached_model", "cached_json", "config_hash", "entry_key"}


def _hand_versions(tree) -> list[str]:
    """Hand-kept version marks (a name ending in VERSION, a string ending in -vN) inside the configs that reach a
    cache call: the call's arguments and the assignments, in the same function, to the names passed."""
    import ast
    import re

    found = []
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Module))]:
        calls = [c for c in ast.walk(func) if isinstance(c, ast.Call)
                 and getattr(c.func, "id", getattr(c.func, "attr", None)) in CACHE_CALLS]
        passed = {a.id for c in calls for a in c.args + [k.value for k in c.keywords] if isinstance(a, ast.Name)}
        nodes = [*calls, *(a.value for a in ast.walk(func) if isinstance(a, ast.Assign)
                           and any(getattr(t, "id", None) in passed for t in a.targets))]
        for node in nodes:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id.endswith("VERSION"):
                    found.append(f"line {sub.lineno}: {sub.id}")
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and re.search(r"-v\d+$", sub.value):
                    found.append(f"line {sub.lineno}: {sub.value!r}")
    return sorted(set(found))        # the module's walk meets each function's calls again


def test_hand_version_check_sees_what_it_should():
    import ast

    code = ("def f(n):\n    key = dict(kind='det-v1', n=n, g=GENERATOR_VERSION)\n"
            "    return cached_arrays('k', key, build)\n"
            "def g():\n    model = dict(version=MODEL_VERSION)\n    return model\n")
    assert sorted(_hand_versions(ast.parse(code))) == ["line 2: 'det-v1'", "line 2: GENERATOR_VERSION"]


def test_no_hand_bumped_version_strings_in_cache_keys():
    import ast
    from pathlib import Path

    src = Path(cache.__file__).parent
    bumped = [f"{p.relative_to(src)} {hit}" for p in sorted(src.rglob("*.py"))
              for hit in _hand_versions(ast.parse(p.read_text()))]
    assert not bumped, f"cache keys with hand-bumped versions: {bumped} (the code hash covers code changes)"
