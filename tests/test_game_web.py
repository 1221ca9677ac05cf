"""The browser game's JavaScript (book/_static/game/facegame.js) against the Python it mirrors, run in Node (no
browser): the AU reader equals faces.apply_model, the score equals game.jaccard and the ranked instructions equal
game.plan on many random cases; and game.web.export writes what the page reads."""

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
