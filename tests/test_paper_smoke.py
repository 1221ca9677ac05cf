"""The paper preset, proven: `preset="paper-smoke"` keeps every shape of the paper preset (image size, folds,
seeds, grids, methods) and shrinks only counts and epochs; every chapter runs through it (issue 15)."""

from __future__ import annotations

import importlib
import json

import pytest

from conftest import ROOT, existing_chapters
from facexplain import book

STUDIES = {
    "00_faces": "faces", "01_au_lrp": "au_lrp", "02_face_game": "face_game", "03_landmark_ig": "landmark_ig",
    "04_au_guided_fer": "au_guided_fer", "10_explainers_compared": "explainers_compared",
    "11_shortcuts": "shortcuts", "12_au_emotion_codebooks": "codebooks",
}
# what a smoke run may shrink: sizes of samples, epochs, integration steps -- never a shape of the paper's design
SHRINKABLE = {"n_faces", "n_shifted", "n_realism", "epochs", "n_sequences", "ig_steps", "ig_samples", "n_train",
              "n_test", "n_mediapipe", "n_study_seeds", "n_per_au", "n_per_class", "n_sanity", "widget_faces",
              "n_explain", "n_calibration", "n_detector_faces", "max_per_au", "train_faces", "train_epochs",
              "n_players", "detector_epochs", "fer_epochs"}


def _flat(cfg: dict) -> dict:
    """Settings with dataclass values (e.g. chapter 11's cfg.sweep) spread into their fields."""
    from dataclasses import asdict, is_dataclass
    out = {}
    for k, v in cfg.items():
        out.update({f"{k}.{f}": w for f, w in asdict(v).items()} if is_dataclass(v) else {k: v})
    return out


def _study(chapter: str):
    return importlib.import_module(f"facexplain.studies.{STUDIES[chapter]}")


@pytest.mark.parametrize("chapter", sorted(STUDIES))
def test_paper_smoke_keeps_the_paper_shapes(chapter):
    study = _study(chapter)
    paper, smoke = _flat(study.settings("paper")), _flat(study.settings("paper-smoke"))
    changed = {k for k in paper if k != "preset" and paper[k] != smoke[k]}
    wrong = sorted(k for k in changed if k.split(".")[-1] not in SHRINKABLE)
    assert not wrong, f"{chapter}: paper-smoke changes {wrong}, not only sizes"
    assert changed, f"{chapter}: paper-smoke shrinks nothing"
    for k in changed:
        if isinstance(paper[k], (int, float)) and not isinstance(paper[k], bool) and smoke[k] is not None:
            assert smoke[k] <= paper[k], f"{chapter}: paper-smoke {k}={smoke[k]} is larger than paper's {paper[k]}"


# 03 is left out of the chapter runs: its paper grid stays whole (720 top-k nets and 720 SVM fits over 10 seeds at the
# paper's architecture tables); run once on 2026-11-30 it finished without error in 33 min on the shared 2-core machine
# (13 min of CPU time), too long for `make test` (book/running.md). Its settings are checked above.
SLOW_SMOKE = {"03_landmark_ig"}
SMOKE = [c for c in existing_chapters() if c.name in STUDIES and c.name not in SLOW_SMOKE]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", SMOKE, ids=[c.name for c in SMOKE])
def test_every_chapter_runs_the_paper_code_paths(chapter, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper-smoke")
    results = out / "results" / chapter.name
    params = book.split_parameters([chapter], {"seed": 0, "preset": "paper-smoke", "results_dir": str(results)})
    book.execute(chapter, out / "chapters", params[chapter.name], progress=False, cwd=ROOT)
    used = json.loads((results / "params.json").read_text())
    assert used["preset"] == "paper-smoke"
