"""Structure of the kernel-free browser widget: nested Stacks, one jslink per (control, stack) pair, every
combination of control values reachable, views converted to widgets."""

from __future__ import annotations

import ipywidgets as widgets
from ipywidgets.widgets.widget_link import Link
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from facexplain.viz import browser, image_to_widget, use_book_style  # noqa: E402


def _links(box):
    return [w for w in box._facexplain_links if isinstance(w, Link)]


def test_one_control_one_stack():
    views = {(k,): np.full((8, 8), i / 3) for i, k in enumerate("abc")}
    box = browser(views, {"letter": list("abc")})
    (hbox, stack) = box.children
    assert isinstance(stack, widgets.Stack) and len(stack.children) == 3
    assert [type(c) for c in hbox.children] == [widgets.Dropdown]
    (link,) = _links(box)
    assert link.source == (hbox.children[0], "index") and link.target == (stack, "selected_index")


def test_bare_keys_accepted_for_one_control():
    box = browser({"x": "<b>x</b>", "y": "<b>y</b>"}, {"v": ["x", "y"]})
    assert [c.value for c in box.children[1].children] == ["<b>x</b>", "<b>y</b>"]


def test_nested_stacks_and_links_for_three_controls():
    controls = {"au": [1, 2], "face": [0, 1, 2], "method": ["lrp", "ig"]}
    views = {(a, f, m): f"{a}-{f}-{m}" for a in controls["au"] for f in controls["face"] for m in controls["method"]}
    box = browser(views, controls, sliders=["face"])
    hbox, outer = box.children
    au, face, method = hbox.children
    assert isinstance(au, widgets.Dropdown) and isinstance(face, widgets.SelectionSlider)
    assert isinstance(method, widgets.Dropdown)
    assert len(outer.children) == 2 and all(len(s.children) == 3 for s in outer.children)
    assert all(len(s.children) == 2 for mid in outer.children for s in mid.children)
    links = _links(box)
    assert len(links) == 1 + 2 + 2 * 3        # one per stack: depth 0, 1 and 2
    by_control = {id(c): sum(1 for link in links if link.source[0] is c) for c in (au, face, method)}
    assert by_control == {id(au): 1, id(face): 2, id(method): 6}
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in links)
    # following the stacks by index reaches the view of every combination
    for i, a in enumerate(controls["au"]):
        for j, f in enumerate(controls["face"]):
            for k, m in enumerate(controls["method"]):
                assert outer.children[i].children[j].children[k].value == f"{a}-{f}-{m}"


def test_missing_combination_shows_placeholder():
    box = browser({("a", 0): "A0"}, {"k": ["a", "b"], "i": [0]}, missing="none")
    outer = box.children[1]
    assert outer.children[1].children[0].value == "none"


def test_bad_keys_and_controls_are_errors():
    with pytest.raises(KeyError, match="do not match"):
        browser({("z",): "?"}, {"k": ["a"]})
    with pytest.raises(ValueError, match="no options"):
        browser({}, {"k": []})
    with pytest.raises(ValueError, match="not controls"):
        browser({("a",): "?"}, {"k": ["a"]}, sliders=["nope"])


def test_title_comes_first():
    box = browser({("a",): "A"}, {"k": ["a"]}, title="Pick")
    assert isinstance(box.children[0], widgets.HTML) and "Pick" in box.children[0].value


def test_image_to_widget_kinds():
    import matplotlib.pyplot as plt

    big = image_to_widget(np.random.default_rng(0).random((600, 300)))
    assert isinstance(big, widgets.Image) and big.value[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    import io
    assert max(Image.open(io.BytesIO(big.value)).size) == 480      # downscaled to the default max side
    rgb = image_to_widget(np.zeros((10, 12, 3), dtype=np.uint8))
    assert Image.open(io.BytesIO(rgb.value)).size == (12, 10)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1])
    assert isinstance(image_to_widget(fig, dpi=50), widgets.Image)
    assert fig.number not in plt.get_fignums(), "the figure was not closed"
    assert bytes(image_to_widget(rgb.value).value) == bytes(rgb.value)
    assert isinstance(image_to_widget("<i>x</i>"), widgets.HTML)
    w = widgets.Label("x")
    assert image_to_widget(w) is w
    with pytest.raises(TypeError, match="cannot show"):
        image_to_widget(object())


def test_book_style_applies():
    use_book_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
