"""Execute the book's chapter notebooks with papermill (in table-of-contents order) and build the HTML.

Commands::

    python -m facexplain.book [run] [-p NAME VALUE]... [--preset cpu|paper] [--only NAME]... [--out DIR]
                                    [--kernel NAME] [--force] [--list] [--build]
    python -m facexplain.book build [--strict] [--force]   # jupyter-book build from the executed copies
    python -m facexplain.book widgets-js            # offline widget manager + MathJax JS from the npm registry
    python -m facexplain.book check-env             # cv2 + MediaPipe Face Mesh import and find a face

Chapters are the `_toc.yml` entries under `book/chapters/`; entry `book/chapters/NAME` is the executed copy of
`notebooks/NAME.ipynb`. Entries whose source notebook does not exist (yet) are skipped, when running and when
building, so the toc can list the whole planned book.

Incremental: a chapter is executed again only when its source notebook, its parameters, the package source, the
installed environment or its data changed (or its results_dir lost files); otherwise its executed copy is reused.
The HTML build is skipped when nothing it reads changed. `--force` re-executes (re-builds) anyway.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fnmatch
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

import yaml

from .cache import atomic_write_text, repo_root

CHAPTERS_DIR = "book/chapters"          # where the toc expects executed chapters (relative to the book root)
NOTEBOOKS_DIR = "notebooks"             # where their sources live
WIDGETS_DIR = "book/_static/widgets"    # offline copy of the widget manager (html_static_path = book/_static)
MATHJAX_DIR = "book/_static/mathjax"    # offline MathJax (mathjax_path in _config.yml)
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"  # matches ipywidgets 8.1 (widget controls 2.0)
MATHJAX = "mathjax@3.2.2"
PRESETS = ("cpu", "paper", "paper-smoke")


class BookError(Exception):
    """A problem the user can fix; printed without a traceback."""


@dataclass(frozen=True)
class Chapter:
    """One chapter of the toc: its name (file stem), toc entry, and source notebook."""
    name: str
    toc_file: str
    source: Path

    @property
    def exists(self) -> bool:
        return self.source.exists()


# ---------------------------------------------------------------------------------------------- toc

def _toc_entries(node) -> list[str]:
    """All `file:` entries of a jb-book toc (root, parts, chapters, sections), in reading order."""
    out = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(str(node["file"]))
        elif "root" in node:
            out.append(str(node["root"]))
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                out.extend(_toc_entries(child))
    return out


def _stem(entry: str) -> str:
    return entry[: -len(Path(entry).suffix)] if Path(entry).suffix in (".ipynb", ".md") else entry


def chapters(root: Path | None = None) -> list[Chapter]:
    """Chapters listed in `_toc.yml` (entries under book/chapters/), in toc order, with their source paths."""
    root = Path(root or repo_root())
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found = []
    for entry in _toc_entries(toc):
        entry = _stem(entry)
        if entry.startswith(CHAPTERS_DIR + "/"):
            name = entry[len(CHAPTERS_DIR) + 1:]
            found.append(Chapter(name, entry, root / NOTEBOOKS_DIR / f"{name}.ipynb"))
    return found


def select(all_chapters: list[Chapter], only: list[str] | None) -> list[Chapter]:
    """Chapters whose name matches one of `only` (names or globs, `.ipynb` optional); all when `only` is empty."""
    if not only:
        return list(all_chapters)
    patterns = [Path(p).name.removesuffix(".ipynb") for p in only]
    for pattern in patterns:
        if not any(fnmatch.fnmatch(c.name, pattern) for c in all_chapters):
            names = ", ".join(c.name for c in all_chapters)
            raise BookError(f"--only {pattern!r} matches no chapter in _toc.yml (chapters: {names})")
    return [c for c in all_chapters if any(fnmatch.fnmatch(c.name, p) for p in patterns)]


# --------------------------------------------------------------------------------------- parameters

def parse_value(text: str):
    """Read a -p value the way papermill's own CLI does: True/False/None, int, float, else str."""
    from papermill.cli import _resolve_type
    return _resolve_type(text)


