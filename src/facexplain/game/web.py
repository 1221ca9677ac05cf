"""The Face Game in the static book, with no kernel: what the browser page needs, exported at build time.

The page `book/face_game_live.md` runs MediaPipe Face Mesh inside the reader's browser (the npm package
`@mediapipe/face_mesh`, installed at build time and served from the book's own static files) and turns the 468
points into AUs with the same model as `facexplain.faces.read_aus`. This module writes what the page's script
(`book/_static/game/facegame.js`) reads:

- `face_mesh/`: the Face Mesh script, its SIMD wasm binary and its packed model assets (from npm);
- `game_data.js`: the AU reader's model (declarative: indices, weights, thresholds), the phrase tables of
  `facexplain.game.instructions`, and the chapter's targets with their AU sets;
- `targets/NAME.png`: the target faces.

`faces.apply_model` is the reference implementation of what the script computes, in numpy; the tests hold the two
equal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: The npm release whose Face Mesh runs. The newer 0.4.1657299874 fails on load in every browser tried
#: (``RET_CHECK failure ... options_.has_num_classes()``, google-ai-edge/mediapipe issue 3504); 0.4.1633559619 works.
FACE_MESH = "@mediapipe/face_mesh@0.4.1633559619"
#: Files of the package the page needs. Only the SIMD wasm build: every current browser has wasm SIMD (Chrome and
#: Edge 91+, Firefox 89+, Safari 16.4+), and the non-SIMD twin would add 6 MB; without SIMD the page says so.
FACE_MESH_FILES = ("face_mesh.js", "face_mesh.binarypb", "face_mesh_solution_packed_assets.data",
                   "face_mesh_solution_packed_assets_loader.js", "face_mesh_solution_simd_wasm_bin.js",
                   "face_mesh_solution_simd_wasm_bin.wasm", "face_mesh_solution_simd_wasm_bin.data")
GAME_DIR = "book/_static/game"        # served as _static/game/ (html_static_path = book/_static)
MAX_INSTRUCTIONS = 3                  # instructions shown per try, as in chapter 02 (max_items)
#: Head yaw (degrees, from Face Mesh's face edges at cheek level; facegame.js `yawDegrees`) beyond which the page
#: asks the reader to face the camera instead of scoring: the reader's measurements assume a frontal face.
MAX_YAW_DEGREES = 25


# ------------------------------------------------------------------------------------------ the AU reader model

def reader_model() -> dict:
    """The model of `facexplain.faces.read_aus` as JSON-able numbers (`faces.read_aus_model()`); the page applies it
    with facegame.js `readAus`, the twin of `faces.apply_model`."""
    from ..faces import read_aus_model
    return read_aus_model()


def apply_model(model: dict, landmarks, neutral=None) -> dict[int, float]:
    """AU -> intensity of one face's (468, 2) landmarks under the exported model (faces.apply_model)."""
    from ..faces import apply_model as apply_read_aus
    return apply_read_aus(model, landmarks, neutral)


def decision_margins(model: dict, landmarks, neutral=None) -> dict[int, float]:
    """Per AU of the model: P(present) minus its threshold on these landmarks (> 0: read as present). Small
    margins flip under landmark noise, e.g. between the browser's and Python's Face Mesh."""
    from ..faces.au_reader import presence_probabilities
    head = model["heads"]["template" if neutral is None else "neutral"]
    prob = presence_probabilities(model, landmarks, neutral)
    return {int(a): float(prob[j] - head["threshold"][j]) for j, a in enumerate(model["aus"])}


def read_photo(image, neutral=None) -> dict[int, float]:
    """The Python reading of a photo that the page must match: `faces.read_aus`."""
    from ..faces import read_aus
    return read_aus(image, neutral=neutral)


# ------------------------------------------------------------------------------------------- targets, phrases

def chapter_targets(seed: int = 0) -> dict[str, dict]:
    """Chapter 02's targets with its default parameters (cpu preset): name -> dict(emotion, aus, image, ...)."""
    from ..models.geometric_au import calibrated_detector
    from .targets import choose_targets
    reader = calibrated_detector(1000, seed=seed + 7001, neutral="subject")
    return choose_targets(reader, 6, seed=seed + 2002)


