"""Every chapter runs with papermill on small parameters; nbval then re-runs the executed copy and checks that
the cells tagged `nbval-check-output` show the same again (same parameters -> same tables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import existing_chapters

CHAPTERS = [c.name for c in existing_chapters()]


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_executes(executed, name):
    path = executed(name)
    nb = json.loads(path.read_text())
    errors = [o for cell in nb["cells"] for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: error outputs in the executed notebook"
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected, f"{name}: papermill injected no parameters"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_reproduces_its_tables(executed, name):
    path = executed(name)
    nb = json.loads(path.read_text())
    checked = [c for c in nb["cells"]
               if c["cell_type"] == "code" and "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    assert checked, f"{name}: no cell is tagged 'nbval-check-output' (tag the cells that show key tables)"
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "--no-header", "--rootdir", str(path.parent), str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"nbval re-run of {name} differs or fails:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
