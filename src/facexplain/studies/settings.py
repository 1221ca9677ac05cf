"""One resolver for every chapter's parameters: `settings(preset, **given)` in each study module goes through here.

A chapter declares each parameter once (`Param`: kind, range, choices, default) and its presets (the values a
preset fills in for parameters left at None). The resolver

- rejects a name the chapter does not have (listing the ones it has),
- fills None from the preset, then checks every value's type and range, naming the parameter on failure,
- resolves `device` ("auto" -> cuda or cpu),

so a notebook's first cell after its parameters fails at once on a bad value, before any data or model work.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from ..config import PRESETS as PRESET_NAMES, resolve_device


@dataclass(frozen=True)
class Param:
    """One chapter parameter. kind: "int", "float", "bool", "str", "ints", "floats", "strs", "text" (free string),
    "device", "path" or "any"; low/high bound numbers (and list items); choices limit strings (and list items), or
    name words a number parameter also takes (k_folds: a number or "loso");
    none=True lets None through after the preset (it means something, e.g. "no cross-domain set")."""

    kind: str
    default: object = None
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    none: bool = False
    low_open: bool = False

    def check(self, name: str, value):
        if value is None:
            if self.none:
                return None
            raise ValueError(f"{name} is None but needs a value: give one (or use a preset that fills it)")
        k = self.kind
        if k in ("int", "float") and self.choices is not None and value in self.choices:
            return value                     # a named setting beside the numbers, e.g. k_folds="loso"
        if k == "int":
            return checks.integer(name, value, self.low, self.high)
        if k == "float":
            return checks.real(name, value, self.low, self.high, self.low_open)
        if k == "bool":
            return checks.flag(name, value)
        if k in ("str", "text"):
            return checks.text(name, value, self.choices)
        if k in ("ints", "floats", "strs"):
            item = Param(k[:-1] if k != "strs" else "str", low=self.low, high=self.high, choices=self.choices,
                         low_open=self.low_open)
            return checks.listed(name, value, item.check)
        if k == "device":
            return resolve_device(checks.text(name, value))
        if k == "path":
            if not isinstance(value, str) and not hasattr(value, "__fspath__"):
                raise ValueError(f"{name} must be a folder path; got {value!r}")
            return str(value)
        if k == "any":
            return value
        raise ValueError(f"unknown parameter kind {k!r} for {name}")   # a chapter's declaration is wrong


#: Parameters every chapter has (see DESIGN.md's conventions); a chapter may narrow `dataset`'s choices.
COMMON = {
    "seed": Param("int", 0, low=0),
    "device": Param("device", "auto"),
    "dataset": Param("str", "synthetic"),
    "data_dir": Param("path", None, none=True),
    "results_dir": Param("path", "results"),
    "preset": Param("str", "cpu", choices=PRESET_NAMES),
    "progress": Param("bool", False),                # tqdm bars in the long loops
    "scheduler": Param("text", None, none=True),     # facexplain.grid: None (serial or $DASK_SCHEDULER_ADDRESS), "local", an address
}


class Settings(dict):
    """A chapter's resolved parameters: cfg["n_faces"] or cfg.n_faces."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no chapter parameter {name!r}: it has {sorted(self)}") from None


def resolve(chapter: str, params: dict[str, Param], presets: dict[str, dict], preset: str, given: dict) -> Settings:
    """The chapter's parameters: given values, None filled from `presets[preset]`, each checked by its Param."""
    spec = {**COMMON, **params}
    preset = spec["preset"].check("preset", preset)
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {chapter}: it has {sorted(spec)}")
    # "paper-smoke": the paper preset's shapes (image size, folds, seeds, grids) with the chapter's tiny counts
    fill = {**presets["paper"], **presets.get("paper-smoke", {})} if preset == "paper-smoke" else presets[preset]
    out = Settings(preset=preset)
    for name, p in spec.items():
        if name == "preset":
            continue
        value = given.get(name, p.default)
        if value is None and name in fill:
            value = fill[name]
        out[name] = p.check(name, value)
    return out


def from_notebook(study, namespace: dict) -> Settings:
    """study.settings(...) with every parameter of the chapter found in a notebook's namespace (`globals()`), so
    the notebook's first cell checks all of them in one call."""
    names = set(COMMON) | set(study.PARAMETERS)
    return study.settings(**{k: namespace[k] for k in names if k in namespace})


def start(study, namespace: dict) -> Settings:
    """A chapter's set-up in one call: every parameter checked (from_notebook), everything seeded, the book's figure
    style, and results_dir created with the run's parameters in params.json (cfg.out: its Path). A study that sets
    TORCH_THREADS (e.g. 1 for nets too small to split across cores) gets that many torch threads in the kernel, and one
    that sets FIGURE_DPI (a page heavy with photo-like figures) draws its figures at that resolution (default 90)."""
    from ..config import results_path, seed_everything
    from ..viz.style import use_book_style

    cfg = from_notebook(study, namespace)
    threads = getattr(study, "TORCH_THREADS", None)
    if threads is not None:
        import torch
        torch.set_num_threads(int(threads))
    seed_everything(cfg.seed)
    use_book_style(dpi=getattr(study, "FIGURE_DPI", 90))
    cfg["out"] = results_path(cfg.results_dir, dict(cfg))
    return cfg


__all__ = ["COMMON", "Param", "Settings", "from_notebook", "resolve", "start"]
