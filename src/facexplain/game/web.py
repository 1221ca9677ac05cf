"""The Face Game in the static book, with no kernel: what the browser page needs, exported at build time.

The page `book/face_game_live.md` runs MediaPipe Face Mesh inside the reader's browser (the npm package
`@mediapipe/face_mesh`, installed at build time and served from the book's own static files) and turns the 468
points into AUs with the same model as `facexplain.faces.read_aus`. This module writes what the page's script
(`book/_static/game/facegame.js`) reads:

- `face_mesh/`: the Face Mesh script, its SIMD wasm binary and its packed model assets (from npm);
- `face_mesh_graph.binarypb`: npm's Face Mesh graph, changed so that the face detector reads a second image,
  the 128x128 detector input that facegame.js builds the way Python's MediaPipe (CPU) builds it
  (`detector_input_graph`): the browser's own GPU resampling gives a box a few pixels off, hence other
  landmarks and, for AUs near their thresholds, other AUs than Python's;
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
GRAPH_FILE = "face_mesh_graph.binarypb"   # detector_input_graph's output, in GAME_DIR
DETECTOR_INPUT = "detector_input_gpu"     # the graph's input stream of the detector's 128x128 image
DETECTOR_SIZE = 128                       # the short-range face detector's input side (pixels)
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
        "detector_size": DETECTOR_SIZE,
        "detector_input": DETECTOR_INPUT,
        "graph": GRAPH_FILE,
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


# ------------------------------------------------------------------------------------- the detector's input

def _registered_graph(wasm: bytes, graph_type: str):
    """The CalculatorGraphConfig of a subgraph compiled into the Face Mesh wasm binary, where it is stored
    serialized, ending with its `type` field: the longest byte run before that end which parses and serializes
    back to itself. Raises ValueError unless exactly one such graph is found and every node input is produced."""
    from google.protobuf.message import DecodeError
    from mediapipe.framework import calculator_pb2
    name = graph_type.encode()
    tail = b"\xa2\x01" + bytes([len(name)]) + name          # field 20 (type), length-delimited
    found, at = [], wasm.find(tail)
    while at >= 0:
        end, best, at = at + len(tail), None, wasm.find(tail, at + 1)
        for start in range(end - 2, max(0, end - 65536), -1):
            if wasm[start] != 0x0A:                            # field 1 (node) starts a serialized graph
                continue
            graph = calculator_pb2.CalculatorGraphConfig()
            try:
                graph.ParseFromString(wasm[start:end])
            except DecodeError:
                continue
            if graph.type == graph_type and graph.SerializeToString() == wasm[start:end]:
                best = graph
        if best is not None:
            found.append(best)
    if len(found) != 1:
        raise ValueError(f"{len(found)} serialized {graph_type} graphs in the Face Mesh wasm (expected 1)")
    graph = found[0]
    made = {s.split(":")[-1] for s in graph.input_stream}
    made |= {s.split(":")[-1] for n in graph.node for s in n.output_stream}
    missing = {s.split(":")[-1] for n in graph.node for s in n.input_stream} - made
    if missing:
        raise ValueError(f"the {graph_type} graph found in the wasm lacks producers of {sorted(missing)}")
    return graph


def _inline(graph, index: int, sub) -> None:
    """Replace graph.node[index] (a subgraph node) by the nodes of `sub`, named as MediaPipe's subgraph
    expansion names them (tool/subgraph_expansion.cc: prefix = the node's lower-cased name + "__" on every node,
    stream and side packet; the subgraph's ports joined to the node's by tag and index; ports the node leaves
    unset dropped), so that the solution's options, which address nodes by these names, still apply."""
    from collections import Counter

    from mediapipe.framework import calculator_pb2
    node = graph.node[index]
    prefix = (node.name or node.calculator).lower() + "__"
    names = Counter(calc.name or calc.calculator for calc in sub.node)     # duplicates are numbered _1, _2, ...

    def split(s):                                   # TAG:INDEX:name -> ((TAG, INDEX), name)
        parts = s.split(":")
        tag = parts[0] if len(parts) > 1 else ""
        return (tag, int(parts[1]) if len(parts) == 3 else 0), parts[-1]

    def ports(inner, outer):                        # inner name -> outer name, and inner names left unset
        given = dict(split(s) for s in outer)
        joined = {name: given[key] for key, name in map(split, inner) if key in given}
        return joined, {name for key, name in map(split, inner) if key not in given}

    streams, dropped = ports(sub.input_stream, node.input_stream)
    streams.update(ports(sub.output_stream, node.output_stream)[0])
    packets, dropped_packets = ports(sub.input_side_packet, node.input_side_packet)

    def rename(values, joined, drop):
        out = []
        for s in values:
            _, name = split(s)
            if name not in drop:
                out.append(s[:len(s) - len(name)] + joined.get(name, prefix + name))
        return out

    seen, new = Counter(), []
    for calc in sub.node:
        n = calculator_pb2.CalculatorGraphConfig.Node()
        n.CopyFrom(calc)
        key = calc.name or calc.calculator
        seen[key] += 1
        n.name = prefix + (key if names[key] == 1 else f"{key}_{seen[key]}")
        for field, joined, drop in (("input_stream", streams, dropped), ("output_stream", streams, set()),
                                    ("input_side_packet", packets, dropped_packets),
                                    ("output_side_packet", packets, set())):
            values = rename(getattr(n, field), joined, drop)
            del getattr(n, field)[:]
            getattr(n, field).extend(values)
        new.append(n)
    rest = [graph.node[i] for i in range(len(graph.node)) if i != index]
    del graph.node[:]
    graph.node.extend(rest[:index] + new + rest[index:])