def parameters_cell(notebook: Path) -> str:
    """The source of the one code cell tagged `parameters` (an error naming the notebook otherwise)."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise BookError(f"{notebook}: expected exactly one code cell tagged 'parameters', found {len(cells)}")
    return cells[0].source


def parse_parameters(source: str, where: str = "the parameters cell") -> dict[str, dict]:
    """Names a parameters cell assigns at top level, read as Python (ast), in order: name -> info dict with
    `name`, `default` (the value's source text), `inferred_type_name` (the literal's type, or the annotation)
    and `help` (the comment on the assignment's last line). Comments may contain anything, '=' included;
    values may span lines. Assignments inside blocks, to attributes or to subscripts are not parameters."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise BookError(f"{where} is not valid Python (line {err.lineno}: {err.msg})") from None
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    found: dict[str, dict] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, annotation = node.targets, None
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, annotation = [node.target], ast.get_source_segment(source, node.annotation)
        else:
            continue
        names = [n.id for t in targets for n in ([t] if isinstance(t, ast.Name) else getattr(t, "elts", []))
                 if isinstance(n, ast.Name)]
        try:
            value = ast.literal_eval(node.value)
            type_name = "None" if value is None else type(value).__name__
        except (ValueError, TypeError, SyntaxError, RecursionError):
            type_name = "None"
        for name in names:
            found[name] = {"name": name, "default": ast.get_source_segment(source, node.value),
                           "inferred_type_name": annotation or type_name, "help": comments.get(node.end_lineno, "")}
    return found


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """Parameters a notebook declares: every name its `parameters` cell assigns at top level (see parse_parameters)."""
    return parse_parameters(parameters_cell(notebook), where=f"the parameters cell of {notebook}")


def split_parameters(selected: list[Chapter], given: dict) -> dict[str, dict]:
    """Per chapter, the given parameters it declares; a name that no selected chapter declares is an error."""
    declared = {c.name: declared_parameters(c.source) for c in selected}
    unknown = [k for k in given if not any(k in d for d in declared.values())]
    if unknown:
        known = sorted({k for d in declared.values() for k in d})
        raise BookError(f"unknown parameter(s) {', '.join(unknown)}: not declared by "
                        f"{', '.join(declared) or 'any chapter'}. Declared: {', '.join(known)}")
    return {name: {k: v for k, v in given.items() if k in d} for name, d in declared.items()}


# ------------------------------------------------------------------------------------- fingerprints

def _sha(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()[:16]


def package_fingerprint() -> str:
    """Hash of the package's source: every file under src/facexplain (code and assets; no bytecode)."""
    pkg = Path(__file__).resolve().parent
    files = sorted(f for f in pkg.rglob("*") if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc")
    return _sha(*(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes() for f in files))


def environment_fingerprint() -> dict[str, str]:
    """Python and the installed versions of the package's dependencies (its checkout's pyproject.toml, or the
    installed distribution's metadata), name -> version."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, requires, version
    from packaging.requirements import Requirement

    pyproject = Path(repo_root()) / "pyproject.toml"
    if pyproject.exists():
        wanted = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
    else:
        wanted = [r for r in (requires("facexplain") or []) if "extra ==" not in r]
    found = {"python": sys.version.split()[0]}
    for text in wanted:
        name = Requirement(text).name
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def data_fingerprint(parameters: dict, root: Path) -> dict[str, str]:
    """For each `*data_dir` parameter naming a folder: a hash of its files' paths, sizes and modification times
    (a real dataset that changes re-runs its chapters). Generated data is versioned by the package source."""
    found = {}
    for name, value in sorted(parameters.items()):
        if name.endswith("data_dir") and value not in (None, ""):
            folder = Path(str(value)) if Path(str(value)).is_absolute() else root / str(value)
            if not folder.exists():
                found[name] = "missing"
                continue
            entries = sorted((str(f.relative_to(folder)), f.stat()) for f in folder.rglob("*") if f.is_file())
            found[name] = _sha(*(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode() for rel, st in entries))
    return found


def resolved_parameters(chapter: Chapter, given: dict) -> dict:
    """The notebook's defaults (literals as values, other expressions as their source text) updated with `given`:
    what the chapter runs with, so that `-p seed 0` and the default seed are the same run."""
    out = {}
    for name, info in declared_parameters(chapter.source).items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, TypeError, SyntaxError, RecursionError):
            out[name] = info["default"]
    out.update(given)
    return out


def run_key(chapter: Chapter, given: dict, root: Path, package: str | None = None, kernel: str | None = None) -> dict:
    """What an executed copy depends on: the source notebook, the parameters, the package source, the installed
    environment and the data. Equal keys -> the executed copy can be reused."""
    params = resolved_parameters(chapter, given)
    return {
        "notebook": _sha(chapter.source.read_bytes()),
        "parameters": json.loads(json.dumps(params, sort_keys=True, default=repr)),
        "package": package or package_fingerprint(),
        "environment": environment_fingerprint(),
        "data": data_fingerprint(params, root),
        "kernel": kernel or "",
    }


def _results_listing(params: dict, root: Path) -> dict[str, int]:
    """Files (relative path -> size) in the chapter's results_dir, recorded with the executed copy."""
    value = params.get("results_dir")
    if not value:
        return {}
    folder = Path(str(value)) if Path(str(value)).is_absolute() else root / str(value)
    if not folder.is_dir():
        return {}
    return {str(f.relative_to(folder)): f.stat().st_size for f in sorted(folder.rglob("*")) if f.is_file()}


def stale_reason(final: Path, key: dict, root: Path) -> str | None:
    """Why the executed copy `final` cannot be reused for `key` (None: it can)."""
    if not final.exists():
        return "not executed yet"
    try:
        stored = json.loads(final.read_text(encoding="utf-8")).get("metadata", {}).get("facexplain", {})
    except (OSError, ValueError):
        return "executed copy unreadable"
    old = stored.get("run_key")
    if not old:
        return "executed copy has no run key"
    changed = [part for part in key if old.get(part) != key[part]]
    if changed:
        return " and ".join(changed) + " changed"
    recorded = stored.get("results", {})
    listing = _results_listing(key["parameters"], root)
    if any(listing.get(name) != size for name, size in recorded.items()):
        return "results_dir changed"
    return None


# ---------------------------------------------------------------------------------------- execution

def execute(chapter: Chapter, out_dir: Path, parameters: dict | None = None, kernel: str | None = None,
            progress: bool = True, cwd: Path | None = None, key: dict | None = None) -> Path:
    """Execute one chapter with papermill into out_dir/NAME.ipynb, atomically (temp file, then rename).

    The kernel starts in the repository root (as for `papermill notebooks/X.ipynb out.ipynb` run from there), so
    relative paths such as results_dir="results/X" land in the same place either way. On failure the partial
    notebook is kept as NAME.failed.ipynb and a BookError names the notebook and the failing cell. `key` (see
    run_key) is stored in the executed copy's metadata with the results_dir listing, for the incremental runner.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{chapter.name}.ipynb"
    tmp = out_dir / f".{chapter.name}.running.ipynb"
    os.environ.setdefault("PYTHONHASHSEED", "0")   # the kernel inherits it: same set/dict order every run
    root = Path(cwd or repo_root())
    # papermill's own parameters parser warns about lines it cannot read (a '=' in a comment) and then about
    # "unknown" parameters; the runner reads the cell as Python (parse_parameters) and has checked the names
    for name in ("papermill.translators", "papermill"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        nb = papermill.execute_notebook(
            str(chapter.source), str(tmp), parameters=dict(parameters or {}), kernel_name=kernel,
            cwd=str(root), progress_bar=progress,
        )
        if key is not None:
            nb.metadata["facexplain"] = {"run_key": key, "results": _results_listing(key["parameters"], root)}
            nbformat.write(nb, str(tmp))
    except PapermillExecutionError as err:
        failed = out_dir / f"{chapter.name}.failed.ipynb"
        if tmp.exists():
            os.replace(tmp, failed)
        source = "\n".join("    " + line for line in (err.source or "").splitlines()[:15])
        raise BookError(
            f"notebook {chapter.source} failed in cell #{err.cell_index + 1} of the executed copy "
            f"(In [{err.exec_count}]): "
            f"{err.ename}: {err.evalue}\n  cell source:\n{source}\n  partial output kept in {failed}"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    return final


#: Chapters that load what other chapters train (through the model cache): with a cluster, they start only after
#: those chapters finished. The cache makes the order a matter of speed, not of results.
DEPENDS = {
    "10_explainers_compared": ("01_au_lrp", "04_au_guided_fer"),
    "12_au_emotion_codebooks": ("02_face_game", "04_au_guided_fer"),
}


def _scheduler_mode(scheduler: str | None) -> str | None:
    """The runner's --scheduler checked: None (not given), "serial", "local" or an address; a bad one is a BookError."""
    if not scheduler:
        return None
    from . import grid

    try:
        return grid.resolve(scheduler)
    except ValueError as err:
        raise BookError(f"--scheduler: {err}") from None


#: What the kernels get beside a cluster: OpenMP threads that sleep at once when they wait, instead of spinning.
#: A 2-thread kernel spinning beside two busy one-thread workers ran a model's forward and backward pass 4x slower
#: than a passive one, and slowed the workers by about 20% (benchmarks/kernel_wait_policy.py); results are the same
#: (same threads).
KERNEL_ENV_WITH_CLUSTER = {"OMP_WAIT_POLICY": "PASSIVE"}


@contextlib.contextmanager
def _scheduler_for_kernels(mode: str | None):
    """Export the Dask scheduler address to the kernels (DASK_SCHEDULER_ADDRESS) for the duration of a run, with
    KERNEL_ENV_WITH_CLUSTER (unless the user set those variables); for "local", start one LocalCluster here that
    every chapter's kernel shares. `mode`: _scheduler_mode's answer. Yields the address (None: serial)."""
    if mode in (None, "serial"):
        yield None
        return
    from . import grid

    address = grid.client("local").scheduler.address if mode == "local" else mode
    exported = {grid.ENV: address, **{k: v for k, v in KERNEL_ENV_WITH_CLUSTER.items() if k not in os.environ}}
    old = {k: os.environ.get(k) for k in exported}
    os.environ.update(exported)
    try:
        yield address
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if mode == "local":
            grid.close()


def run(only: list[str] | None = None, parameters: dict | None = None, out: Path | str | None = None,
        kernel: str | None = None, root: Path | None = None, progress: bool = True, force: bool = False,
        scheduler: str | None = None, jobs: int | None = None) -> list[Path]:
    """Execute the selected chapters in toc order; print progress and per-notebook wall time.

    Incremental: a chapter whose executed copy was made from the same source notebook, parameters, package
    source, environment and data (see run_key), and whose results_dir still holds what that run wrote, is
    reused, not executed again. `force=True` executes every selected chapter.

    `scheduler` ("local" or a Dask scheduler address) is handed to the kernels as DASK_SCHEDULER_ADDRESS, so the
    chapters' grids run on that cluster ("local": one LocalCluster started here for all chapters); the chapters
    then execute concurrently (at most `jobs` at a time, default all), each after the chapters it depends on
    (DEPENDS)."""
    root = Path(root or repo_root())
    out_dir = Path(out) if out else root / CHAPTERS_DIR
    mode = _scheduler_mode(scheduler)               # a bad address is an error even when no chapter is stale
    selected = select(chapters(root), only)
    for c in selected:
        if not c.exists:
            print(f"skip {c.name}: {c.source.relative_to(root)} does not exist yet")
    todo = [c for c in selected if c.exists]
    if not todo:
        raise BookError("no chapter to run: none of the selected toc entries has a source notebook")
    per_chapter = split_parameters(todo, dict(parameters or {}))
    package = package_fingerprint()
    n = len(todo)
    times: dict[str, float] = {}
    stale: dict[str, tuple[int, Chapter, dict]] = {}
    for i, c in enumerate(todo, 1):
        params = per_chapter[c.name]
        shown = " ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
        start = time.perf_counter()
        key = run_key(c, params, root, package=package, kernel=kernel)
        final = out_dir / f"{c.name}.ipynb"
        reason = "--force" if force else stale_reason(final, key, root)
        times[c.name] = time.perf_counter() - start
        if reason is None:
            print(f"[{i}/{n}] {c.name} ({shown}) unchanged: reusing {final}", flush=True)
        else:
            print(f"[{i}/{n}] {c.name} ({shown}): {reason}, to execute", flush=True)
            stale[c.name] = (i, c, key)

    def one(name: str) -> None:
        i, c, key = stale[name]
        print(f"[{i}/{n}] {name} executing", flush=True)
        start = time.perf_counter()
        path = execute(c, out_dir, per_chapter[name], kernel=kernel, progress=progress and not concurrent, cwd=root,
                       key=key)
        times[name] += time.perf_counter() - start
        print(f"[{i}/{n}] {name} done in {times[name]:.1f} s -> {path}", flush=True)

    with _scheduler_for_kernels(mode if stale else None) as address:     # no cluster when nothing runs
        concurrent = address is not None and len(stale) > 1 and (jobs or len(stale)) > 1
        if address:
            print(f"grids on the Dask scheduler {address}" + (", chapters concurrently" if concurrent else ""))
        if not concurrent:
            for name in stale:
                one(name)
        else:
            _run_concurrently(stale, one, jobs or len(stale))
    print("wall time: " + ", ".join(f"{c.name} {times[c.name]:.1f} s" for c in todo)
          + f"; total {sum(times.values()):.1f} s")
    return [out_dir / f"{c.name}.ipynb" for c in todo]


def _run_concurrently(stale: dict, one, jobs: int) -> None:
    """Call one(name) for every stale chapter on `jobs` threads, each after the stale chapters it depends on;
    the first failure stops new starts and is raised once the running ones finish."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    waiting = {name: {d for d in DEPENDS.get(name, ()) if d in stale} for name in stale}
    running, failed = {}, []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while (waiting and not failed) or running:
            ready = [name for name, deps in waiting.items() if not deps] if not failed else []
            for name in ready[: max(jobs - len(running), 0)]:
                del waiting[name]
                running[pool.submit(one, name)] = name
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                if future.exception() is not None:
                    failed.append(future.exception())
                for deps in waiting.values():
                    deps.discard(name)
    if failed:
        raise failed[0]


# -------------------------------------------------------------------------------------------- build

def install_widget_js(root: Path | None = None, force: bool = False) -> Path:
    """Install the page JavaScript from the npm registry into .build/npm and copy it into book/_static/ (no CDN
    at page-load time): the widget manager's dist/embed.js and fonts into widgets/ (named by `nb_ipywidgets_js`
    in _config.yml) and MathJax 3 (es5 bundle, fonts, lazily loaded parts) into mathjax/ (`mathjax_path`)."""
    root = Path(root or repo_root())
    dest, math = root / WIDGETS_DIR, root / MATHJAX_DIR
    stamp = dest / "VERSION"
    wanted = f"{HTML_MANAGER} {MATHJAX}"
    if (not force and (dest / "embed.js").exists() and (math / "tex-mml-chtml.js").exists() and stamp.exists()
            and stamp.read_text().strip() == wanted):
        return dest / "embed.js"
    npm = shutil.which("npm")
    if npm is None:
        raise BookError("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)")
    prefix = root / ".build" / "npm"
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"npm install {HTML_MANAGER} {MATHJAX} into {prefix}", flush=True)
    subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                    HTML_MANAGER, MATHJAX], check=True)
    modules = prefix / "node_modules"
    for folder in (dest, math):
        if folder.exists():
            shutil.rmtree(folder)
    dest.mkdir(parents=True)
    for f in (modules / "@jupyter-widgets" / "html-manager" / "dist").iterdir():
        if f.name in ("embed.js", "embed.js.LICENSE.txt") or f.suffix in (".woff", ".woff2", ".ttf", ".eot", ".svg"):
            shutil.copy2(f, dest / f.name)
    es5 = modules / "mathjax" / "es5"
    shutil.copytree(es5, math, ignore=lambda d, names: [n for n in names if Path(d) == es5 and (
        n == "sre" or (n.endswith(".js") and n != "tex-mml-chtml.js"))])
    shutil.copy2(modules / "mathjax" / "LICENSE", math / "LICENSE")
    stamp.write_text(wanted + "\n")
    return dest / "embed.js"


def install_game_js(root: Path | None = None) -> Path:
    """The in-browser Face Game's static files (book/face_game_live.md): Face Mesh from npm, its graph changed so
    that the face detector reads the input Python's MediaPipe builds, and the AU reader, phrases and targets
    exported to JSON, into book/_static/game/ (facexplain.game.web)."""
    from .game import web
    try:
        return web.install(Path(root or repo_root()))
    except FileNotFoundError as err:      # npm missing: the game layer may not import book, so it is rewrapped here
        raise BookError(str(err)) from None


def buildable_toc(root: Path) -> Path:
    """Write .build/_toc.yml: _toc.yml without chapters that have neither a source nor an executed copy.

    A chapter whose source exists but has not been executed is an error (run the chapters first)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    missing_runs = []

    def keep(entry) -> bool:
        stem = _stem(str(entry.get("file", "")))
        if not stem.startswith(CHAPTERS_DIR + "/"):
            return True
        name = stem[len(CHAPTERS_DIR) + 1:]
        if (root / f"{stem}.ipynb").exists():
            return True
        if (root / NOTEBOOKS_DIR / f"{name}.ipynb").exists():
            missing_runs.append(name)
        else:
            print(f"skip {name}: no executed copy and no source notebook yet")
        return False

    def prune(node):
        """Drop chapters not to build; drop parts left with no chapter."""
        for key in ("chapters", "sections"):
            if key in node:
                node[key] = [prune(c) for c in node[key] if keep(c)]
                if not node[key]:
                    del node[key]
        if "parts" in node:
            node["parts"] = [part for part in (prune(p) for p in node["parts"]) if part.get("chapters")]
        return node

    toc = prune(toc)
    if missing_runs:
        raise BookError(f"not executed yet: {', '.join(missing_runs)}; run `python -m facexplain.book` first")
    path = root / ".build" / "_toc.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(toc, sort_keys=False))
    return path


def build_fingerprint(root: Path, toc: Path, strict: bool) -> str:
    """Hash of what the HTML is made from: the config, the toc, everything under book/ but the output (prose,
    bibliography, static JS, executed chapters), the package source (the API page's docstrings), the builder
    versions and the strict flag."""
    from importlib.metadata import PackageNotFoundError, version

    book_dir = root / "book"
    files = sorted(f for f in book_dir.rglob("*") if f.is_file() and "_build" not in f.relative_to(book_dir).parts)
    versions = []
    for name in ("jupyter-book", "sphinx", "myst-nb", "sphinx-book-theme"):
        try:
            versions.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name}=missing")
    return _sha(" ".join(versions).encode(), str(strict).encode(), package_fingerprint().encode(),
                (root / "_config.yml").read_bytes(),
                toc.read_bytes(), *(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() for f in files))


def _jupyter_book(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd)


def build(root: Path | None = None, strict: bool = False, force: bool = False) -> Path:
    """Render the book with `jupyter-book build` (it executes nothing) into book/_build/html; return index.html.

    Skipped when nothing it is made from changed since the last successful build (see build_fingerprint);
    `force=True` builds anyway."""
    root = Path(root or repo_root())
    install_widget_js(root)
    install_game_js(root)
    toc = buildable_toc(root)
    index = root / "book" / "_build" / "html" / "index.html"
    stamp = root / "book" / "_build" / ".facexplain-build-key"
    key = build_fingerprint(root, toc, strict)
    if not force and index.exists() and stamp.exists() and stamp.read_text().strip() == key:
        print(f"the book is unchanged since its last build: {index}")
        return index
    stamp.unlink(missing_ok=True)
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "--all", "--toc", str(toc),
           "--path-output", str(root / "book")]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    print(" ".join(cmd), flush=True)
    result = _jupyter_book(cmd)
    if result.returncode != 0 or not index.exists():
        raise BookError(f"jupyter-book build failed (exit code {result.returncode})")
    atomic_write_text(stamp, key + "\n")
    report_page_weights(index.parent)
    print(f"the book is at {index}")
    return index


