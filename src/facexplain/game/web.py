"""The Face Game in the static book, with no kernel: what the browser page needs, exported at build time.

The page `book/face_game_live.md` runs MediaPipe Face Mesh inside the reader's browser (the npm package
`@mediapipe/face_mesh`, installed at build time and served from the book's own static files) and turns the 468
points into AUs with the same model as `facexplain.faces.read_aus`. This module writes what the page's script
(`book/_static/game/facegame.js`) reads:

- `face_mesh/`: the Face Mesh script, its SIMD wasm binary and its packed model assets (from npm);
- `game_data.js`: the AU reader's model (declarative: indices, weights, thresholds), the phrase tables of
  `facexplain.game.instructions`, and the chapter's targets with their AU sets;
- `targets/NAME.png`: the target faces.

`apply_model` is the reference implementation of what the script computes, in numpy; the tests hold the two equal.
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
#: ("RET_CHECK failure ... options_.has_num_classes()", google-ai-edge/mediapipe issue 3504); 0.4.1633559619 works.
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

def _mean_terms(indices, axis: int, sign: float = 1.0) -> list[list]:
    return [[int(i), axis, sign / len(indices)] for i in indices]


def geometric_model(detector) -> dict:
    """A fitted `models.geometric_au.GeometricAUDetector` as the declarative JSON model the page applies."""
    from ..faces.landmarks import MESH_TO_IBUG68
    from ..models import geometric_au as geo

    detector._check()
    ref, iod = geo._reference()
    m68 = [int(i) for i in MESH_TO_IBUG68]
    y = lambda *i: _mean_terms([m68[k] for k in i], 1)           # noqa: E731
    ny = lambda *i: _mean_terms([m68[k] for k in i], 1, -1.0)    # noqa: E731
    x = lambda k, s=1.0: [[m68[k], 0, s]]                        # noqa: E731
    eye = y(39, 42)
    neye = ny(39, 42)
    spec = {
        "inner brow height": eye + ny(20, 21, 22, 23),
        "outer brow height": eye + ny(17, 18, 25, 26),
        "brow gap": x(22) + x(21, -1.0),
        "upper lid height": eye + ny(37, 38, 43, 44),
        "lower lid height": eye + ny(40, 41, 46, 47),
        "eye opening": y(40, 41, 46, 47) + ny(37, 38, 43, 44),
        "cheek height": eye + _mean_terms(geo.CHEEK_MESH, 1, -1.0),
        "nose wing height": eye + ny(31, 35),
        "nose tip height": eye + ny(29, 30),
        "upper lip height": eye + ny(50, 52),
        "upper lip centre height": eye + ny(51),
        "lip corner height": y(51, 57) + ny(48, 54),
        "lip corner spread": x(54) + x(48, -1.0),
        "mouth width": {"distance": [m68[54], m68[48]]},
        "lower lip drop": y(57) + neye,
        "lip gap": y(65, 66, 67) + ny(61, 62, 63),
        "upper lip thickness": y(61, 62, 63) + ny(50, 51, 52),
        "lower lip thickness": y(56, 57, 58) + ny(65, 66, 67),
        "chin drop": y(8) + neye,
        "chin to lower lip": y(8) + ny(57),
    }
    if set(spec) != set(geo.FEATURES):
        raise RuntimeError(f"geometric_model is out of date with geometric_au.FEATURES: {sorted(set(spec) ^ set(geo.FEATURES))}")
    features = [dict(name=n, **(spec[n] if isinstance(spec[n], dict) else {"terms": spec[n]})) for n in geo.FEATURES]
    model = {
        "kind": "landmark-au-reader",
        "n_points": 468,
        "align": {"stable": [int(i) for i in geo.STABLE_MESH], "target": ref[list(geo.STABLE_MESH)].tolist()},
        "features": features,
        "scale_by": float(iod),
        "mean": detector.mean_.tolist(), "std": detector.scale_.tolist(),
        "aus": [int(a) for a in detector.aus],
        "presence": {"coef": detector.coef_.tolist(), "intercept": detector.intercept_.tolist(),
                     "threshold": detector.threshold_.tolist()},
        "intensity": {"coef": detector.int_coef_[:, :-1].tolist(), "intercept": detector.int_coef_[:, -1].tolist(),
                      "clip": [0.5, 5.0]},
        "round": 2,
    }
    model["reference"] = _measure(model, ref[None])[0].tolist()
    return model


def _align(model: dict, pts: np.ndarray) -> np.ndarray:
    """Landmarks (N, 468, 2) mapped by a least-squares affine fit of the stable points onto the model's frame."""
    stable = model["align"]["stable"]
    target = np.asarray(model["align"]["target"], np.float64)
    out = np.empty_like(pts, dtype=np.float64)
    for i, p in enumerate(pts):
        a = np.concatenate([p[stable], np.ones((len(stable), 1))], 1)
        m, *_ = np.linalg.lstsq(a, target, rcond=None)
        out[i] = p @ m[:2] + m[2]
    return out


