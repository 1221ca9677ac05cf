"""Caches under data/cache/, keyed by what made them, written atomically and healed when they cannot be read.

A cache entry's key is a hash of its config plus what else decides its bytes: the source of the code that made it
(`code_hash`), the torch version and the device. Editing that code therefore makes a new entry; no version
strings are bumped by hand. Files are written to a temp file of our own naming (`.<name>.<random>.tmp`), flushed
to disk (fsync) and renamed into place, so a reader never sees half a file. An entry that cannot be read anyway
(a truncated or corrupt file, e.g. from a full disk or a copy cut short) is reported once as a `CacheWarning`
naming the file and the reason, removed and rebuilt; temp files left by killed writers are swept.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import tempfile
import time
import warnings
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

#: What reading a damaged .npz / .pt raises: BadZipFile, EOFError, OSError, torch's RuntimeError ("failed finding
#: central directory"), its unpickler's IndexError/UnpicklingError, ... Any failure to read an entry means the
#: entry is unusable, so every Exception counts (KeyboardInterrupt and SystemExit do not).
UNREADABLE = (Exception,)

#: Temp files of our writers: ".<target name>.<random>.tmp" (tempfile.mkstemp with the prefix and suffix below).
TEMP_PATTERN = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")

#: A temp file older than this (seconds since its last write) belongs to a writer that died: it is swept.
STALE_SECONDS = 3600.0


class CacheWarning(UserWarning):
    """A cache entry could not be read and is being rebuilt (the message names the file and the reason)."""


def repo_root() -> Path:
    """The checkout holding this package (src layout), or the working directory for an installed copy."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "facexplain").exists():
            return parent
    return Path.cwd()


