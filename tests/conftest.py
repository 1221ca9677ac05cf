"""Shared fixtures: chapter notebooks executed once per test session on small parameters, and the book built
from those executed copies (used by test_notebooks.py and test_browser.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from facexplain import book

ROOT = Path(book.repo_root())

# Small parameters per chapter, so that `make test` stays quick. Every chapter also gets seed=0, preset="cpu"
# and a results_dir in the test's temp folder. A name the chapter does not declare fails the test.
# Chapter authors: add or tune your own entry (smaller is better for CI's 90 minutes).
SMALL_PARAMS: dict[str, dict] = {
    "00_faces": {"n_faces": 40, "n_realism": 16},
    "02_face_game": {"n_players": 4, "n_tries": 3, "n_train": 300, "n_test": 100, "n_study_seeds": 1},
    "03_landmark_ig": {"n_sequences": 96, "n_frames": 4, "epochs": 4, "n_seeds": 2, "ks": [468, 64, 16],
                       "ig_samples": 12, "ig_steps": 16},
    "01_au_lrp": {"n_faces": 160, "n_shifted": 60, "epochs": 2, "max_per_au": 5, "n_ranks": 2},
    "04_au_guided_fer": {"n_faces": 160, "epochs": 2, "lambdas": [0, 4], "cam_methods": ["cam", "gradcam"], "n_seeds": 2,
                         "faces_per_emotion": 1},
    "10_explainers_compared": {"train_faces": 160, "train_epochs": 2, "n_per_au": 1, "n_per_class": 1, "n_sanity": 2, "widget_faces": 1, "sanity_methods": ["lrp.epsilon_plus_flat", "gradient", "gradcam", "attention"]},
    "11_shortcuts": {"strengths": [0.0, 0.9], "n_faces": 120, "image_size": 48, "epochs": 1, "n_explain": 1, "methods": ["gradient", "gradcam", "lrp.epsilon_plus_flat"]},
    "12_au_emotion_codebooks": {"n_faces": 160, "epochs": 2, "n_calibration": 300, "n_players": 8,
                                "n_detector_faces": 120, "other_methods": ["attention"]},
}


def pytest_collection_modifyitems(items):
    """Tests that execute chapters or build the book (they use the `executed` or `built_book` fixture) are slow."""
    for item in items:
        if {"executed", "built_book"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_resnet():
    """Factory of small, seeded, untrained ResNet-18s in eval mode (the explainers' and metrics' unit tests)."""
    import torch

    from facexplain.models.resnet import small_resnet18

    def make(n_classes: int, widths=(4, 4, 8, 8), seed: int = 0):
        torch.manual_seed(seed)
        return small_resnet18(n_classes, widths=widths).eval()
    return make


def existing_chapters() -> list[book.Chapter]:
    """Toc chapters whose source notebook exists (the others are still being written)."""
    return [c for c in book.chapters(ROOT) if c.exists]


class ExecutedChapters:
    """Executes a chapter with papermill on first request and remembers the result (or the error)."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.results = {}

    def params(self, chapter: book.Chapter) -> dict:
        given = {"seed": 0, "preset": "cpu", "results_dir": str(self.out_dir.parent / "results" / chapter.name)}
        given.update(SMALL_PARAMS.get(chapter.name, {}))
        return book.split_parameters([chapter], given)[chapter.name]

    def __call__(self, name: str) -> Path:
        if name not in self.results:
            chapter = next(c for c in existing_chapters() if c.name == name)
            try:
                self.results[name] = book.execute(chapter, self.out_dir, self.params(chapter), progress=False)
            except Exception as err:  # remembered, so other tests that need this chapter fail fast
                self.results[name] = err
        result = self.results[name]
        if isinstance(result, Exception):
            pytest.fail(f"chapter {name} did not execute: {result}", pytrace=False)
        return result


@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> ExecutedChapters:
    """Call executed(name) -> path of the executed copy of notebooks/<name>.ipynb (small parameters)."""
    return ExecutedChapters(tmp_path_factory.mktemp("run") / "chapters")


@pytest.fixture(scope="session")
def built_book(executed, tmp_path_factory) -> Path:
    """The book built (jupyter-book, no execution) from the test session's executed chapters: the html folder."""
    for chapter in existing_chapters():
        executed(chapter.name)
    site = book.stage(tmp_path_factory.mktemp("site"), executed.out_dir, ROOT)
    index = book.build(site)
    return index.parent


def chromium_available() -> bool:
    return bool(shutil.which("chromium") or Path("/usr/bin/chromium").exists()) and Path("/usr/bin/chromedriver").exists()


def chromium_driver(flags: list[str]):
    """Debian's headless Chromium under selenium with the given flags, a fresh profile, and the browser console and
    network (performance) logs kept; fails the test with the install command when Chromium is missing."""
    if not chromium_available():
        pytest.fail("Chromium / chromedriver missing: `apt-get install -y chromium chromium-driver` "
                    "(.ci/run and `make test` do this)", pytrace=False)
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in flags + [f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory):
    """A 2-process LocalCluster (one thread each) whose workers use a model cache of their own (their environment is
    set while they start; the test process keeps its own); started once per session (a start costs tens of seconds)
    and shared by the tests that compare serial and Dask runs."""
    from facexplain import grid

    grid.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEXPLAIN_CACHE", str(tmp_path_factory.mktemp("cluster-cache")))
        mp.setenv("PYTHONPATH", os.pathsep.join([str(Path(grid.__file__).parents[1]),
                                                 os.environ.get("PYTHONPATH", "")]))
        c = grid.client("local", n_workers=2)
    assert len(c.scheduler_info()["workers"]) == 2
    yield c
    grid.close()