#: What a reader downloads for one chapter page at most: its HTML (with the widgets' embedded views) and its images.
MAX_PAGE_WEIGHT = int(2.5 * 1024 * 1024)


def page_weight(page: Path) -> int:
    """Bytes a reader downloads for `page`: the HTML file plus every local image it references (figures live in
    _images/, widget views are inside the HTML). Shared scripts and styles are not counted: every page loads them
    once from the browser's cache."""
    import re
    import urllib.parse

    page = Path(page)
    html = page.read_text(encoding="utf-8")
    srcs = {urllib.parse.unquote(s.split("#")[0].split("?")[0])
            for s in re.findall(r'<img[^>]*?\ssrc="([^"]+)"', html) if not s.startswith(("data:", "http:", "https:"))}
    images = [(page.parent / s).resolve() for s in srcs]
    return page.stat().st_size + sum(p.stat().st_size for p in images if p.is_file())


def report_page_weights(html_root: Path, limit: int = MAX_PAGE_WEIGHT) -> dict[str, int]:
    """Print each chapter page's weight (page_weight) and warn about any over `limit`; return {page: bytes}."""
    weights = {p.stem: page_weight(p) for p in sorted((Path(html_root) / "book" / "chapters").glob("*.html"))}
    if weights:
        print("page weights (HTML + images): " + ", ".join(f"{k} {v / 2**20:.2f} MB" for k, v in weights.items()))
    heavy = {k: v for k, v in weights.items() if v > limit}
    if heavy:
        print(f"WARNING: over {limit / 2**20:.1f} MB: " + ", ".join(heavy) + " (fewer widget views or smaller figures)")
    return weights


