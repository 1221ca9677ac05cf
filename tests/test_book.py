"""The runner (facexplain.book) on a tiny book of its own: toc order and skipping, parameter checks, atomic
writes, failures that name the notebook and cell, the pruned toc for building, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from facexplain import book

TOC = {
    "format": "jb-book",
    "root": "book/intro",
    "parts": [
        {"caption": "A", "chapters": [{"file": "book/running"}, {"file": "book/chapters/b_second"}]},
        {"caption": "B", "chapters": [{"file": "book/chapters/a_first.ipynb"}, {"file": "book/chapters/c_later"}]},
    ],
}


def _notebook(path: Path, body: str, params: str = "seed = 0\nx = 1\nlabel = 'a'") -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"),
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A book root whose toc lists b_second, a_first (both with sources) and c_later (no source yet)."""
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(TOC))
    _notebook(tmp_path / "notebooks" / "a_first.ipynb", "print('a', x, label)")
    _notebook(tmp_path / "notebooks" / "b_second.ipynb", "print('b', x * 2)", params="seed = 0\nx = 1")
    return tmp_path


def _stdout(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    texts = [o.get("text", "") for c in nb["cells"] for o in c.get("outputs", [])]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def test_chapters_in_toc_order(tiny):
    chapters = book.chapters(tiny)
    assert [c.name for c in chapters] == ["b_second", "a_first", "c_later"]
    assert [c.exists for c in chapters] == [True, True, False]
    assert chapters[1].source == tiny / "notebooks" / "a_first.ipynb"


def test_select_by_name_glob_and_unknown(tiny):
    chapters = book.chapters(tiny)
    assert [c.name for c in book.select(chapters, ["a_*"])] == ["a_first"]
    assert [c.name for c in book.select(chapters, ["notebooks/a_first.ipynb", "b_second"])] == ["b_second", "a_first"]
    with pytest.raises(book.BookError, match="matches no chapter"):
        book.select(chapters, ["zzz"])


@pytest.mark.parametrize("text, value", [("3", 3), ("-2", -2), ("0.5", 0.5), ("True", True), ("False", False),
                                         ("None", None), ("fear", "fear"), ("1e-3", 1e-3)])
def test_values_parsed_like_papermill(text, value):
    assert book.parse_value(text) == value and type(book.parse_value(text)) is type(value)


def test_parameters_go_only_where_declared(tiny):
    chapters = [c for c in book.chapters(tiny) if c.exists]
    split = book.split_parameters(chapters, {"x": 5, "label": "z"})
    assert split == {"b_second": {"x": 5}, "a_first": {"x": 5, "label": "z"}}
    with pytest.raises(book.BookError, match="unknown parameter.*n_seeds"):
        book.split_parameters(chapters, {"n_seeds": 3})


def test_run_executes_in_order_skips_missing_and_writes_atomically(tiny, capsys):
    out = tiny / "book" / "chapters"
    written = book.run(parameters={"x": 7}, root=tiny, progress=False)
    assert written == [out / "b_second.ipynb", out / "a_first.ipynb"]
    printed = capsys.readouterr().out
    assert "skip c_later" in printed and "wall time" in printed
    assert printed.index("[1/2] b_second") < printed.index("[2/2] a_first")
    assert "b 14" in _stdout(out / "b_second.ipynb") and "a 7 a" in _stdout(out / "a_first.ipynb")
    assert str(tiny) in _stdout(out / "a_first.ipynb")            # kernels start in the book root
    assert sorted(p.name for p in out.iterdir()) == ["a_first.ipynb", "b_second.ipynb"]   # no temp files


def test_failure_names_notebook_and_cell_and_keeps_old_copy(tiny):
    out = tiny / "book" / "chapters"
    book.run(only=["a_first"], root=tiny, progress=False)
    good = (out / "a_first.ipynb").read_text()
    _notebook(tiny / "notebooks" / "a_first.ipynb", "raise ValueError('broken on purpose')")
    with pytest.raises(book.BookError) as err:
        book.run(only=["a_first"], root=tiny, progress=False)
    message = str(err.value)
    assert "a_first.ipynb" in message and "cell #3" in message and "In [3]" in message and "broken on purpose" in message
    assert (out / "a_first.ipynb").read_text() == good            # the previous executed copy is untouched
    assert (out / "a_first.failed.ipynb").exists()
    assert not list(out.glob(".*"))


def test_buildable_toc_prunes_missing_chapters_and_empty_parts(tiny):
    book.run(only=["b_second"], root=tiny, progress=False)
    with pytest.raises(book.BookError, match="not executed yet: a_first"):
        book.buildable_toc(tiny)
    (tiny / "notebooks" / "a_first.ipynb").unlink()
    toc = yaml.safe_load(book.buildable_toc(tiny).read_text())
    assert toc["parts"] == [{"caption": "A", "chapters": [{"file": "book/running"}, {"file": "book/chapters/b_second"}]}]


def test_cli_errors_are_clear_and_nonzero(tiny, monkeypatch, capsys):
    monkeypatch.setattr(book, "repo_root", lambda: tiny)
    assert book.main(["--only", "a_first", "-p", "nope", "1", "--no-progress"]) == 1
    assert "unknown parameter(s) nope" in capsys.readouterr().err
    assert book.main(["--only", "zzz"]) == 1
    assert book.main(["--list"]) == 0
    assert "c_later: (no source notebook yet)" in capsys.readouterr().out
    assert book.main(["--only", "a_first", "-p", "x", "3", "--preset", "cpu", "--no-progress"]) == 1   # no preset here
    assert book.main(["--only", "a_first", "-p", "x", "3", "--no-progress"]) == 0
    assert "a 3 a" in _stdout(tiny / "book" / "chapters" / "a_first.ipynb")


# ------------------------------------------------------------------ parameters read as Python (issue 17, item 1)

def test_parameters_cell_is_read_as_python():
    source = ('seed = 0                # everything follows from this\n'
              'threshold = 0.03        # moves if displacement >= this x IOD; 0.0 = off, None = the chapter value\n'
              'ks = [468, 64,\n'
              '      16]               # budgets\n'
              'size: int = 112\n'
              'a, b = 1, "x"\n'
              'cfg = dict(x=1)         # not a literal, still a parameter\n'
              'if seed:\n'
              '    hidden = 1\n'
              'cfg["y"] = 2\n')
    found = book.parse_parameters(source)
    assert list(found) == ["seed", "threshold", "ks", "size", "a", "b", "cfg"]
    assert found["threshold"]["default"] == "0.03" and found["threshold"]["inferred_type_name"] == "float"
    assert "None = the chapter value" in found["threshold"]["help"]
    assert found["ks"]["default"] == "[468, 64,\n      16]" and found["ks"]["help"] == "budgets"
    assert found["size"]["inferred_type_name"] == "int"
    with pytest.raises(book.BookError, match="not valid Python"):
        book.parse_parameters("x = = 1")


def test_parameters_cell_must_be_unique(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x = {i}", metadata={"tags": ["parameters"]}) for i in range(2)]
    nbformat.write(nb, tmp_path / "two.ipynb")
    with pytest.raises(book.BookError, match="exactly one code cell tagged 'parameters', found 2"):
        book.declared_parameters(tmp_path / "two.ipynb")


def _assigned_at_column_zero(notebook: Path) -> list[str]:
    """An independent reading of a parameters cell: `name =` at the start of a line."""
    import re
    return re.findall(r"^([A-Za-z_]\w*)\s*=", book.parameters_cell(notebook), flags=re.M)


REAL = [c for c in book.chapters(book.repo_root()) if c.exists]


@pytest.mark.parametrize("chapter", REAL, ids=[c.name for c in REAL])
def test_list_shows_every_parameter_of_the_real_notebooks(chapter, capsys):
    assigned = _assigned_at_column_zero(chapter.source)
    assert list(book.declared_parameters(chapter.source)) == assigned
    assert book.main(["--list", "--only", chapter.name]) == 0
    listed = [line.split("=")[0].strip() for line in capsys.readouterr().out.splitlines()[1:]]
    assert listed == assigned


def test_parameters_whose_comments_hold_equals_signs_are_accepted(monkeypatch, tmp_path):
    """`-p fer_lam 4.0` (chapter 10) and `-p truth_threshold` (chapter 03): comments with '=' that papermill's
    parser skips. The run is stopped at execution; what reaches it is checked."""
    seen = {}
    monkeypatch.setattr(book, "execute", lambda c, out, params, **kw: seen.setdefault(c.name, params) and out)
    for argv in (["--only", "10_explainers_compared", "-p", "fer_lam", "4.0"],
                 ["--only", "03_landmark_ig", "-p", "truth_threshold", "0.05"]):
        assert book.main(["run", *argv, "--no-progress", "--force", "--out", str(tmp_path)]) == 0
    assert seen == {"10_explainers_compared": {"fer_lam": 4.0}, "03_landmark_ig": {"truth_threshold": 0.05}}


# ------------------------------------------------------------------------- incremental runner (issue 15)

def _runs(capsys) -> list[str]:
    """Names of the chapters the last run() executed (not reused), from its printed lines."""
    return [line.split()[1] for line in capsys.readouterr().out.splitlines() if line.endswith(" executing")]


@pytest.fixture
def tiny_data(tiny) -> Path:
    """tiny plus a chapter that reads data_dir and writes into results_dir."""
    (tiny / "dataset").mkdir()
    (tiny / "dataset" / "a.txt").write_text("1")
    body = ("import pathlib\nn = len(list(pathlib.Path(data_dir).iterdir()))\n"
            "pathlib.Path(results_dir).mkdir(parents=True, exist_ok=True)\n"
            "pathlib.Path(results_dir, 'n.csv').write_text(f'n\\n{n}\\n')\nprint('files', n)")
    _notebook(tiny / "notebooks" / "c_later.ipynb", body,
              params="seed = 0\ndata_dir = 'dataset'\nresults_dir = 'results/c'  # where n.csv goes")
    return tiny


def test_unchanged_chapters_are_reused_and_changes_rerun_only_their_chapter(tiny_data, capsys, monkeypatch):
    out = tiny_data / "book" / "chapters"
    book.run(root=tiny_data, progress=False)
    assert _runs(capsys) == ["b_second", "a_first", "c_later"]
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    book.run(root=tiny_data, progress=False, parameters={"x": 1, "seed": 0})    # the defaults, given explicitly
    assert _runs(capsys) == [] and {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    book.run(root=tiny_data, progress=False, parameters={"x": 2})
    assert _runs(capsys) == ["b_second", "a_first"]                          # c_later has no x
    _notebook(tiny_data / "notebooks" / "a_first.ipynb", "print('a changed', x)")
    book.run(root=tiny_data, progress=False, parameters={"x": 2})
    assert _runs(capsys) == ["a_first"]
    (tiny_data / "dataset" / "b.txt").write_text("2")                         # the data changed
    book.run(root=tiny_data, progress=False, parameters={"x": 2})
    assert _runs(capsys) == ["c_later"] and "files 2" in _stdout(out / "c_later.ipynb")
    (tiny_data / "results" / "c" / "n.csv").unlink()                          # its results were removed
    book.run(root=tiny_data, progress=False, parameters={"x": 2})
    assert _runs(capsys) == ["c_later"] and (tiny_data / "results" / "c" / "n.csv").exists()
    monkeypatch.setattr(book, "package_fingerprint", lambda: "another package source")
    book.run(root=tiny_data, progress=False, parameters={"x": 2})
    assert _runs(capsys) == ["b_second", "a_first", "c_later"]
    book.run(root=tiny_data, progress=False, parameters={"x": 2})
    assert _runs(capsys) == []
    book.run(only=["a_first"], root=tiny_data, progress=False, parameters={"x": 2}, force=True)
    assert _runs(capsys) == ["a_first"]


def test_run_key_names_what_changed(tiny_data):
    chapter = next(c for c in book.chapters(tiny_data) if c.name == "c_later")
    key = book.run_key(chapter, {}, tiny_data)
    assert key["parameters"] == {"seed": 0, "data_dir": "dataset", "results_dir": "results/c"}
    assert set(key["data"]) == {"data_dir"} and key["environment"]["torch"] != "missing"
    assert key == book.run_key(chapter, {"seed": 0}, tiny_data)
    assert book.stale_reason(tiny_data / "nothing.ipynb", key, tiny_data) == "not executed yet"
    out = book.execute(chapter, tiny_data / "out", {}, progress=False, cwd=tiny_data, key=key)
    assert book.stale_reason(out, key, tiny_data) is None
    assert book.stale_reason(out, book.run_key(chapter, {"seed": 1}, tiny_data), tiny_data) == "parameters changed"


def test_build_is_skipped_when_nothing_it_reads_changed(tiny, monkeypatch, capsys):
    """jupyter-book is replaced by a stand-in that writes index.html: the test counts how often it is called."""
    calls = []

    def fake_jupyter_book(cmd):
        calls.append(cmd)
        index = tiny / "book" / "_build" / "html" / "index.html"
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_text("<html></html>")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(book, "install_widget_js", lambda root: None)
    monkeypatch.setattr(book, "install_game_js", lambda root: None)
    monkeypatch.setattr(book, "_jupyter_book", fake_jupyter_book)
    (tiny / "_config.yml").write_text("title: tiny\n")
    (tiny / "notebooks" / "a_first.ipynb").unlink()
    book.run(root=tiny, progress=False)
    book.build(tiny)
    book.build(tiny)
    assert len(calls) == 1 and "unchanged since its last build" in capsys.readouterr().out
    book.build(tiny, force=True)
    book.build(tiny, strict=True)
    assert len(calls) == 3
    (tiny / "book" / "intro.md").write_text("# changed prose\n")
    book.build(tiny, strict=True)
    book.run(root=tiny, progress=False, parameters={"x": 5})                 # a chapter's executed copy changed
    book.build(tiny, strict=True)
    book.build(tiny, strict=True)
    assert len(calls) == 5
    monkeypatch.setattr(book, "package_fingerprint", lambda: "a docstring changed")     # the API page reads it
    book.build(tiny, strict=True)
    book.build(tiny, strict=True)
    assert len(calls) == 6


def test_with_a_scheduler_chapters_run_concurrently_after_their_dependencies(tiny, monkeypatch, capsys):
    """The address is only handed to the kernels (these notebooks start no grid), so a made-up one will do."""
    body = ("import os, time\nstart = time.time()\ntime.sleep(2)\n"
            "print('window', start, time.time(), os.environ.get('DASK_SCHEDULER_ADDRESS'), "
            "os.environ.get('OMP_WAIT_POLICY'))")
    for name in ("a_first", "b_second", "c_later"):
        _notebook(tiny / "notebooks" / f"{name}.ipynb", body)
    monkeypatch.setattr(book, "DEPENDS", {"a_first": ("b_second",)})
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    written = book.run(root=tiny, progress=False, scheduler="tcp://127.0.0.1:8786")
    assert [p.stem for p in written] == ["b_second", "a_first", "c_later"]
    windows = {}
    for p in written:
        line = next(t for t in _stdout(p).splitlines() if t.startswith("window"))
        _, start, end, address, wait_policy = line.split()
        windows[p.stem] = (float(start), float(end))
        assert address == "tcp://127.0.0.1:8786"
        assert wait_policy == "PASSIVE"                 # kernels beside busy workers do not spin
    assert windows["a_first"][0] >= windows["b_second"][1]                  # after the chapter it depends on
    assert windows["c_later"][0] < windows["b_second"][1] and windows["b_second"][0] < windows["c_later"][1]
    assert "DASK_SCHEDULER_ADDRESS" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")                       # the user's own setting is kept
    written = book.run(root=tiny, progress=False, scheduler="tcp://127.0.0.1:8786", only=["c_later"], force=True)
    assert _stdout(written[0]).split()[-1] == "ACTIVE"
    with pytest.raises(book.BookError, match="--scheduler"):
        book.run(root=tiny, progress=False, scheduler="many workers")


def test_page_weight_counts_the_html_and_the_local_images_it_shows(tmp_path, capsys):
    chapters = tmp_path / "book" / "chapters"
    (tmp_path / "_images").mkdir(parents=True)
    chapters.mkdir(parents=True)
    (tmp_path / "_images" / "fig 1.png").write_bytes(b"x" * 1000)
    (tmp_path / "_images" / "unused.png").write_bytes(b"x" * 5000)
    page = chapters / "01_x.html"
    page.write_text('<img alt="a" src="../../_images/fig%201.png"><img src="data:image/png;base64,AAAA">'
                    '<img src="https://example.org/remote.png"><img src="../../_images/fig%201.png">', encoding="utf-8")
    html = page.stat().st_size
    assert book.page_weight(page) == html + 1000          # each image once; data: and remote ones not as files
    weights = book.report_page_weights(tmp_path, limit=html + 999)
    assert weights == {"01_x": html + 1000}
    assert "WARNING: over" in capsys.readouterr().out