def cache_dir() -> Path:
    """data/cache of the checkout, or $FACEXPLAIN_CACHE when set."""
    path = Path(os.environ.get("FACEXPLAIN_CACHE", repo_root() / "data" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _plain(value):
    """JSON stand-in for values json cannot write: numpy scalars/arrays as Python numbers/lists, else str."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def config_hash(config: dict) -> str:
    """Stable short hash of a JSON-able config (keys sorted)."""
    blob = json.dumps(config, sort_keys=True, default=_plain).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# --- what made an entry: code, torch, device ---------------------------------------------------------------
_PACKAGE = Path(__file__).resolve().parent


def _label(path: Path) -> str:
    """A file's name for hashing: its path inside the package (so the hash does not depend on where the checkout
    lives), or its bare name for files elsewhere."""
    try:
        return path.relative_to(_PACKAGE).as_posix()
    except ValueError:
        return path.name


def _source_items(obj) -> list[tuple[str, Path | str]]:
    """(label, file) pairs whose text defines `obj`: every file of a package (assets too), a module's file, the file
    of the module that defines a function or class; (label, source text) for code without a file (a notebook)."""
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
    elif isinstance(obj, ModuleType):
        if getattr(obj, "__file__", None) is None:
            raise ValueError(f"module {obj.__name__!r} has no source file to hash for a cache key")
        path = Path(obj.__file__)
        if path.name == "__init__.py" and hasattr(obj, "__path__"):
            path = path.parent
    else:
        try:
            source_file = inspect.getsourcefile(obj)
        except TypeError:
            source_file = None
        if source_file is None or not Path(source_file).is_file():
            try:                                        # e.g. a function defined in a notebook cell
                return [(getattr(obj, "__qualname__", repr(obj)), inspect.getsource(obj))]
            except (OSError, TypeError):
                raise ValueError(f"cannot find the source of {obj!r} for a cache key: pass a module or a function "
                                 "defined in a .py file") from None
        path = Path(source_file)
    path = path.resolve()
    if path.is_dir():
        return [(_label(p), p) for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                and p.suffix not in (".pyc", ".pyo")]
    if not path.is_file():
        raise ValueError(f"source file {path} for a cache key does not exist")
    return [(_label(path), path)]


@lru_cache(maxsize=None)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digest(source: Path | str) -> str:
    if isinstance(source, str):
        return hashlib.sha256(source.encode()).hexdigest()
    st = source.stat()
    return _file_digest(str(source), st.st_mtime_ns, st.st_size)


def code_hash(*objects) -> str:
    """Short hash of the source of the code that makes an artefact: modules, packages (every file in them),
    functions or classes (their whole module), or paths. Same text -> same hash, wherever the checkout lives."""
    items = {label: _digest(src) for obj in objects for label, src in _source_items(obj)}
    h = hashlib.sha256()
    for label in sorted(items):
        h.update(f"{label}\0{items[label]}\n".encode())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def torch_version() -> str:
    """torch.__version__ with its build tag (e.g. "2.14.1+cu130"), or "none" without torch."""
    try:
        import torch
    except ImportError:      # pragma: no cover - torch is a dependency
        return "none"
    return str(torch.__version__)


def device_name(device) -> str:
    """The device an artefact was made on, as a key: "auto" resolved (cuda when a GPU is there, else cpu),
    torch.device objects as their text."""
    device = str(device)
    if device == "auto":
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device


def entry_key(config: dict, code=(), device: str = "cpu") -> str:
    """The file stem of a cache entry: config + the code's source hash + the torch version + the device."""
    return config_hash(dict(config=config, code=code_hash(*code) if code else "", torch=torch_version(),
                            device=device_name(device)))


# --- atomic writes ---------------------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:          # e.g. platforms that cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Write through `write(tmp)` into a temp file beside `path`, fsync it, rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)                 # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)              # and the rename itself survives a crash
    return path


def atomic_write_text(path, text: str) -> Path:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return _atomic(path, write)


def atomic_write_bytes(path, data: bytes) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    return _atomic(path, write)


def atomic_save_npz(path, **arrays) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return _atomic(path, write)


def atomic_to_csv(df, path, **kwargs) -> Path:
    """Write a pandas DataFrame as CSV without ever leaving a half-written file."""
    kwargs.setdefault("index", False)
    return _atomic(path, lambda tmp: df.to_csv(tmp, **kwargs))


def atomic_torch_save(obj, path) -> Path:
    import torch
    return _atomic(path, lambda tmp: torch.save(obj, tmp))


# --- healing ---------------------------------------------------------------------------------------------
def sweep_temp_files(folder, max_age: float = STALE_SECONDS) -> list[Path]:
    """Remove the temp files that killed writers left in `folder`: only names of our own pattern
    (".<name>.<random>.tmp") not written to for `max_age` seconds. Returns the removed paths."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now, removed = time.time(), []
    for p in folder.iterdir():
        if not TEMP_PATTERN.match(p.name):
            continue
        try:
            if p.is_file() and not p.is_symlink() and now - p.stat().st_mtime > max_age:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:        # its writer finished (renamed it) or another sweeper got there first
            pass
    return removed


_swept: set[str] = set()


def _sweep_once(folder: Path) -> None:
    """Sweep a cache folder the first time this process uses it."""
    if str(folder) not in _swept:
        _swept.add(str(folder))
        sweep_temp_files(folder)


def _read_or_heal(path: Path, read: Callable[[Path], Any]):
    """read(path), or None when there is no entry; an entry that cannot be read is reported (CacheWarning, naming
    the file and the reason), removed, and None returned so that the caller rebuilds it."""
    if not path.exists():
        return None
    try:
        return read(path)
    except UNREADABLE as err:
        reason = f"{type(err).__name__}: {err}".strip().rstrip(":")
        warnings.warn(CacheWarning(f"cache entry {path} cannot be read ({reason}); removed, rebuilding it"),
                      stacklevel=3)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:   # our handle: closed even when np.load fails
        return {k: z[k] for k in z.files}     # reads (and CRC-checks) every array now, inside the try


def cached_arrays(kind: str, config: dict, build: Callable[[], dict[str, np.ndarray]], code=(),
                  device: str = "cpu") -> dict[str, np.ndarray]:
    """Load the arrays cached for (kind, config), or build, store and return them.

    The key also holds the source of `build`'s module and of `code` (more modules/packages/functions the arrays
    depend on), the torch version and `device`."""
    folder = cache_dir() / kind
    _sweep_once(folder)
    path = folder / f"{entry_key(config, (build, *code), device)}.npz"
    arrays = _read_or_heal(path, _read_npz)
    if arrays is not None:
        return arrays
    arrays = build()
    atomic_save_npz(path, **arrays)
    return arrays


def cached_state_dict(kind: str, config: dict, build: Callable[[], Any], code=(), device: str = "cpu"):
    """Load a torch state_dict cached for (kind, config) (weights_only=True), or build, store and return it.

    Keyed like cached_arrays: config, the source of `build`'s module and of `code`, torch version, device."""
    import torch
    folder = cache_dir() / kind
    _sweep_once(folder)
    path = folder / f"{entry_key(config, (build, *code), device)}.pt"
    state = _read_or_heal(path, lambda p: torch.load(p, map_location="cpu", weights_only=True))
    if state is not None:
        return state
    state = build()
    atomic_torch_save(state, path)
    return state


def cached_json(kind: str, config: dict, build: Callable[[], str], code=(), device: str = "cpu") -> str:
    """The JSON text cached for (kind, config), or build() (a JSON string), stored and returned; keyed and healed
    like cached_arrays (a file that does not parse as JSON is reported, removed and rebuilt)."""
    folder = cache_dir() / kind
    _sweep_once(folder)
    path = folder / f"{entry_key(config, (build, *code), device)}.json"

    def read(p):
        text = p.read_text(encoding="utf-8")
        json.loads(text)                     # a truncated file fails here, not in the caller
        return text

    text = _read_or_heal(path, read)
    if text is not None:
        return text
    text = build()
    atomic_write_text(path, text)
    return text
