"""The package's layers import downward only (DESIGN.md): faces <- data <- models <- explain <- metrics <- game <- viz
<- studies <- book. Every import statement of every module is read (module top and function bodies alike)."""

import ast
from pathlib import Path

import facexplain

PACKAGE = Path(facexplain.__file__).parent

#: layer of each subpackage / top-level module; a module may import its own layer and those below it.
#: checks, cache, config, images: helpers every layer may use. train sits with the models it trains (and grid, which
#: runs trainings as Dask tasks and imports only cache), the claim checker with the game (whose study checks its
#: claims through it).
LAYERS = {"checks": -1, "cache": -1, "config": -1, "images": -1, "faces": 0, "data": 1, "models": 2, "train": 2,
          "grid": 2,
          "explain": 3, "metrics": 4, "game": 5, "claims": 5, "viz": 6, "studies": 7, "book": 8}
#: known upward imports left to another lane; an entry here is tolerated only while it exists (none left)
PENDING: set[str] = set()
#: anything not named above (e.g. a new top-level module) is treated as sitting above every layer
TOP = max(LAYERS.values()) + 1


def layer_of(parts: tuple[str, ...]) -> int:
    return LAYERS.get(parts[0], TOP) if parts else TOP


def imports(path: Path, package_dir: Path):
    """(line, imported facexplain module parts) for every import of the package in a module, relative or absolute."""
    rel = path.relative_to(package_dir).with_suffix("").parts
    package = rel[:-1] if rel[-1] != "__init__" else rel[:-1]
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                mod = (*base, *(node.module.split(".") if node.module else ()))
                targets = [mod] if node.module else [(*mod, a.name) for a in node.names]
            elif node.module and node.module.split(".")[0] == "facexplain":
                targets = [tuple(node.module.split(".")[1:])]
            else:
                continue
            for t in targets:
                yield node.lineno, t
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "facexplain":
                    yield node.lineno, tuple(a.name.split(".")[1:])


def upward_imports(package_dir: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).with_suffix("").parts
        own = layer_of(rel)
        for line, target in imports(path, package_dir):
            if layer_of(target) > own:
                found.append(f"{'/'.join(rel)}.py:{line} imports {'.'.join(target)} "
                             f"(layer {rel[0]} may not import {target[0]})")
    return found


def test_layers_import_downward_only():
    found = [f for f in upward_imports() if f.split(":")[0] + " imports " + f.split(" imports ")[1].split(" ")[0]
             not in PENDING]
    assert not found, "upward imports:\n" + "\n".join(found)


def test_the_check_sees_relative_absolute_and_lazy_imports(tmp_path):
    """The checker itself: lazy relative and absolute upward imports are caught, downward ones are not."""
    pkg = tmp_path / "facexplain"
    (pkg / "explain").mkdir(parents=True)
    (pkg / "explain" / "x.py").write_text("def f():\n    from ..studies import shared\n    from ..models import fer\n"
                                          "    import facexplain.game.study\n    from . import lrp\n")
    assert upward_imports(pkg) == ["explain/x.py:2 imports studies (layer explain may not import studies)",
                                   "explain/x.py:4 imports game.study (layer explain may not import game)"]
