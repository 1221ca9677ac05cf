"""The chapters' shared settings resolver: every notebook parameter is declared by its study module, presets fill
what is left at None, and a bad name, type or range fails at once, naming the parameter."""

import ast
import importlib
import json
import subprocess
import sys
import time

import pytest

from facexplain.studies import CHAPTERS, settings as resolver

from conftest import ROOT


def study(name):
    return importlib.import_module(f"facexplain.studies.{CHAPTERS[name]}")


def notebook_parameters(name) -> set[str]:
    """Names assigned at the top level of the notebook's `parameters` cell (read as Python, whatever the comments)."""
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_every_notebook_parameter_is_declared_and_checked(name):
    declared = notebook_parameters(name)
    module = study(name)
    assert declared == set(resolver.COMMON) | set(module.PARAMETERS), \
        f"{name}: notebook parameters and {module.__name__}.PARAMETERS differ"
    for preset in ("cpu", "paper"):
        cfg = module.settings(preset, device="cpu")
        assert set(cfg) >= declared and cfg.preset == preset
        plain = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in cfg.items()}
        unused = [k for k, v in module.PRESETS[preset].items() if k not in ("augmentation", "lambdas")
                  and plain[k] != (list(v) if isinstance(v, (list, tuple)) else v)]
        assert not unused, f"{name}: preset values not used: {unused}"


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_unknown_names_and_bad_values_name_the_parameter(name):
    module = study(name)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['emotion'\].*it has"):
        module.settings("cpu", emotion="fear")
    with pytest.raises(ValueError, match="seed must be a whole number"):
        module.settings("cpu", seed="abc")
    with pytest.raises(ValueError, match="preset must be one of"):
        module.settings("gpu")
    ints = [k for k, p in module.PARAMETERS.items() if p.kind == "int" and p.low is not None and p.low >= 1]
    for k in ints:
        with pytest.raises(ValueError, match=f"^{k} must be a whole number"):
            module.settings("cpu", **{k: "notanumber"})
        with pytest.raises(ValueError, match=f"^{k} must be a whole number"):
            module.settings("cpu", **{k: 0})
        with pytest.raises(ValueError, match=f"^{k} must be a whole number"):
            module.settings("cpu", **{k: 2.5})


def test_given_values_win_and_lists_come_as_papermill_text():
    from facexplain.studies import au_lrp, landmark_ig
    cfg = landmark_ig.settings("cpu", n_seeds=5, ks="[64, 16]", augmentation="mirror", device="cpu")
    assert cfg.n_seeds == 5 and cfg.ks == (64, 16) and cfg.augmentation == "mirror"
    assert landmark_ig.settings("cpu").augmentation is None            # "none" means no augmentation
    with pytest.raises(ValueError, match=r"ks\[1\] must be a whole number in \[1, 468\]"):
        landmark_ig.settings("cpu", ks=[64, 1000])
    # k_folds: None = the preset's value (cpu 3, paper leave-one-subject-out), a number, or "loso" explicitly
    assert au_lrp.settings("cpu").k_folds == 3 and au_lrp.settings("paper").k_folds == "loso"
    assert au_lrp.settings("cpu", k_folds="loso").k_folds == "loso" and au_lrp.settings("paper", k_folds=5).k_folds == 5
    with pytest.raises(ValueError, match="k_folds must be a whole number >= 2"):
        au_lrp.settings("cpu", k_folds=1)


def test_chapter_12_reuses_chapter_04s_classifier_settings_under_every_preset():
    from facexplain.studies import au_guided_fer, codebooks, face_game
    for preset in ("cpu", "paper"):
        fer, cb = au_guided_fer.settings(preset), codebooks.settings(preset)
        assert (cb.image_size, cb.n_faces, cb.epochs, cb.lam) == (fer.image_size, fer.n_faces, fer.epochs, fer.lam)
        assert cb.n_calibration == face_game.settings(preset).n_train
    assert codebooks.settings("paper").image_size == 224


@pytest.mark.slow
def test_a_bad_parameter_stops_the_chapter_in_its_first_cell(tmp_path):
    """`-p n_seeds notanumber` on chapter 03 fails within seconds (before any training), naming n_seeds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "facexplain.book", "run", "--only", "03_landmark_ig",
                           "--out", str(tmp_path), "-p", "n_seeds", "notanumber"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    assert proc.returncode != 0
    assert "n_seeds must be a whole number" in proc.stdout + proc.stderr
    assert took < 60, f"the bad parameter was reported after {took:.0f} s"


@pytest.mark.parametrize("options, name", [(dict(image_size="big"), "image_size"), (dict(seed="x"), "seed"),
                                           (dict(n=2.5), "n"), (dict(n=0), "n"), (dict(n_frames=-1), "n_frames")])
def test_generated_data_names_a_bad_argument(options, name):
    from facexplain.data import load_dataset
    with pytest.raises(ValueError, match=f"^{name} must be a whole number >= "):
        load_dataset("synthetic", **{"n": 4, **options})


def test_start_gives_a_study_its_torch_threads_and_leaves_others_alone(tmp_path, monkeypatch):
    import torch
    from facexplain.studies import faces, landmark_ig

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        resolver.start(landmark_ig, dict(results_dir=str(tmp_path / "a")))
        assert torch.get_num_threads() == landmark_ig.TORCH_THREADS == 1
        torch.set_num_threads(2)
        assert getattr(faces, "TORCH_THREADS", None) is None
        resolver.start(faces, dict(results_dir=str(tmp_path / "b")))
        assert torch.get_num_threads() == 2
        import matplotlib as mpl
        assert mpl.rcParams["figure.dpi"] == faces.FIGURE_DPI == 72          # chapter 00's photo-heavy page
        resolver.start(landmark_ig, dict(results_dir=str(tmp_path / "c")))
        assert mpl.rcParams["figure.dpi"] == 90                              # the book's default
    finally:
        torch.set_num_threads(before)