def detector_input_graph(graph: bytes, wasm: bytes, size: int = DETECTOR_SIZE,
                         stream: str = DETECTOR_INPUT) -> bytes:
    """npm's Face Mesh graph (`graph`, serialized) changed so that its face detector reads the image of a second
    input stream, `stream`: the size x size detector input that facegame.js builds from the photo as MediaPipe's
    CPU path (Python's) builds it. The photo itself still goes to the landmark model.

    The FaceLandmarkFrontGpu subgraph (read from the `wasm` binary) is inlined under MediaPipe's own names; the
    second image passes the same gate as the photo (no detection while tracking) into the detector, whose boxes,
    relative to the square detector input, are mapped onto the photo by the matrix of an ImageToTensorCalculator
    with the detector's geometry (size x size, aspect ratio kept) run on the photo: the matrix Python's detector
    applies. Returns the serialized graph."""
    from mediapipe.calculators.tensor import image_to_tensor_calculator_pb2
    from mediapipe.framework import calculator_pb2
    top = calculator_pb2.CalculatorGraphConfig()
    top.ParseFromString(graph)
    index = next(i for i, n in enumerate(top.node) if n.calculator == "FaceLandmarkFrontGpu")
    _inline(top, index, _registered_graph(wasm, "FaceLandmarkFrontGpu"))
    prefix = "facelandmarkfrontgpu__"
    detector = next(n for n in top.node if n.calculator == "FaceDetectionShortRangeGpu")
    image = next(s for s in detector.input_stream if s.startswith("IMAGE:")).split(":")[-1]
    gate = next(n for n in top.node if n.calculator == "GateCalculator" and image in n.output_stream)
    gate.input_stream.insert(1, stream)             # untagged data streams: photo, detector input
    gate.output_stream.append(prefix + "gated_detector_input")
    boxes = next(s for s in detector.output_stream if s.startswith("DETECTIONS:")).split(":")[-1]
    detector.input_stream.remove("IMAGE:" + image)
    detector.input_stream.append("IMAGE:" + prefix + "gated_detector_input")
    detector.output_stream.remove("DETECTIONS:" + boxes)
    detector.output_stream.append("DETECTIONS:" + prefix + "detector_input_detections")
    top.input_stream.append(stream)

    matrix = calculator_pb2.CalculatorGraphConfig.Node(
        name=prefix + "DetectorInputMatrix", calculator="ImageToTensorCalculator",
        input_stream=["IMAGE_GPU:" + image],
        output_stream=["TENSORS:" + prefix + "unused_photo_tensors", "MATRIX:" + prefix + "detector_input_matrix"])
    opts = matrix.options.Extensions[image_to_tensor_calculator_pb2.ImageToTensorCalculatorOptions.ext]
    opts.output_tensor_width = opts.output_tensor_height = size
    opts.keep_aspect_ratio = True
    opts.output_tensor_float_range.min, opts.output_tensor_float_range.max = -1.0, 1.0
    project = calculator_pb2.CalculatorGraphConfig.Node(
        name=prefix + "DetectorInputProjection", calculator="DetectionProjectionCalculator",
        input_stream=["DETECTIONS:" + prefix + "detector_input_detections",
                      "PROJECTION_MATRIX:" + prefix + "detector_input_matrix"],
        output_stream=["DETECTIONS:" + boxes])
    top.node.extend([matrix, project])              # MediaPipe orders nodes by their streams, not their place
    return top.SerializeToString()


def install_graph(dest: Path) -> Path:
    """Write detector_input_graph of the installed Face Mesh (dest/face_mesh) to dest/GRAPH_FILE."""
    fm = Path(dest) / "face_mesh"
    data = detector_input_graph((fm / "face_mesh.binarypb").read_bytes(),
                                (fm / "face_mesh_solution_simd_wasm_bin.wasm").read_bytes())
    _atomic_write(Path(dest) / GRAPH_FILE, data)
    return Path(dest) / GRAPH_FILE


def install(root: Path, force: bool = False) -> Path:
    """Everything the game page needs into root/GAME_DIR: Face Mesh from npm, its graph with the detector
    input of Python's MediaPipe, and the exported data."""
    root = Path(root)
    dest = root / GAME_DIR
    install_face_mesh(dest, root / ".build" / "npm", force=force)
    install_graph(dest)
    export(dest)
    return dest
