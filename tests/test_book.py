"""The runner (facexplain.book) on a tiny book of its own: toc order and skipping, parameter checks, atomic
writes, failures that name the notebook and cell, the pruned toc for building, and the CLI."""

from __future__ import annotations

import json
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
