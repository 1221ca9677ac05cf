"""The docs show only real commands: every runner (`python -m facexplain.book ...`) and papermill command in the
Markdown pages (README.md, book/*.md, data/README.md) and in the notebooks' Markdown cells is parsed, and each
`-p NAME` must be a parameter of the notebook(s) the command runs (issue 11)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from facexplain import book

RUNNER = re.compile(r"python3? -m facexplain\.book\b")
PAPERMILL = re.compile(r"(?<![\w.-])papermill\s+\S+\.ipynb")
SUBCOMMANDS = ("build", "widgets-js", "check-env")


def _code_spans(markdown: str) -> list[str]:
    """Lines of fenced code blocks and the text of inline `code` spans (backslash continuations joined)."""
    spans, fenced = [], False
    for line in markdown.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            spans.append(line)
        else:
            spans.extend(re.findall(r"`([^`]+)`", line))
    return spans


def commands(markdown: str) -> list[tuple[str, list[str]]]:
    """("runner" | "papermill", arguments) for each command in the code of a Markdown text; comments dropped."""
    found = []
    for span in _code_spans(markdown):
        for kind, pattern in (("runner", RUNNER), ("papermill", PAPERMILL)):
            match = pattern.search(span)
            if match:
                rest = span[match.end():] if kind == "runner" else span[match.start() + len("papermill"):]
                found.append((kind, shlex.split(rest, comments=True)))
    return found


def problems(kind: str, args: list[str], all_chapters: list[book.Chapter]) -> list[str]:
    """What is wrong with one command: unknown options, chapters or parameters (empty if nothing)."""
    if kind == "runner":
        if args and args[0] in SUBCOMMANDS:
            return []
        args = args[1:] if args and args[0] == "run" else args
        try:
            parsed = book._run_parser().parse_args(args)
        except SystemExit:
            return [f"the runner does not accept {' '.join(args)!r}"]
        params = {name: value for name, value in parsed.parameter}
        only = parsed.only
    else:
        notebook, params, i = Path(args[0]), {}, 1
        while i < len(args):
            if args[i] in ("-p", "--parameters", "-r", "--parameters_raw") and i + 2 < len(args) + 1:
                params[args[i + 1]] = args[i + 2]
                i += 3
            elif args[i] in ("-y", "--parameters_yaml"):
                params.update(yaml.safe_load(args[i + 1]))
                i += 2
            else:
                i += 1
        if "<" in notebook.stem:      # a placeholder such as notebooks/<chapter>.ipynb: must hold for every chapter
            return [e for c in all_chapters if c.exists for e in problems(kind, [str(c.source), *args[1:]], [c])]
        only = [notebook.stem]
    try:
        selected = [c for c in book.select(all_chapters, only) if c.exists]
        book.split_parameters(selected, params)
    except book.BookError as err:
        return [str(err)]
    return []


def _doc_sources() -> list[tuple[str, str]]:
    pages = [ROOT / "README.md", ROOT / "data" / "README.md", *sorted((ROOT / "book").glob("*.md"))]
    out = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in pages if p.exists()]
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
        text = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        out.append((str(nb_path.relative_to(ROOT)), text))
    return out


DOCS = _doc_sources()


@pytest.mark.parametrize("name, text", DOCS, ids=[name for name, _ in DOCS])
def test_every_command_in_the_docs_names_real_parameters(name, text):
    all_chapters = book.chapters(ROOT)
    found = {f"{kind}: {' '.join(args)}": problems(kind, args, all_chapters) for kind, args in commands(text)}
    wrong = {command: p for command, p in found.items() if p}
    assert not wrong, f"{name}: commands that do not work as written: {wrong}"


def test_the_main_pages_show_commands():
    texts = dict(DOCS)
    assert sum(k == "runner" for k, _ in commands(texts["README.md"])) >= 3
    assert any(k == "papermill" for k, _ in commands(texts["book/running.md"]))


def test_the_check_catches_a_parameter_the_notebook_does_not_have():
    page = ("Run it:\n\n```bash\n.venv/bin/papermill notebooks/03_landmark_ig.ipynb out.ipynb -p emotion fear "
            "-p n_seeds 10\n.venv/bin/python -m facexplain.book --only 01_au_lrp \\\n  -p fer_lam 4.0  # chapter 10's\n"
            "```\nand `python -m facexplain.book --only 10_explainers_compared -p fer_lam 4.0`, "
            "`python -m facexplain.book --only 99_none`, `python -m facexplain.book --frobnicate`,\n"
            "`papermill notebooks/<chapter>.ipynb out.ipynb -p dataset ckplus`, "
            "`papermill notebooks/<chapter>.ipynb out.ipynb -p n_seeds 3`.\n")
    all_chapters = book.chapters(ROOT)
    found = [(args, problems(kind, args, all_chapters)) for kind, args in commands(page)]
    assert [bool(p) for _, p in found] == [True, True, False, True, True, False, True]
    assert "emotion" in found[0][1][0] and "fer_lam" in found[1][1][0] and "99_none" in found[3][1][0]