def stage(dest: Path, executed_dir: Path, root: Path | None = None) -> Path:
    """Copy the book sources (config, toc, prose, bib, widget JS) into dest with the executed notebooks of
    executed_dir as its chapters, so a book can be built from executed copies kept elsewhere (tests)."""
    root = Path(root or repo_root())
    dest = Path(dest)
    (dest / CHAPTERS_DIR).mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, dest / name)
    for f in (root / "book").iterdir():
        if f.is_file() and f.suffix in (".md", ".bib"):
            shutil.copy2(f, dest / "book" / f.name)
    for f in (root / "book" / "_static").glob("*.js"):
        (dest / "book" / "_static").mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest / "book" / "_static" / f.name)
    install_widget_js(root)
    from .game.web import GAME_DIR
    install_game_js(root)
    for folder in (WIDGETS_DIR, MATHJAX_DIR, GAME_DIR):
        shutil.copytree(root / folder, dest / folder, dirs_exist_ok=True)
    for nb in Path(executed_dir).glob("*.ipynb"):
        if not nb.name.startswith(".") and not nb.name.endswith(".failed.ipynb"):
            shutil.copy2(nb, dest / CHAPTERS_DIR / nb.name)
    return dest


# ---------------------------------------------------------------------------------------- check-env

def check_env() -> None:
    """Import cv2 and MediaPipe and find the face in scikit-image's astronaut photo with Face Mesh."""
    import cv2
    import mediapipe as mp
    import numpy as np
    from skimage.data import astronaut

    if int(np.__version__.split(".")[0]) >= 2:
        raise BookError(f"numpy {np.__version__} installed: mediapipe 0.10.21 needs numpy<2")
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        result = mesh.process(astronaut())
    if not result.multi_face_landmarks or len(result.multi_face_landmarks[0].landmark) != 468:
        raise BookError("MediaPipe Face Mesh found no face in skimage.data.astronaut()")
    print(f"check-env ok: cv2 {cv2.__version__}, mediapipe {mp.__version__}, numpy {np.__version__}, "
          "Face Mesh found 468 landmarks")