def _measure(model: dict, pts: np.ndarray) -> np.ndarray:
    q = _align(model, np.asarray(pts, np.float64))
    cols = []
    for f in model["features"]:
        if "distance" in f:
            a, b = f["distance"]
            cols.append(np.linalg.norm(q[:, a] - q[:, b], axis=1))
        else:
            cols.append(sum(w * q[:, i, axis] for i, axis, w in f["terms"]))
    return np.stack(cols, 1)


def apply_model(model: dict, landmarks, neutral=None) -> dict[int, float]:
    """AU -> intensity (present AUs only) of one face's (468, 2) landmarks under the JSON `model`, optionally
    against a neutral face's landmarks: the numpy twin of facegame.js `readAus`."""
    if "heads" in model:                      # faces.read_aus's own model
        from ..faces.read_aus import apply_model as apply_read_aus
        return apply_read_aus(model, landmarks, neutral)
    pts = np.asarray(landmarks, np.float64)
    if pts.shape != (model["n_points"], 2):
        raise ValueError(f"landmarks must have shape ({model['n_points']}, 2); got {pts.shape}")
    m = _measure(model, pts[None])[0]
    base = np.asarray(model["reference"]) if neutral is None else _measure(model, np.asarray(neutral)[None])[0]
    z = ((m - base) / model["scale_by"] - np.asarray(model["mean"])) / np.asarray(model["std"])
    pres, inten = model["presence"], model["intensity"]
    logit = np.asarray(pres["coef"]) @ z + np.asarray(pres["intercept"])
    prob = 1.0 / (1.0 + np.exp(-logit))
    level = np.clip(np.asarray(inten["coef"]) @ z + np.asarray(inten["intercept"]), *inten["clip"])
    return {int(a): round(float(level[j]), model["round"]) for j, a in enumerate(model["aus"])
            if prob[j] >= pres["threshold"][j]}


def decision_margins(model: dict, landmarks, neutral=None) -> dict[int, float]:
    """Per AU of the model: P(present) minus its threshold on these landmarks (> 0: read as present). Small
    margins flip under landmark noise, e.g. between the browser's and Python's Face Mesh."""
    if "heads" in model:
        from ..faces.read_aus import model_features
        head = model["heads"]["template" if neutral is None else "neutral"]
        z = (model_features(model, landmarks, neutral) - np.asarray(head["mean"])) / np.asarray(head["scale"])
        logit = np.asarray(head["coef"]) @ z + np.asarray(head["intercept"])
        thr = head["threshold"]
    else:
        m = _measure(model, np.asarray(landmarks, np.float64)[None])[0]
        base = np.asarray(model["reference"]) if neutral is None else _measure(model, np.asarray(neutral)[None])[0]
        z = ((m - base) / model["scale_by"] - np.asarray(model["mean"])) / np.asarray(model["std"])
        logit = np.asarray(model["presence"]["coef"]) @ z + np.asarray(model["presence"]["intercept"])
        thr = model["presence"]["threshold"]
    prob = 1.0 / (1.0 + np.exp(-logit))
    return {int(a): float(prob[j] - thr[j]) for j, a in enumerate(model["aus"])}


def reader_model() -> dict:
    """The model of `facexplain.faces.read_aus` as JSON (`faces.read_aus_model()`); before that exists, the
    template-reference landmark reader that chapter 02's live widget uses on photos."""
    from .. import faces
    if hasattr(faces, "read_aus_model"):
        return faces.read_aus_model()
    from ..models.geometric_au import calibrated_detector
    return geometric_model(calibrated_detector(1000, seed=7001, neutral="template"))


def read_photo(image, neutral=None) -> dict[int, float]:
    """The Python reading of a photo the page must match: `faces.read_aus` (or, before it exists, the reader of
    `reader_model()` on MediaPipe's landmarks)."""
    from .. import faces
    if hasattr(faces, "read_aus"):
        return faces.read_aus(image, neutral=neutral)
    from ..faces.mesh import detect_landmarks
    return apply_model(reader_model(), detect_landmarks(image),
                       None if neutral is None else detect_landmarks(neutral))


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
    from ..book import BookError
    out = Path(dest) / "face_mesh"
    stamp = out / "VERSION"
    if not force and stamp.exists() and stamp.read_text().strip() == FACE_MESH \
            and all((out / f).exists() for f in FACE_MESH_FILES):
        return out
    npm = shutil.which("npm")
    if npm is None:
        raise BookError("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)")
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
