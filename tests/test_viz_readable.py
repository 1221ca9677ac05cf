"""Figures and widgets a reader can read (issue 14): panel grids instead of strips, text at a readable size, colour
bars on matrix grids, the chance line on the mu chart, widgets that open where the paper looks and say when they
need a kernel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

EMOTIONS = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]


def _px(fig, dpi=90):
    w, h = fig.get_size_inches()
    return w * dpi, h * dpi


def test_accuracy_vs_k_is_a_grid_with_readable_panels():
    from facexplain.viz.landmarks import accuracy_vs_k

    summary = pd.DataFrame([dict(emotion=e, net=n, k=k, acc_mean=0.5, acc_std=0.1) for e in EMOTIONS
                            for n in ("T-EMO", "R-EMO") for k in (468, 64, 16)])
    fig = accuracy_vs_k(summary)
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 6 and len({round(ax.get_position().y0, 3) for ax in axes}) == 2   # two rows of three
    width, height = _px(fig)
    # shown at the text column's ~780 px, every panel keeps more than 150 px of height
    assert height * 780 / width / 2 > 150, (width, height)


def test_mu_chart_draws_the_box_area_as_chance_per_au():
    from facexplain.viz.au_lrp import mu_chart

    rows = [dict(au=a, composite=c, mu=0.3, n=5, region="box", area=area, domain="source")
            for a, area in ((4, 0.05), (6, 0.12)) for c in ("lrp.epsilon_plus_flat", "lrp.epsilon_plus")]
    ax = mu_chart(pd.DataFrame(rows), [4, 6], paper={4: (0.5, 10)})
    chance = [c for c in ax.collections if "chance" in str(c.get_label())]
    assert len(chance) == 1
    ys = sorted({round(float(seg[0][1]), 3) for seg in chance[0].get_segments()})
    assert ys == [0.05, 0.12]
    assert any("chance" in t.get_text() for t in ax.get_legend().get_texts())


def test_matrix_grid_has_one_shared_colour_bar():
    from facexplain.faces import GENERATOR_AUS, codebook_matrix
    from facexplain.viz.matrices import matrix_grid

    books = {n: codebook_matrix(n, tuple(GENERATOR_AUS)) for n in ("emfacs", "seed004")}
    fig = matrix_grid(books, cbar_label="listed")
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "listed"]
    assert len(bars) == 1 and len(fig.axes) == 3
    with pytest.raises(ValueError, match="at least one"):
        matrix_grid({})


def test_sweep_figure_has_one_column_per_model_and_one_legend():
    from facexplain.viz.compare import sweep_figure

    rows = [dict(model=m, strength=s, method=meth, score="F1", score_shortcut_test=0.8, score_clean_test=0.6,
                 mu_box=0.2, mu_truth=0.1, cosine=0.3, mu_cue=s) for m in ("AU detector", "emotion classifier")
            for s in (0.0, 0.9) for meth in ("gradient", "gradcam")]
    fig = sweep_figure(pd.DataFrame(rows))
    assert len(fig.axes) == 10 and len(fig.legends) == 1
    width, _ = _px(fig)
    assert width / 2 > 350            # each column wider than 350 px before the page scales it


def test_game_view_text_is_readable():
    from facexplain.viz.game import _png, game_figure, render_player

    img, lm = render_player(2, {12: 3.0})
    fig = game_figure(img, {6, 12}, img, lm, {12, 4})
    sizes = [t.get_fontsize() for t in fig.texts]
    assert sizes and min(sizes) >= 9
    assert len(_png(fig, dpi=80, colors=64)) < 60_000      # light enough for 30 views on one page


def test_browser_opens_at_the_initial_option_and_checks_it():
    from facexplain.viz.widgets import browser

    views = {(v, th): f"<p>{v} {th}</p>" for v in ("a", "b") for th in (0.0, 0.33, 0.5)}
    box = browser(views, {"view": ["a", "b"], "threshold": [0.0, 0.33, 0.5]}, sliders=["threshold"],
                  initial={"threshold": 0.33})
    view_ctrl, threshold_ctrl = box._facexplain_controls
    assert view_ctrl.value == 0 and threshold_ctrl.value == 1
    outer = box.children[-1]
    assert outer.selected_index == 0 and all(s.selected_index == 1 for s in outer.children)
    with pytest.raises(ValueError, match="not one of its options"):
        browser(views, {"view": ["a", "b"], "threshold": [0.0, 0.33, 0.5]}, initial={"threshold": 0.4})
    with pytest.raises(ValueError, match="not controls"):
        browser(views, {"view": ["a", "b"], "threshold": [0.0, 0.33, 0.5]}, initial={"nope": 1})


def test_image_to_widget_scale_sets_the_display_width():
    from facexplain.viz.widgets import image_to_widget

    w = image_to_widget(np.zeros((20, 40, 3), np.uint8), scale=1.5)
    assert w.layout.width == "60px"


def test_live_game_starts_disabled_with_a_note_and_start_enables_it():
    from facexplain.data import load_dataset
    from facexplain.models.geometric_au import GeometricAUDetector
    from facexplain.viz.game import live_game, render_player

    train = load_dataset("synthetic", n=120, seed=9102)
    det = GeometricAUDetector().fit(train.landmarks, train.au_intensity)
    img, _ = render_player(1, {6: 3.0, 12: 3.0})
    w = live_game({"happiness": (img, {6, 12})}, det)
    note, controls = w.children[0].children
    start, pick, upload, use_photo = controls.children
    toggles = list(w.children[1].children)
    assert "needs a running Python kernel" in note.value
    assert all(c.disabled for c in [pick, upload, use_photo] + toggles)
    start.click()
    assert not any(c.disabled for c in [pick, upload, use_photo] + toggles) and start.disabled
