"""The browser game's JavaScript (book/_static/game/facegame.js) against the Python it mirrors, run in Node (no
browser): the AU reader equals faces.apply_model, the score equals game.jaccard and the ranked instructions equal
game.plan on many random cases; game.web.export writes what the page reads; and game.web.detector_input_graph
rewires a Face Mesh graph as the page needs (the real graph is run in tests/test_game_browser.py)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess

import numpy as np
import pytest

from facexplain.cache import repo_root
from facexplain.faces import apply_model, read_aus_model
from facexplain.game import SUPPORTED_AUS, jaccard, plan, web

SCRIPT = repo_root() / "book" / "_static" / "game" / "facegame.js"

# Loads facegame.js with a stub page (no DOM: the game UI stays off), then runs the requested function on each case.
RUNNER = """
global.window = global;
global.document = {currentScript: {src: "http://localhost/_static/game/facegame.js"}, readyState: "complete",
                   getElementById: () => null};
require(process.argv[2]);
let input = "";
process.stdin.on("data", d => { input += d; });
process.stdin.on("end", () => {
  const {what, tables, model, cases} = JSON.parse(input);
  const out = cases.map(c => {
    if (what === "plan") return {score: FaceGame.jaccard(c.player, c.target),
                                 steps: FaceGame.plan(tables, c.target, c.player)};
    if (what === "read") return FaceGame.readAus(model, c.points, c.neutral);
    if (what === "yaw") return FaceGame.yawDegrees(c.raw);
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def run_js(tmp_path, payload: dict) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: install Node.js (Debian: apt-get install nodejs npm); the book build needs it "
                    "for npm anyway", pytrace=False)
    runner = tmp_path / "runner.js"
    runner.write_text(RUNNER)
    out = subprocess.run([node, str(runner), str(SCRIPT)], input=json.dumps(payload), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_js_score_and_ranked_instructions_equal_python(tmp_path):
    rng = np.random.default_rng(0)
    aus = list(SUPPORTED_AUS)
    cases = [dict(target=sorted(int(a) for a in rng.choice(aus, rng.integers(0, 7), replace=False)),
                  player=sorted(int(a) for a in rng.choice(aus, rng.integers(0, 7), replace=False)))
             for _ in range(400)]
    got = run_js(tmp_path, dict(what="plan", tables=web.phrase_tables(), cases=cases))
    for case, js in zip(cases, got):
        assert js["score"] == pytest.approx(jaccard(case["player"], case["target"]), abs=1e-15)
        steps = plan(case["target"], case["player"])
        assert [s["phrase"] for s in js["steps"]] == [s.phrase for s in steps], case
        assert [s["aus"] for s in js["steps"]] == [list(s.aus) for s in steps]
        assert [s["polarity"] for s in js["steps"]] == [s.polarity for s in steps]


def test_js_reader_equals_faces_apply_model(tmp_path):
    """Faces moved, scaled, rotated and deformed around the model's reference shape, with and without a neutral
    face: the same AUs, intensities equal to the 0.01 rounding."""
    model = read_aus_model()
    ref = np.asarray(model["reference"])
    rng = np.random.default_rng(1)

    def face(jitter):
        th = rng.uniform(-0.3, 0.3)
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        return (ref + rng.normal(0, jitter, ref.shape)) @ rot.T * rng.uniform(60, 200) + rng.uniform(100, 400, 2)

    cases = [dict(points=face(0.03).tolist(), neutral=face(0.005).tolist() if i % 2 else None) for i in range(60)]
    got = run_js(tmp_path, dict(what="read", model=model, cases=cases))
    n_aus = 0
    for case, js in zip(cases, got):
        py = apply_model(model, np.asarray(case["points"]),
                         None if case["neutral"] is None else np.asarray(case["neutral"]))
        assert {int(k) for k in js} == set(py)
        assert all(abs(js[str(a)] - v) <= 0.0100001 for a, v in py.items())
        n_aus += len(py)
    assert n_aus > 0, "no case read any AU: the comparison would be empty"


def test_js_yaw_from_face_edges(tmp_path):
    def raw(deg):
        pts = [{"x": 0.5, "y": 0.5, "z": 0.0}] * 468
        pts = list(pts)
        half = 0.2
        r = np.deg2rad(deg)
        pts[234] = {"x": 0.5 - half * np.cos(r), "y": 0.5, "z": -half * np.sin(r)}
        pts[454] = {"x": 0.5 + half * np.cos(r), "y": 0.5, "z": half * np.sin(r)}
        return pts

    got = run_js(tmp_path, dict(what="yaw", cases=[dict(raw=raw(d)) for d in (0, 10, -40)]))
    assert got == pytest.approx([0, 10, -40], abs=1e-9)
    assert web.MAX_YAW_DEGREES < 40


def test_export_writes_what_the_page_reads(tmp_path):
    targets = {"happiness": dict(emotion="happiness", aus={6, 12}, image=np.full((112, 112), 90, np.uint8)),
               "surprise": dict(emotion="surprise", aus={1, 2, 5, 26}, image=np.full((112, 112), 200, np.uint8))}
    model = read_aus_model()
    js = web.export(tmp_path, targets=targets, model=model)
    text = js.read_text()
    prefix = "window.FACEGAME_DATA = "
    data = json.loads(text[text.index(prefix) + len(prefix):].rstrip().rstrip(";"))
    assert data["model"] == model
    assert data["phrases"] == web.phrase_tables()
    assert [t["name"] for t in data["targets"]] == ["happiness", "surprise"]
    assert data["targets"][1]["aus"] == [1, 2, 5, 26]
    for t in data["targets"]:
        png = tmp_path / t["image"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert stat.S_IMODE(png.stat().st_mode) & 0o044 == 0o044, "a web server could not read the target image"
    assert stat.S_IMODE(js.stat().st_mode) & 0o044 == 0o044


def test_detector_input_graph_rewires_the_detector():
    """On a small stand-in for npm's graph and the FaceLandmarkFrontGpu subgraph stored in the wasm: the subgraph is
    inlined under MediaPipe's expansion names (duplicates numbered, unset side packets dropped), the detector reads
    the second input through the photo's gate, and its boxes are projected onto the photo by the matrix of a
    128x128 aspect-keeping ImageToTensorCalculator on the photo."""
    from google.protobuf import text_format
    from mediapipe.calculators.tensor import image_to_tensor_calculator_pb2
    from mediapipe.framework import calculator_pb2

    def graph(text):
        return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())

    sub = graph("""
        type: "FaceLandmarkFrontGpu"
        input_stream: "IMAGE:image" output_stream: "LANDMARKS:landmarks"
        input_side_packet: "NUM_FACES:num_faces" input_side_packet: "USE_PREV_LANDMARKS:use_prev"
        node { calculator: "GateCalculator" input_stream: "prev" input_side_packet: "ALLOW:use_prev"
               output_stream: "gated_prev" }
        node { calculator: "GateCalculator" input_stream: "image" input_stream: "DISALLOW:gated_prev"
               output_stream: "gated_image" }
        node { calculator: "FaceDetectionShortRangeGpu" input_stream: "IMAGE:gated_image"
               output_stream: "DETECTIONS:all_face_detections" }
        node { calculator: "FaceLandmarkGpu" input_stream: "IMAGE:image" input_stream: "DETECTIONS:all_face_detections"
               input_side_packet: "NUM:num_faces" output_stream: "LANDMARKS:landmarks" }
        node { calculator: "PreviousLoopbackCalculator" input_stream: "MAIN:image" input_stream: "LOOP:landmarks"
               output_stream: "PREV_LOOP:prev" }""")
    top = graph("""
        input_stream: "input_frames_gpu"
        node { calculator: "GlScalerCalculator" input_stream: "VIDEO:input_frames_gpu"
               output_stream: "VIDEO:image_transformed" }
        node { calculator: "FaceLandmarkFrontGpu" input_stream: "IMAGE:image_transformed"
               output_stream: "LANDMARKS:multi_face_landmarks" input_side_packet: "NUM_FACES:num_faces" }""")
    wasm = b"\xff" * 64 + sub.SerializeToString() + b"\xff" * 64
    out = calculator_pb2.CalculatorGraphConfig()
    out.ParseFromString(web.detector_input_graph(top.SerializeToString(), wasm))
    nodes = {n.name: n for n in out.node if n.name}
    p = "facelandmarkfrontgpu__"
    assert set(nodes) == {p + "GateCalculator_1", p + "GateCalculator_2", p + "FaceDetectionShortRangeGpu",
                          p + "FaceLandmarkGpu", p + "PreviousLoopbackCalculator", p + "DetectorInputMatrix",
                          p + "DetectorInputProjection"}
    assert list(out.input_stream) == ["input_frames_gpu", web.DETECTOR_INPUT]
    assert not nodes[p + "GateCalculator_1"].input_side_packet           # USE_PREV_LANDMARKS is not set
    gate = nodes[p + "GateCalculator_2"]
    assert list(gate.input_stream) == ["image_transformed", web.DETECTOR_INPUT, "DISALLOW:" + p + "gated_prev"]
    photo, small = gate.output_stream
    assert list(nodes[p + "FaceDetectionShortRangeGpu"].input_stream) == ["IMAGE:" + small]
    matrix = nodes[p + "DetectorInputMatrix"]
    assert list(matrix.input_stream) == ["IMAGE_GPU:" + photo]
    opts = matrix.options.Extensions[image_to_tensor_calculator_pb2.ImageToTensorCalculatorOptions.ext]
    assert (opts.output_tensor_width, opts.output_tensor_height, opts.keep_aspect_ratio) == (128, 128, True)
    project = nodes[p + "DetectorInputProjection"]
    assert list(project.input_stream) == [
        "DETECTIONS:" + nodes[p + "FaceDetectionShortRangeGpu"].output_stream[0].split(":")[-1],
        "PROJECTION_MATRIX:" + matrix.output_stream[1].split(":")[-1]]
    assert list(project.output_stream) == ["DETECTIONS:" + p + "all_face_detections"]
    lm = nodes[p + "FaceLandmarkGpu"]
    assert list(lm.input_stream) == ["IMAGE:image_transformed", "DETECTIONS:" + p + "all_face_detections"]
    assert list(lm.output_stream) == ["LANDMARKS:multi_face_landmarks"]
    assert list(lm.input_side_packet) == ["NUM:num_faces"]
    with pytest.raises(ValueError, match="0 serialized"):
        web.detector_input_graph(top.SerializeToString(), b"\xff" * 64)