# ---------------------------------------------------------------------------------------------- CLI

def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m facexplain.book",
                                description="Execute the chapter notebooks with papermill in toc order. "
                                            "Other commands: build, widgets-js, check-env.")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a notebook parameter (repeatable); values parsed like papermill's -p")
    p.add_argument("--preset", choices=PRESETS, help="shorthand for -p preset NAME")
    p.add_argument("--only", action="append", default=[], metavar="CHAPTER",
                   help="chapter name or glob, e.g. 03_landmark_ig or '0*' (repeatable)")
    p.add_argument("--out", type=Path, help=f"folder for executed notebooks (default {CHAPTERS_DIR}/)")
    p.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's own)")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p.add_argument("--force", action="store_true",
                   help="execute every selected chapter, even those whose executed copy is up to date")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the chapters' grids on Dask: 'local' (one LocalCluster for all chapters) or a scheduler "
                        "address such as tcp://host:8786; chapters then execute concurrently (default: serial, or "
                        "$DASK_SCHEDULER_ADDRESS for the grids)")
    p.add_argument("--jobs", type=int, metavar="N", help="with --scheduler: at most N chapters at a time")
    p.add_argument("--list", action="store_true", help="list chapters and their parameters, run nothing")
    p.add_argument("--build", action="store_true", help="build the HTML afterwards")
    return p


