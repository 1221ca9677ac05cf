"""No stale numbers in the chapters' prose: a number a run produces reaches the Markdown through myst-nb `glue`.

A decimal (0.75, 60.5) or a percentage (85 %) in a chapter's Markdown must be one of:
- glued: inside a {glue:text}`name` role (the number is then written by the run);
- a paper's number: in a sentence that cites its source (authors "et al.", a {cite} role, "the paper");
- a literal of the chapter's own code cells (a parameter or constant the prose restates, e.g. threshold = 0.33);
- in the chapter's list below, with the reason it cannot change from run to run (a generator constant, ...).
Everything else is a number from some earlier run, and fails here. Math ($...$) and code spans are not prose.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: numbers that are fixed by design, per chapter, each with where it is fixed
FIXED = {
    "00_faces": {
        "85%": "generator: prototype AUs show with probability 0.85 (faces/generator.py)",
        "35%": "generator: the richer codebook's extra AUs show with probability 0.35",
        "1.5%": "generator: any other AU slips in with probability 0.015",
        "30%": "generator: an AU's ground-truth pixels moved by more than 30% of its peak displacement",
        "90%": "the realism bar the generator is held to (MediaPipe detection rate)",
    },
    "01_au_lrp": {
        "0.01": "the paper's SGD learning rate (Rieger et al. 2020, Sect. 2.2), in the list describing its pipeline",
        "0.95": "the paper's SGD momentum (Rieger et al. 2020, Sect. 2.2)",
        "0.5": "the paper's thresholds: sigmoid > 0.5, 'mu hardly exceeds 0.5' (Rieger et al. 2020, Sect. 2.2, 3.2)",
        "7%": "faces/cue.py: the shortcut mark's strip height (a design constant of the cue)",
    },
    "02_face_game": {
        "0.35": "game/players.py PlayerModel.skill_min", "0.9": "PlayerModel.skill_max",
        "0.25": "PlayerModel.look", "0.6": "PlayerModel.explore",
    },
    "03_landmark_ig": {
        "1%": "the completeness tolerance the chapter sets for choosing the integration rule",
        "0.6": "landmark_ig.LEARNT_NOTHING: the balanced accuracy at or below which a net's ranking is left out",
    },
    "12_au_emotion_codebooks": {
        "0.85": "generator: prototype AUs show with probability 0.85", "85%": "the same generator constant",
        "0.35": "generator: seed 004's extra AUs show with probability 0.35", "35%": "the same generator constant",
        "0.015": "generator: any other AU slips in with probability 0.015",
    },
}

CITED = re.compile(r"et al\.|\{cite|\bthe paper|\bthe papers|\bpaper's|\bpapers'|\bseed 00\d", re.I)
NUMBER = re.compile(r"(?<![\w.$])(\d+(?:\.\d+)?\s?%|\d+\.\d+)(?![\w])")


def _drop_code_blocks(markdown: str) -> str:
    """Drop the content of fenced code blocks (```bash, ```python, ~~~ ...), keep the prose inside directive fences
    (```{exercise}, ```{admonition}, ...); fences may nest."""
    out, stack = [], []
    for line in markdown.split("\n"):
        m = re.match(r"^\s*(`{3,}|~{3,}|:{3,})(.*)$", line)
        if m:
            info = m.group(2).strip()
            if info:                                     # an opening fence
                stack.append("keep" if info.startswith("{") and not info.startswith("{code") else "drop")
            elif stack:                                  # a bare fence closes the innermost block
                stack.pop()
            continue
        if "drop" not in stack:
            out.append(line)
    return "\n".join(out)


def _prose(markdown: str) -> str:
    """Markdown without what is not prose: fenced code, math, code spans, glue roles, links' targets."""
    text = _drop_code_blocks(markdown)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\{glue(?::\w+)?\}`[^`]*`", " GLUED ", text)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)               # other roles ({term}, {cite}, ...) keep no number
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$[^$]*\$", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def _sentences(text: str) -> list[str]:
    """Sentences (and list items, table rows, headings) of the prose."""
    out = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[*-]|\d+\.|\||#))", text):
        out += re.split(r"(?<=[.!?])\s+(?=[A-Z*(])", block.replace("\n", " "))
    return [s for s in out if s.strip()]


def _code_literals(nb: dict) -> set[str]:
    found = set()
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            found.update(re.findall(r"(?<![\w.])\d+\.\d+|(?<![\w.])\d+", "".join(c["source"])))
    return found


def _canonical(num: str) -> str:
    return num.replace(" ", "")


def unglued_numbers(nb: dict, chapter: str) -> list[str]:
    """The run-dependent-looking numbers of a notebook's Markdown that are neither glued, cited, code literals,
    nor listed in FIXED (as 'number: sentence')."""
    fixed = FIXED.get(chapter, {})
    literals = _code_literals(nb)
    bad = []
    for c in nb["cells"]:
        if c["cell_type"] != "markdown":
            continue
        for sentence in _sentences(_prose("".join(c["source"]))):
            if CITED.search(sentence):
                continue
            for num in NUMBER.findall(sentence):
                n = _canonical(num)
                if n in fixed or n.rstrip("%") in literals:
                    continue
                bad.append(f"{n}: {sentence.strip()[:160]}")
    return bad


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_unglued_run_numbers_in_prose(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = unglued_numbers(nb, path.stem)
    assert not bad, (f"{path.name}: numbers in the prose that a run produces must come through myst-nb glue "
                     "({glue:text}`name:.2f`), or be cited / listed in FIXED with their reason:\n  " + "\n  ".join(bad))


def _nb(*markdown, code=""):
    return dict(cells=[dict(cell_type="code", source=code)] + [dict(cell_type="markdown", source=m) for m in markdown])


def test_the_check_tells_run_numbers_from_fixed_ones():
    assert unglued_numbers(_nb("Our model reaches 0.73 here."), "x") == ["0.73: Our model reaches 0.73 here."]
    assert unglued_numbers(_nb("Accuracy fell from 65.0 % to 60.5 %."), "x") == [
        "65.0%: Accuracy fell from 65.0 % to 60.5 %.", "60.5%: Accuracy fell from 65.0 % to 60.5 %."]
    assert unglued_numbers(_nb("Our model reaches {glue:text}`att:.2f`."), "x") == []
    assert unglued_numbers(_nb("Belharbi et al. report 0.85 on RAF-DB."), "x") == []
    assert unglued_numbers(_nb("We keep tries scoring 0.33 or more."), "x", ) != []
    assert unglued_numbers(_nb("We keep tries scoring 0.33 or more.", code="threshold = 0.33"), "x") == []
    assert unglued_numbers(_nb("With $\\lambda = 0.5$ and `lr=0.01`."), "x") == []
    assert unglued_numbers(_nb("Prototype AUs show on 85% of faces."), "00_faces") == []
    assert unglued_numbers(_nb("```{exercise} Try\nRun it:\n```bash\nrun -p x 0.3\n```\nThen 0.42 appears.\n```"),
                           "x") == ["0.42: Run it: Then 0.42 appears."]      # code dropped, directive prose kept
    # a paper sentence does not cover the next sentence's measured number
    assert len(unglued_numbers(_nb("The paper reports 0.85. Ours is 0.75."), "x")) == 1