def phrase_tables() -> dict:
    """facexplain.game's phrase tables in JSON form (the page ranks instructions exactly as `game.plan`)."""
    from .instructions import MERGED, PHRASES, REGIONS
    return {"regions": [[name, list(aus)] for name, aus in REGIONS.items()],
            "phrases": {str(a): p for a, p in PHRASES.items()},
            "merged": [[sorted(k), v] for k, v in MERGED.items()]}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)          # served to the world: mkstemp's 0600 would hide it from a web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def game_data(targets: dict[str, dict] | None = None, model: dict | None = None) -> dict:
    """Everything the page reads, as one JSON-able dict (target images referenced by file name)."""
    from ..faces.landmarks import MESH_TO_IBUG68
    targets = chapter_targets() if targets is None else targets
    return {
        "model": reader_model() if model is None else model,
        "phrases": phrase_tables(),
        "max_instructions": MAX_INSTRUCTIONS,
        "max_yaw_degrees": MAX_YAW_DEGREES,
        "face_mesh": FACE_MESH,
        "ibug68": [int(i) for i in MESH_TO_IBUG68],      # for drawing the AU regions (faces.regions._sites)
        "targets": [{"name": name, "emotion": t.get("emotion", name), "aus": sorted(int(a) for a in t["aus"]),
                     "image": f"targets/{name}.png"} for name, t in targets.items()],
    }


def export(dest: Path, targets: dict[str, dict] | None = None, model: dict | None = None) -> Path:
    """Write game_data.js and the target images into `dest` (the game's static folder); returns game_data.js."""
    from PIL import Image
    import io

    dest = Path(dest)
    targets = chapter_targets() if targets is None else targets
    data = game_data(targets, model)
    for name, t in targets.items():
        buf = io.BytesIO()
        Image.fromarray(np.asarray(t["image"]).astype(np.uint8)).save(buf, format="PNG", optimize=True)
        _atomic_write(dest / "targets" / f"{name}.png", buf.getvalue())
    text = "// written by facexplain.game.web.export at build time; do not edit\nwindow.FACEGAME_DATA = " \
           + json.dumps(data, separators=(",", ":")) + ";\n"
    _atomic_write(dest / "game_data.js", text.encode())
    return dest / "game_data.js"


# ---------------------------------------------------------------------------------------------- Face Mesh (npm)

def install_face_mesh(dest: Path, npm_prefix: Path, force: bool = False) -> Path:
    """npm-install FACE_MESH into npm_prefix and copy FACE_MESH_FILES into dest/face_mesh (skipped when the pinned
    version is there); returns that folder."""
    out = Path(dest) / "face_mesh"
    stamp = out / "VERSION"
    if not force and stamp.exists() and stamp.read_text().strip() == FACE_MESH \
            and all((out / f).exists() for f in FACE_MESH_FILES):
        return out
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)")
    prefix = Path(npm_prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"npm install {FACE_MESH} into {prefix}", flush=True)
    subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                    FACE_MESH], check=True)
    package = prefix / "node_modules" / "@mediapipe" / "face_mesh"
    tmp = out.with_name(".face_mesh.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for f in FACE_MESH_FILES + ("package.json",):
        shutil.copy2(package / f, tmp / f)
    (tmp / "LICENSE").write_text("@mediapipe/face_mesh is licensed under the Apache License 2.0 "
                                 "(package.json); see https://www.apache.org/licenses/LICENSE-2.0\n")
    (tmp / "VERSION").write_text(FACE_MESH + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def install(root: Path, force: bool = False) -> Path:
    """Everything the game page needs into root/GAME_DIR: Face Mesh from npm and the exported data."""
    root = Path(root)
    dest = root / GAME_DIR
    install_face_mesh(dest, root / ".build" / "npm", force=force)
    export(dest)
    return dest