def _list(only) -> None:
    for c in select(chapters(), only):
        if not c.exists:
            print(f"{c.name}: (no source notebook yet)")
            continue
        print(f"{c.name}:")
        for name, info in declared_parameters(c.source).items():
            note = "; ".join(str(x) for x in (info["inferred_type_name"], info["help"]) if x and x != "None")
            print(f"    {name} = {info['default']}" + (f"  # {note}" if note else ""))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in ("run", "build", "widgets-js", "check-env") else "run"
    try:
        if command == "build":
            p = argparse.ArgumentParser(prog="python -m facexplain.book build")
            p.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")
            p.add_argument("--force", action="store_true", help="build even if nothing changed since the last build")
            args = p.parse_args(argv)
            build(strict=args.strict, force=args.force)
        elif command == "widgets-js":
            p = argparse.ArgumentParser(prog="python -m facexplain.book widgets-js")
            p.add_argument("--force", action="store_true", help="reinstall even if the pinned version is there")
            print(install_widget_js(force=p.parse_args(argv).force))
        elif command == "check-env":
            check_env()
        else:
            args = _run_parser().parse_args(argv)
            if args.list:
                _list(args.only)
                return 0
            params = {name: parse_value(value) for name, value in args.parameter}
            if args.preset:
                params["preset"] = args.preset
            run(args.only, params, out=args.out, kernel=args.kernel, progress=not args.no_progress, force=args.force,
                scheduler=args.scheduler, jobs=args.jobs)
            if args.build:
                build()
    except BookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
