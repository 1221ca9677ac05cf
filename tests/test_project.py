"""Project conventions: source notebooks are clean and parameterised, environment.yml agrees with
pyproject.toml, and the README gives the two commands."""

from __future__ import annotations

import ast
import json
import os
import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REQUIRED_PARAMETERS = {"seed", "device", "dataset", "data_dir", "results_dir", "preset"}


def _assigned_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_notebook_is_clean_and_parameterised(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    with_outputs = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not with_outputs, f"{path.name}: code cells {with_outputs} have outputs (clear them before committing)"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters', expected exactly one"
    missing = REQUIRED_PARAMETERS - _assigned_names("".join(tagged[0]["source"]))
    assert not missing, f"{path.name}: the parameters cell does not define {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_notebook_cells_are_thin(path):
    """Logic lives in the package: no def/class/lambda, at most 15 code lines a cell, tables displayed (not printed
    as text), nbval's checked cells marked by the 'nbval-check-output' tag."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code" or "parameters" in c.get("metadata", {}).get("tags", []):
            continue
        src = "".join(c["source"])
        lines = [l for l in src.splitlines() if l.strip() and not l.strip().startswith("#")]
        assert len(lines) <= 15, f"{path.name} cell {i}: {len(lines)} code lines (at most 15: move logic into the package)"
        assert not re.search(r"^\s*(def|class)\s|\blambda\b", src, re.M), \
            f"{path.name} cell {i}: defines a function, class or lambda (it belongs in the package)"
        assert not ("print(" in src and "to_string(" in src), f"{path.name} cell {i}: display the DataFrame"
        assert "NBVAL_CHECK_OUTPUT" not in src, f"{path.name} cell {i}: tag the cell 'nbval-check-output' instead"


def _normalised(requirements) -> dict[str, str]:
    out = {}
    for text in requirements:
        req = Requirement(text)
        out[req.name.lower().replace("_", "-")] = str(req.specifier)
    return out


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_only = [d for d in env["dependencies"] if isinstance(d, str)]
    assert {re.split(r"[=<>!\s]", d)[0] for d in conda_only} <= {"python", "pip", "nodejs"}, \
        f"environment.yml: put Python packages under pip:, not as conda packages: {conda_only}"
    env_pip = _normalised(d for d in pip_section if not d.startswith("-e"))
    pyp = _normalised(pyproject)
    assert env_pip == pyp, (
        "environment.yml and pyproject.toml disagree:\n"
        f"  only in pyproject: {sorted(set(pyp.items()) - set(env_pip.items()))}\n"
        f"  only in environment.yml: {sorted(set(env_pip.items()) - set(pyp.items()))}")
    assert "-e ." in pip_section, "environment.yml should install the package itself (-e .)"


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make book" in readme and "make test" in readme


def test_makefile_and_ci_entry_point():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nbook:" in makefile and "\ntest:" in makefile
    ci = ROOT / ".ci" / "run"
    assert ci.exists() and os.access(ci, os.X_OK), ".ci/run must exist and be executable"
    assert "make test" in ci.read_text()


def test_toc_points_at_executed_copies_that_git_ignores():
    from facexplain import book

    chapters = book.chapters(ROOT)
    assert chapters and all(c.toc_file.startswith("book/chapters/") for c in chapters)
    assert "book/chapters/" in (ROOT / ".gitignore").read_text().split()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off" and config["only_build_toc_files"] is True


def test_every_citation_is_in_references_bib():
    keys = set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(encoding="utf-8")))
    texts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "book").glob("*.md")}
    for p in NOTEBOOKS:
        cells = json.loads(p.read_text(encoding="utf-8"))["cells"]
        texts[p.name] = "\n".join("".join(c["source"]) for c in cells)
    missing = {(name, key.strip()) for name, text in texts.items()
               for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text) for key in group.split(",")
               if key.strip() not in keys}
    assert not missing, f"citation keys missing from book/references.bib: {sorted(missing)}"
