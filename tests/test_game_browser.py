"""The Face Game page (book/face_game_live.md) in headless Chromium, kernel-free: fed the astronaut photo and Grace
Hopper's portrait through its file input, it shows the AU set, score and first instruction that Python's reader +
game.jaccard + game.instructions give on the same pixels, for every target (its face detector reads the 128x128 input
MediaPipe's CPU path builds, checked against cv2); no face and two faces give a clear message, not a score; it
requests nothing remote and logs no console error; it fits a 430 px screen and is reachable by keyboard.

The page is built alone (a one-page jupyter-book with the project's _config.yml and the real static files), served
by a local HTTP server (Face Mesh's wasm cannot load from file://).
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import chromium_driver
from facexplain import book
from facexplain.cache import repo_root
from facexplain.faces.landmarks import interocular_distance
from facexplain.game import instructions, jaccard, web

pytestmark = pytest.mark.slow        # builds a page and drives Chromium: minutes
ROOT = repo_root()
PAGE = "book/face_game_live"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                  "--enable-unsafe-swiftshader",     # WebGL (Face Mesh's image pipeline) on the CPU, no GPU here
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",   # a test-pattern camera
                  "--window-size=1280,2000"]
#: Console errors that every page of the book logs, from the theme and config, not from the game (reported to
#: the book's owners): the browser's favicon probe, the Jupyter Book 1 template declaring Thebe's settings twice,
#: pydata-sphinx-theme's empty stored theme mode, and the sphinx-thebe stylesheet left linked after thebe is unloaded.
NOT_THE_GAME = ("favicon.ico", "Identifier 'THEBE_JS_URL' has already been declared", "Got invalid theme mode",
                "_static/sphinx-thebe.css - Failed to load resource")
STATUS_DONE_JS = "const s = document.getElementById('fg-status'); return [s.className, s.textContent];"


def photos() -> dict[str, np.ndarray]:
    """The two public-domain photos the project ships with, as the RGB arrays Python reads."""
    import matplotlib.cbook
    from PIL import Image
    from skimage.data import astronaut
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        grace = np.asarray(Image.open(f).convert("RGB"))
    return {"astronaut": astronaut(), "grace_hopper": grace}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requested.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The game page built on its own (jupyter-book), with the real static files: the html folder."""
    src = tmp_path_factory.mktemp("gamebook")
    shutil.copy2(ROOT / "_config.yml", src / "_config.yml")
    (src / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": PAGE}))
    (src / "book" / "_static").mkdir(parents=True)
    for name in ("face_game_live.md", "references.bib"):
        shutil.copy2(ROOT / "book" / name, src / "book" / name)
    for f in (ROOT / "book" / "_static").glob("*.js"):
        shutil.copy2(f, src / "book" / "_static" / f.name)
    book.install_game_js(ROOT)
    shutil.copytree(ROOT / web.GAME_DIR, src / web.GAME_DIR)
    jb = Path(sys.executable).parent / "jupyter-book"
    out = subprocess.run([str(jb), "build", str(src), "--path-output", str(src / "book")],
                         capture_output=True, text=True)
    html = src / "book" / "_build" / "html"
    assert out.returncode == 0 and (html / f"{PAGE}.html").exists(), out.stdout[-3000:] + out.stderr[-3000:]
    return html


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def driver():
    drv = chromium_driver(CHROMIUM_FLAGS)
    drv.set_script_timeout(180)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def page(driver, server, tmp_path_factory):
    """The game page loaded and ready; yields (driver, folder for input files)."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(f"{server}/{PAGE}.html")
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.getElementById('facegame').dataset.ready === 'true'"))
    return driver, tmp_path_factory.mktemp("inputs")


def _upload(driver, folder: Path, name: str, image: np.ndarray, input_id: str = "fg-photo") -> tuple[str, str]:
    """Feed an image through the page's file input; wait for the outcome; return (status class, status text)."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    path = folder / f"{name}.png"
    Image.fromarray(np.asarray(image, np.uint8)).save(path)     # lossless: the page sees Python's pixels
    driver.execute_script("document.getElementById('fg-status').textContent = ''; "
                          "document.getElementById('fg-status').className = 'fg-status';")
    driver.find_element(By.ID, input_id).send_keys(str(path))
    WebDriverWait(driver, 180).until(
        lambda d: d.execute_script(STATUS_DONE_JS)[0].endswith(("fg-ok", "fg-error")))
    return tuple(driver.execute_script(STATUS_DONE_JS))


def _shown(driver) -> dict:
    return driver.execute_script("""
        const li = document.querySelector('#fg-instructions li');
        return {aus: document.getElementById('fg-aus').dataset.aus,
                score: Number(document.getElementById('fg-score').dataset.score),
                first: li ? (li.dataset.perfect ? null : li.textContent) : undefined,
                n_steps: document.querySelectorAll('#fg-instructions li').length};""")


def _select_target(driver, index: int) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    select = Select(driver.find_element(By.ID, "fg-target"))
    select.select_by_index(index)
    return select.first_selected_option.text


def test_static_files_are_local_and_small(site):
    html = (site / f"{PAGE}.html").read_text(encoding="utf-8")
    for needed in ("_static/game/face_mesh/face_mesh.js", "_static/game/facegame.js", "_static/game/game_data.js"):
        assert needed in html, f"the page does not load {needed}"
    assert (site / "_static" / "game" / web.GRAPH_FILE).exists(), "the Face Mesh graph with the detector input"
    fm = site / "_static" / "game" / "face_mesh"
    for f in web.FACE_MESH_FILES:
        assert (fm / f).exists(), f"{f} of {web.FACE_MESH} is not served from the book"
    assert (fm / "VERSION").read_text().strip() == web.FACE_MESH
    size = sum(f.stat().st_size for f in (site / "_static" / "game").rglob("*") if f.is_file())
    assert size <= 15e6, f"the game's static files take {size / 1e6:.1f} MB (bar: 15 MB)"


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_page_matches_python(page, name):
    """The page's AU set equals Python's reading of the same pixels (faces.read_aus), and for every target its score
    and first instruction equal game.jaccard and game.instructions on Python's AU set.

    Exact equality holds because the page's face detector reads the 128x128 input that MediaPipe's CPU path
    (Python's) builds (facegame.js detectorInput; test_detector_input_equals_mediapipe_cpu): the same detection,
    hence the same crop for the landmark model. The AUs' margins (probability minus threshold) are printed: those
    near 0 are the ones a small landmark difference would flip."""
    from facexplain.faces.mesh import detect_landmarks
    driver, folder = page
    image = photos()[name]
    _select_target(driver, 0)
    kind, text = _upload(driver, folder, name, image)
    assert kind.endswith("fg-ok"), f"{name}: the page said {text!r}"
    model = web.reader_model()
    player = set(web.read_photo(image))
    margins = web.decision_margins(model, detect_landmarks(image))
    data = driver.execute_script("return window.FACEGAME_DATA.targets;")
    assert len(data) == 6
    for i, target in enumerate(data):
        _select_target(driver, i)
        shown = _shown(driver)
        shown_aus = {int(a) for a in shown["aus"].split(",") if a}
        if i == 0:
            print(f"{name}: page {sorted(shown_aus)}, Python {sorted(player)}; Python margins within 0.1 "
                  f"{({a: round(m, 3) for a, m in sorted(margins.items()) if abs(m) < 0.1})}")
        assert shown_aus == player, f"{name}: page AUs {sorted(shown_aus)} != Python {sorted(player)}"
        assert shown["score"] == pytest.approx(jaccard(player, target["aus"]), abs=1e-12)
        said = instructions(target["aus"], player, max_items=web.MAX_INSTRUCTIONS)
        assert shown["first"] == (said[0] if said else None), f"{name} -> {target['name']}"
        assert shown["n_steps"] == max(1, len(said))
    rows = driver.execute_script("return document.querySelectorAll('#fg-tries-body tr').length;")
    assert rows >= 1, "the try was not kept in the tries table"


def mediapipe_cpu_detector_input(image: np.ndarray, size: int = web.DETECTOR_SIZE) -> np.ndarray:
    """The face detector's size x size input as MediaPipe's CPU ImageToTensorCalculator builds it
    (image_to_tensor_converter_opencv.cc): the whole image as the region, padded to a square of its longer side
    (keep_aspect_ratio), its corners (cv::boxPoints) mapped onto the output's by cv::getPerspectiveTransform, then
    cv::warpPerspective with INTER_LINEAR and BORDER_CONSTANT (the detector's BORDER_ZERO)."""
    import cv2
    h, w = image.shape[:2]
    side = max(w, h)
    corners = cv2.boxPoints(((w / 2, h / 2), (side, side), 0.0)).astype(np.float32)
    out = np.float32([[0, size], [0, 0], [size, 0], [size, size]])
    matrix = cv2.getPerspectiveTransform(corners, out)
    return cv2.warpPerspective(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _page_detector_input(driver, image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    rgba = driver.execute_async_script("""
        const [data, w, h, size, done] = arguments;
        const img = new Image();
        img.onload = () => {
          const c = document.createElement('canvas'); c.width = w; c.height = h;
          c.getContext('2d').drawImage(img, 0, 0);
          const small = FaceGame.detectorInput(c, w, h, size);
          done(Array.from(small.getContext('2d').getImageData(0, 0, size, size).data));
        };
        img.src = data;""", _data_url(image), w, h, web.DETECTOR_SIZE)
    return np.asarray(rgba, np.uint8).reshape(web.DETECTOR_SIZE, web.DETECTOR_SIZE, 4)


def test_detector_input_equals_mediapipe_cpu(page):
    """The page's 128x128 detector input (facegame.js detectorInput) equals MediaPipe's CPU one (computed with cv2
    as MediaPipe does) to within 1 grey level: on both photos (512x512: every 4th pixel; 512x600: bilinear at
    4.6875 px steps, with padding) and on noise of sizes whose steps are not multiples of 1/32 pixel."""
    driver, _ = page
    rng = np.random.default_rng(0)
    images = dict(photos(), wide_noise=rng.integers(0, 256, (301, 517, 3), np.uint8),
                  tall_noise=rng.integers(0, 256, (383, 250, 3), np.uint8))
    for name, image in images.items():
        got = _page_detector_input(driver, image)
        want = mediapipe_cpu_detector_input(image)
        diff = np.abs(got[..., :3].astype(int) - want.astype(int))
        print(f"{name}: detector input differs from MediaPipe's CPU one at {int((diff > 0).sum())} of "
              f"{diff.size} values, by at most {int(diff.max())}")
        assert diff.max() <= 1, name
        assert (got[..., 3] == 255).all()


def test_reader_in_js_equals_numpy_and_landmarks_agree(page):
    """The JS reader applied to the browser's landmarks equals the numpy reader on the same landmarks (to the
    rounding), and the browser's Face Mesh lands within 2% of the eye distance of Python's MediaPipe on average."""
    from facexplain.faces.mesh import detect_landmarks
    driver, _ = page
    model = driver.execute_script("return window.FACEGAME_DATA.model;")
    for name, image in photos().items():
        h, w = image.shape[:2]
        pts = driver.execute_async_script("""
            const [data, w, h, done] = arguments;
            const img = new Image();
            img.onload = () => {
              const c = document.createElement('canvas'); c.width = w; c.height = h;
              c.getContext('2d').drawImage(img, 0, 0);
              FaceGame.detect(c, w, h).then(f => done(f.map(x => [x.pts, FaceGame.yawDegrees(x.raw)])),
                                            e => done(String(e)));
            };
            img.src = data;""", _data_url(image), w, h)
        assert isinstance(pts, list) and len(pts) == 1, f"{name}: {pts}"
        (found, yaw), = pts
        print(f"{name}: head yaw in the browser {yaw:.1f} degrees (the page refuses beyond {web.MAX_YAW_DEGREES})")
        assert abs(yaw) < web.MAX_YAW_DEGREES, "a frontal portrait would be refused as a side view"
        pts = [found]
        js_pts = np.asarray(pts[0])
        js_aus = driver.execute_script("return FaceGame.readAus(arguments[0], arguments[1], null);", model, pts[0])
        py_aus = web.apply_model(model, js_pts)
        print(f"{name}: margins on the browser's landmarks within 0.1 "
              f"{({a: round(m, 3) for a, m in web.decision_margins(model, js_pts).items() if abs(m) < 0.1})}")
        assert {int(k) for k in js_aus} == set(py_aus)
        assert all(abs(js_aus[str(a)] - v) <= 0.0100001 for a, v in py_aus.items())   # to the 0.01 rounding
        py_pts = detect_landmarks(image)
        err = np.linalg.norm(js_pts - py_pts, axis=1).mean() / float(interocular_distance(py_pts))
        print(f"{name}: browser vs Python Face Mesh, mean landmark distance {err:.4f} of the eye distance")
        assert err < 0.02


def _data_url(image: np.ndarray) -> str:
    import base64
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_no_face_and_two_faces_give_messages_not_scores(page):
    driver, folder = page
    before = driver.execute_script("return document.querySelectorAll('#fg-tries-body tr').length;")
    grey = np.full((300, 300, 3), 128, np.uint8)
    kind, text = _upload(driver, folder, "no_face", grey)
    assert kind.endswith("fg-error") and "No face" in text
    face = photos()["astronaut"][0:260, 90:350]           # her head and shoulders, twice side by side
    kind, text = _upload(driver, folder, "two_faces", np.concatenate([face, face], axis=1))
    assert kind.endswith("fg-error") and "Two faces" in text
    after = driver.execute_script("return document.querySelectorAll('#fg-tries-body tr').length;")
    assert after == before, "a photo without exactly one face was scored"


def test_camera_path_with_a_faceless_test_camera(page):
    """Start the camera (Chromium's fake device shows a test pattern, no face), take a try: a clear no-face
    message, no score; stop the camera."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver, _ = page
    before = driver.execute_script("return document.querySelectorAll('#fg-tries-body tr').length;")
    driver.find_element("id", "fg-cam-start").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element("id", "fg-cam-try").is_enabled())
    assert driver.execute_script("return document.activeElement.id;") == "fg-cam-try"
    driver.execute_script("document.getElementById('fg-status').className = 'fg-status';")
    driver.find_element("id", "fg-cam-try").click()
    WebDriverWait(driver, 180).until(
        lambda d: d.execute_script(STATUS_DONE_JS)[0].endswith(("fg-ok", "fg-error")))
    kind, text = driver.execute_script(STATUS_DONE_JS)
    assert kind.endswith("fg-error") and "No face found in this camera picture" in text, text
    assert driver.execute_script("return document.querySelectorAll('#fg-tries-body tr').length;") == before
    driver.find_element("id", "fg-cam-stop").click()
    assert driver.find_element("id", "fg-cam-start").is_enabled()
    assert not driver.find_element("id", "fg-cam-try").is_enabled()


def test_neutral_photo_becomes_the_reference(page):
    """A neutral photo of the same person is the reference: the page's AUs equal Python's with `neutral`."""
    driver, folder = page
    grace = photos()["grace_hopper"]
    kind, text = _upload(driver, folder, "neutral", grace, input_id="fg-neutral-file")
    assert kind.endswith("fg-ok"), text
    kind, text = _upload(driver, folder, "try_against_neutral", grace)
    assert kind.endswith("fg-ok"), text
    shown = {int(a) for a in _shown(driver)["aus"].split(",") if a}
    assert shown == set(web.read_photo(grace, neutral=grace))
    driver.find_element("id", "fg-neutral-clear").click()


def test_phone_width_and_keyboard(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    driver, _ = page
    # headless Chromium will not shrink a window below 500 px: emulate a 430 px phone screen instead
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 430, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        time.sleep(0.5)
        assert driver.execute_script("return window.innerWidth;") == 430
        overflow = driver.execute_script("""
            const g = document.getElementById('facegame');
            const wide = [...g.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1);
            return {page: document.documentElement.scrollWidth, game: g.scrollWidth - g.clientWidth,
                    wide: wide.map(e => e.id || e.tagName)};""")
        assert overflow["page"] <= 430 and overflow["game"] <= 0 and not overflow["wide"], \
            f"the page overflows a 430 px screen: {overflow}"
        unlabelled = driver.execute_script("""
            return [...document.querySelectorAll('#facegame select, #facegame input, #facegame button')]
              .filter(e => !(e.labels && e.labels.length) && !e.textContent.trim() && !e.getAttribute('aria-label'))
              .map(e => e.id);""")
        assert not unlabelled, f"controls without a label: {unlabelled}"
        driver.execute_script("document.getElementById('fg-target').focus();")
        order = []
        for _ in range(8):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            order.append(driver.execute_script("return document.activeElement.id;"))
        expected = ["fg-neutral-file", "fg-photo", "fg-cam-start"]
        reached = [i for i in order if i in expected]
        assert reached[:3] == expected, f"tab order from the target picker: {order}"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_console_error_and_no_remote_request(page, server):
    """Run last in this module: everything the page did so far requested only the book's own files."""
    driver, _ = page
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and not any(known in e["message"] for known in NOT_THE_GAME)]
    assert not errors, f"console errors: {errors}"
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    assert any("face_mesh_solution_simd_wasm_bin.wasm" in u for u in urls), "Face Mesh's wasm was not requested"
    # network requests only (the browser's own chrome:// pages are not the network)
    remote = [u for u in urls if u.split(":", 1)[0] in ("http", "https", "ws", "wss") and not u.startswith(server)]
    assert not remote, f"remote requests: {remote}"
