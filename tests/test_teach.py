"""Teaching material (issue 14): every chapter opens with learning objectives and prerequisites, links the glossary,
has a Colab install cell that does nothing elsewhere and a collapsed set-up cell, names papers by authors and year,
and closes with 3-5 exercises whose solutions are folded away, including a re-run with real parameters, a
"predict, then check" and (where the chapter has one) a widget exercise; numbers in solutions are glued by code.
The licence and citation files are at the root and the CITATION.cff has CFF 1.2.0's required keys."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHAPTER_WIDGETS = ("browser", "widget", "game", "matrix")        # words of a widget exercise's title


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell) -> str:
    return "".join(cell["source"])


def glossary_terms() -> set[str]:
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    return {line.strip().lower() for line in block.splitlines() if line.strip() and not line.startswith(" ")}


def test_glossary_has_the_terms_the_issue_names():
    terms = glossary_terms()
    wanted = {"facs", "au", "au intensity", "emfacs", "lrp", "epsilon rule", "gamma rule", "alpha-beta rule",
              "z+ rule", "flat rule", "box rule", "canonizer", "ig", "baseline", "completeness", "cam family", "cam",
              "grad-cam", "grad-cam++", "layercam", "mu", "cam-cos", "att-cos", "pointing game", "sanity check",
              "model-parameter randomisation", "shortcut", "loso", "jaccard index"}
    assert not wanted - terms, f"glossary misses {sorted(wanted - terms)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_opens_with_objectives_and_links_the_glossary(path):
    cells = _cells(path)
    markdown = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    opening = "\n".join(_src(c) for c in cells[:first_code] if c["cell_type"] == "markdown")
    assert "Learning objectives" in opening and "Prerequisites" in opening, \
        f"{path.name}: no learning objectives / prerequisites before the first code cell"
    used = {t.split("<")[-1].rstrip(">").strip().lower() for t in re.findall(r"\{term\}`([^`]+)`", markdown)}
    assert used, f"{path.name} has no {{term}} link to the glossary"
    unknown = used - glossary_terms()
    assert not unknown, f"{path.name} links terms the glossary does not define: {sorted(unknown)}"
    assert not re.search(r"\b[Ss]eed 00\d", markdown), f"{path.name} names a paper 'seed 00N' (use authors and year)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_colab_cell_and_collapsed_set_up(path):
    cells = _cells(path)
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    params = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    colab = _src(cells[code[0]])
    assert code[0] < params and 'if "google.colab" in sys.modules' in colab, \
        f"{path.name}: the first code cell should install the package on Colab only"
    after = next(i for i in code if i > params)
    assert "hide-input" in cells[after]["metadata"].get("tags", []), f"{path.name}: the set-up cell is not hide-input"


def test_colab_cell_does_nothing_outside_colab(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    source = _src(next(c for c in _cells(NOTEBOOKS[0]) if c["cell_type"] == "code"))
    assert "google.colab" not in sys.modules
    exec(compile(source, "colab-cell", "exec"), {})
    assert calls == [] and not list(tmp_path.iterdir())


def _exercises(markdown: str):
    ex = re.findall(r"```\{exercise\}([^\n]*)\n:label: ([\w-]+)\n(.*?)```", markdown, re.S)
    sol = dict(re.findall(r"```\{solution\} ([\w-]+)\n((?::[^\n]*\n)*)", markdown))
    return ex, sol


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_closes_with_exercises(path):
    cells = _cells(path)
    markdown = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join(_src(c) for c in cells if c["cell_type"] == "code")
    ex, sol = _exercises(markdown)
    assert 3 <= len(ex) <= 5, f"{path.name}: {len(ex)} exercises (want 3-5)"
    for _, label, _ in ex:
        assert label in sol and ":class: dropdown" in sol[label], f"{path.name}: {label} has no folded solution"
    titles = " ".join(t.lower() for t, _, _ in ex)
    assert "predict" in titles, f"{path.name}: no 'predict, then check' exercise"
    bodies = " ".join(b for _, _, b in ex)
    assert re.search(r"python -m facexplain\.book|papermill notebooks/", bodies) or "change a parameter" in titles, \
        f"{path.name}: no 'change a parameter and re-run' exercise with the command"
    has_widget = re.search(r"browsers?\(|recorded_game\(|live_game\(", code) is not None
    if has_widget:
        assert "use the widget" in titles, f"{path.name}: the chapter has a widget but no exercise uses it"
    glued = set(re.findall(r"""glue\(\s*f?["']([\w{}]+)["']""", code))
    for name in re.findall(r"\{glue:text\}`(ex\d\d_\w+)", markdown):   # the exercises' numbers (prose glues
                                                                          # through the study modules)
        assert any(re.fullmatch(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(g)), name) for g in glued), \
            f"{path.name}: {{glue:text}}`{name}` is used but no code cell glues it"


def test_licences_and_citation_at_the_root():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "CC BY 4.0" in (ROOT / "LICENSE-CONTENT").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors"} <= set(cff) and cff["authors"]
