"""Kernel-free widgets: precomputed views in (nested) Stacks, switched by controls linked with jslink.

In the static book there is no kernel, so `interact`/`observe` callbacks never run. Here every view is
computed up front and stored in the widget state; the controls only change a Stack's `selected_index`, which
`jslink` does in the browser. Example::

    views = {(au, i): face_figure(au, i) for au in aus for i in range(4)}
    browser(views, {"AU": aus, "face": list(range(4))})

Keep views small (modest PNGs): each one is embedded in the page.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np

DEFAULT_MAX_SIDE = 480   # pixels: longest side of an image view unless told otherwise


def _png_from_array(array: np.ndarray, max_side: int | None) -> bytes:
    """Encode a 2-D (grey) or HxWx3/4 array as PNG; floats are taken in [0, 1]; downscaled to max_side."""
    from PIL import Image

    a = np.asarray(array)
    if a.dtype != np.uint8:
        a = np.clip(np.nan_to_num(a.astype(float)), 0.0, 1.0)
        a = (a * 255 + 0.5).astype(np.uint8)
    img = Image.fromarray(a.squeeze() if a.ndim == 3 and a.shape[2] == 1 else a)
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _png_from_figure(fig, dpi: int) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def image_to_widget(image: Any, *, width: int | None = None, dpi: int = 80,
                    max_side: int | None = DEFAULT_MAX_SIDE, scale: float | None = None) -> widgets.Widget:
    """Turn one view into a widget: numpy array / matplotlib figure / PNG bytes -> Image; str -> HTML;
    an ipywidgets widget is returned as it is. Figures are rendered at `dpi` and closed (no double display).

    Parameters
    ----------
    image : numpy.ndarray, matplotlib.figure.Figure, bytes, str or ipywidgets.Widget
        The view.
    width : int, optional
        Display width in CSS pixels.
    dpi : int
        Resolution a figure is rendered at.
    max_side : int, optional
        Arrays are downscaled so that their longest side is at most this.
    scale : float, optional
        Display the image `scale` times its pixel width (the browser enlarges it; the page stays as light).

    Returns
    -------
    ipywidgets.Widget
    """
    if isinstance(image, widgets.Widget):
        return image
    if isinstance(image, str):
        return widgets.HTML(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        png = bytes(image)
    elif hasattr(image, "savefig"):
        png = _png_from_figure(image, dpi)
    elif isinstance(image, np.ndarray) or hasattr(image, "__array__"):
        png = _png_from_array(np.asarray(image), max_side)
    else:
        raise TypeError(f"cannot show {type(image).__name__} as a view: give a numpy array, a matplotlib "
                        "figure, PNG bytes, an HTML string or an ipywidgets widget")
    if scale and not width:
        from PIL import Image
        width = round(Image.open(io.BytesIO(png)).size[0] * float(scale))
    layout = widgets.Layout(width=f"{width}px") if width else widgets.Layout()
    return widgets.Image(value=png, format="png", layout=layout)


def _control(name: str, options: Sequence, kind: str) -> widgets.Widget:
    """A Dropdown, or a SelectionSlider for ordered options (kind='slider'), showing str(option)."""
    labels = [(str(o), i) for i, o in enumerate(options)]
    style = {"description_width": "initial"}
    if kind == "slider":
        return widgets.SelectionSlider(options=labels, value=0, description=name, style=style,
                                       continuous_update=True, readout=True)
    if kind == "dropdown":
        return widgets.Dropdown(options=labels, value=0, description=name, style=style)
    raise ValueError(f"unknown control kind {kind!r} for {name!r}: use 'dropdown' or 'slider'")


def browser(views: Mapping[tuple, Any], controls: Mapping[str, Sequence], *,
            sliders: Sequence[str] = (), missing: str = "<i>no view for this choice</i>",
            title: str | None = None, initial: Mapping[str, Any] | None = None, **image_kwargs) -> widgets.VBox:
    """Browse precomputed views with controls that work without a kernel.

    The first control drives the outer Stack; control k is jslink'd to every Stack at depth k, so every
    combination can be reached in the static HTML. Combinations missing from `views` show `missing`.

    Parameters
    ----------
    views : mapping of tuple to view
        One view per combination of control values (a tuple with one value per control, in the order of
        `controls`; with one control a bare value is accepted). A view is anything :func:`image_to_widget` takes.
    controls : mapping of str to sequence
        Ordered control name -> its options.
    sliders : sequence of str
        Controls shown as SelectionSliders (ordered options); the others are Dropdowns.
    missing : str
        HTML shown for a combination without a view.
    title : str, optional
        Bold text above the controls.
    initial : mapping of str to option, optional
        The option a control opens at (default: each control's first option).
    **image_kwargs
        Passed to :func:`image_to_widget` (``dpi``, ``width``, ``scale``, ``max_side``).

    Returns
    -------
    ipywidgets.VBox
        ``VBox([title?, HBox(controls), outer Stack])``.

    Examples
    --------
    >>> views = {(au, i): face_figure(au, i) for au in aus for i in range(4)}   # doctest: +SKIP
    >>> browser(views, {"AU": aus, "face": list(range(4))}, sliders=["face"])  # doctest: +SKIP
    """
    names = list(controls)
    if not names:
        raise ValueError("browser needs at least one control")
    options = [list(controls[n]) for n in names]
    for n, opts in zip(names, options):
        if not opts:
            raise ValueError(f"control {n!r} has no options")
    unknown = [n for n in sliders if n not in controls]
    if unknown:
        raise ValueError(f"sliders {unknown} are not controls ({names})")
    keyed = {(k if isinstance(k, tuple) else (k,)): v for k, v in views.items()}
    bad = [k for k in keyed if len(k) != len(names) or any(v not in o for v, o in zip(k, options))]
    if bad:
        raise KeyError(f"view keys {bad[:3]} do not match the controls {dict(zip(names, options))}")

    initial = dict(initial or {})
    unknown = [n for n in initial if n not in controls]
    if unknown:
        raise ValueError(f"initial names {unknown} that are not controls ({names})")
    start = []
    for n, opts in zip(names, options):
        if n in initial and initial[n] not in opts:
            raise ValueError(f"initial {n}={initial[n]!r} is not one of its options {opts}")
        start.append(opts.index(initial[n]) if n in initial else 0)
    ctrls = [_control(n, o, "slider" if n in sliders else "dropdown") for n, o in zip(names, options)]
    for ctrl, index in zip(ctrls, start):
        ctrl.value = index
    stacks_at_depth: list[list[widgets.Stack]] = [[] for _ in names]

    def level(depth: int, prefix: tuple) -> widgets.Stack:
        if depth == len(names) - 1:
            children = [image_to_widget(keyed[prefix + (o,)], **image_kwargs) if prefix + (o,) in keyed
                        else widgets.HTML(missing) for o in options[depth]]
        else:
            children = [level(depth + 1, prefix + (o,)) for o in options[depth]]
        stack = widgets.Stack(children=children, selected_index=start[depth])
        stacks_at_depth[depth].append(stack)
        return stack

    outer = level(0, ())
    links = [widgets.jslink((ctrl, "index"), (stack, "selected_index"))
             for ctrl, stacks in zip(ctrls, stacks_at_depth) for stack in stacks]
    parts = ([widgets.HTML(f"<b>{title}</b>")] if title else []) + [widgets.HBox(ctrls), outer]
    box = widgets.VBox(parts)
    box._facexplain_links = links   # keep references (and let tests inspect them)
    box._facexplain_controls = ctrls
    return box
