"""Faults and bad input (issue 17): every case found by feeding the package bad files, damaged caches and bad
numbers, each answered by one clear error that names the file or argument (or by healing itself).

Fixtures are written by the tests; the datasets' native-layout writers come from test_loaders.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from facexplain import cache
from facexplain.data import load_dataset
from facexplain.data.errors import DatasetError

from test_loaders import (affectnet_dir, affectnet_row, ckplus_dir, face_points, num, rafdb_dir,  # noqa: F401
                          unbc_dir, write_image, write_points, write_text)


# --- 1. the runner reads every parameter the notebooks assign (built by the runner helper) ------------------------
@pytest.mark.parametrize("chapter, name, value", [("10_explainers_compared", "fer_lam", "4.0"),
                                                  ("03_landmark_ig", "truth_threshold", "0.05")])
def test_parameters_with_equals_signs_in_their_comments_are_listed_and_accepted(chapter, name, value, capsys,
                                                                                   monkeypatch, tmp_path):
    from facexplain import book

    assert book.main(["--list", "--only", chapter]) == 0
    assert any(line.strip().startswith(f"{name} =") for line in capsys.readouterr().out.splitlines())
    seen = {}
    monkeypatch.setattr(book, "execute", lambda c, out, params, **kw: seen.update({c.name: params}) or out)
    assert book.main(["run", "--only", chapter, "-p", name, value, "--no-progress", "--force",
                      "--out", str(tmp_path)]) == 0
    assert seen == {chapter: {name: float(value)}}
    assert book.main(["run", "--only", chapter, "-p", "no_such_parameter", "1", "--out", str(tmp_path)]) == 1
    assert "unknown parameter(s) no_such_parameter" in capsys.readouterr().err


# --- 2. caches heal ------------------------------------------------------------------------------------------
@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(home))
    return home


def _truncate(path, keep: float):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_npz_is_reported_removed_and_rebuilt_with_identical_data(cache_home, keep):
    first = load_dataset("synthetic", n=4, seed=2, image_size=48)
    (entry,) = (cache_home / "synthetic").glob("*.npz")
    _truncate(entry, keep)
    with pytest.warns(cache.CacheWarning) as caught:
        again = load_dataset("synthetic", n=4, seed=2, image_size=48)
    assert len(caught) == 1                                    # reported once
    message = str(caught[0].message)
    assert str(entry) in message and ("BadZipFile" in message or "EOFError" in message)
    for name in ("images", "landmarks", "au_intensity", "region_bits", "frame"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    assert list(again.emotion) == list(first.emotion) and list(again.subject) == list(first.subject)
    with warnings.catch_warnings():                            # healed: the next call reads it silently
        warnings.simplefilter("error", cache.CacheWarning)
        third = load_dataset("synthetic", n=4, seed=2, image_size=48)
    np.testing.assert_array_equal(third.images, first.images)
    assert [p.name for p in (cache_home / "synthetic").iterdir()] == [entry.name]


def test_corrupt_npz_member_is_rebuilt(cache_home):
    built = cache.cached_arrays("k", {"n": 1}, lambda: {"a": np.arange(1000), "region_bits": np.ones(50, np.uint32)})
    (entry,) = (cache_home / "k").glob("*.npz")
    data = bytearray(entry.read_bytes())
    data[200:260] = b"\xff" * 60                                 # bytes flipped inside an array: CRC fails
    entry.write_bytes(bytes(data))
    with pytest.warns(cache.CacheWarning, match=str(entry.name)):
        again = cache.cached_arrays("k", {"n": 1}, lambda: {"a": np.arange(1000),
                                                             "region_bits": np.ones(50, np.uint32)})
    assert again.keys() == built.keys() and all(np.array_equal(again[k], built[k]) for k in built)


def test_truncated_json_entry_is_rebuilt(cache_home):
    import json

    text = json.dumps({"heads": list(range(50))})
    assert cache.cached_json("j", {"a": 1}, lambda: text) == text
    (entry,) = (cache_home / "j").glob("*.json")
    _truncate(entry, 0.5)
    with pytest.warns(cache.CacheWarning, match=f"{entry.name}.*JSONDecodeError"):
        assert cache.cached_json("j", {"a": 1}, lambda: text) == text
    assert entry.read_text() == text


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_state_dict_is_reported_and_retrained(cache_home, damage):
    from facexplain import train

    def make():
        torch.manual_seed(0)
        return torch.nn.Linear(3, 2)

    def fit(model):
        with torch.no_grad():
            model.weight.mul_(2.0)

    first = train.cached_model("net", {"lr": 1}, make, fit)
    (entry,) = (cache_home / "net").glob("*.pt")
    if damage == "truncate":
        _truncate(entry, 0.6)
    else:
        entry.write_bytes(b"these are not weights")
    with pytest.warns(cache.CacheWarning, match=f"{entry.name}.*cannot be read"):
        again = train.cached_model("net", {"lr": 1}, make, fit)
    assert torch.equal(again.weight, first.weight) and torch.equal(again.bias, first.bias)
    assert torch.load(entry, weights_only=True).keys() == first.state_dict().keys()   # the rewritten entry reads


def test_writes_fsync_the_temp_file_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src)))
        return real_replace(src, dst)

    monkeypatch.setattr(cache.os, "fsync", fsync)
    monkeypatch.setattr(cache.os, "replace", replace)
    cache.atomic_save_npz(tmp_path / "a.npz", x=np.arange(3))
    (replaced,) = [p for kind, p in events if kind == "replace"]
    assert ("fsync", replaced) in events                            # the temp file itself was synced ...
    assert events.index(("fsync", replaced)) < events.index(("replace", replaced))   # ... before the rename
    assert events[-1] == ("fsync", str(tmp_path))                   # and the folder after it


def test_stale_temp_files_of_killed_writers_are_swept(cache_home):
    folder = cache_home / "k"
    folder.mkdir(parents=True)
    old = time.time() - 2 * cache.STALE_SECONDS
    stale = folder / ".0123456789abcdef.npz.k3j_9xz1.tmp"        # what a writer killed mid-write leaves
    fresh = folder / ".fedcba9876543210.npz.a8b7c6d5.tmp"        # a writer still at work
    foreign = folder / "notes.tmp"                                 # not our naming pattern: never touched
    for p in (stale, fresh, foreign):
        p.write_bytes(b"partial")
    for p in (stale, foreign):
        os.utime(p, (old, old))
    cache.cached_arrays("k", {"n": 2}, lambda: {"x": np.arange(2)})
    left = sorted(p.name for p in folder.iterdir())
    assert stale.name not in left and fresh.name in left and foreign.name in left
    assert cache.sweep_temp_files(folder, max_age=0.0) == [fresh]


def test_a_writer_killed_mid_write_leaves_only_a_temp_file_that_is_swept(tmp_path):
    target = tmp_path / "big.npz"
    code = ("import os, numpy as np, facexplain.cache as c\n"
            "def write(tmp):\n"
            "    open(tmp, 'wb').write(b'half')\n"
            "    os._exit(9)\n"                                        # killed: no cleanup runs
            f"c._atomic({str(target)!r}, write)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True)
    assert proc.returncode == 9 and not target.exists()
    (left,) = list(tmp_path.iterdir())
    assert cache.TEMP_PATTERN.match(left.name)
    assert cache.sweep_temp_files(tmp_path) == []                  # young: perhaps still being written
    os.utime(left, (0, 0))
    assert cache.sweep_temp_files(tmp_path) == [left] and list(tmp_path.iterdir()) == []


# --- 3. 16-bit and other image modes are scaled, not clipped --------------------------------------------------
def _save_deep(path, grey8: np.ndarray, how: str):
    """Save an 8-bit grey image in a deeper format that holds the same picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    g = grey8.astype(np.float64)
    if how == "png16":                                  # what 8 -> 16 bit converters write: x * 257
        Image.fromarray((g * 257).astype(np.uint16)).save(path, format="PNG")
    elif how == "tiff16":
        Image.fromarray((g * 257).astype(np.uint16)).save(path, format="TIFF")
    elif how == "tiff_int32":                          # Pillow mode "I" holding 16-bit values
        Image.fromarray((g * 257).astype(np.int32)).save(path, format="TIFF")
    elif how == "tiff_float":                          # Pillow mode "F" in [0, 1]
        Image.fromarray((g / 255).astype(np.float32)).save(path, format="TIFF")
    elif how == "rgb48":                               # 16 bits per channel, written by OpenCV
        import cv2
        ok, data = cv2.imencode(".png", np.repeat((g * 257).astype(np.uint16)[..., None], 3, axis=2))
        path.write_bytes(data.tobytes())
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["png16", "tiff16", "tiff_int32", "tiff_float", "rgb48"])
def test_read_grey_scales_deep_images(tmp_path, how):
    from facexplain.data._native import read_grey

    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))          # 0 .. 252: dark to bright
    _save_deep(tmp_path / "x.img", grey, how)
    got = read_grey(tmp_path / "x.img")
    assert got.dtype == np.uint8 and got.shape == grey.shape
    assert np.abs(got.astype(int) - grey).max() <= 1                       # the picture, not a white sheet


def test_deep_images_with_nan_or_out_of_range_values_name_the_file(tmp_path):
    from facexplain.data._native import read_grey

    bad = np.full((4, 4), 0.5, np.float32)
    bad[1, 1] = np.nan
    Image.fromarray(bad).save(tmp_path / "nan.tif")
    with pytest.raises(DatasetError, match="nan.tif contains NaN"):
        read_grey(tmp_path / "nan.tif")
    Image.fromarray(np.full((4, 4), -3.0, np.float32)).save(tmp_path / "neg.tif")
    with pytest.raises(DatasetError, match="neg.tif has negative values"):
        read_grey(tmp_path / "neg.tif")


def _to_png16(path):
    """Rewrite an 8-bit fixture image in place as a 16-bit PNG (same name, same picture)."""
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"))
    _save_deep(path, grey, "png16")


@pytest.mark.parametrize("loader, fixture, image", [
    ("ckplus", "ckplus_dir", "cohn-kanade-images/S005/001/S005_001_00000003.png"),
    ("rafdb", "rafdb_dir", "basic/Image/aligned/train_00002_aligned.jpg"),
    ("affectnet", "affectnet_dir", "Manually_Annotated_Images/689/b.png"),
    ("unbc", "unbc_dir", "Images/042-ll042/ll042t1aaaff/ll042t1aaaff001.png")])
def test_every_real_loader_reads_16_bit_frames_as_the_8_bit_ones(loader, fixture, image, request):
    root = request.getfixturevalue(fixture)
    before = load_dataset(loader, data_dir=root, image_size=32, progress=False)
    _to_png16(root / image)
    after = load_dataset(loader, data_dir=root, image_size=32, progress=False)
    assert np.abs(after.images.astype(int) - before.images).max() <= 1
    assert after.images.max() < 255                                    # fixtures are dark: clipping gave 255


# --- 5. very large or wide images: a Python exception, never an abort; paths accepted -----------------------
def test_very_wide_or_large_images_raise_a_python_exception_not_an_abort():
    code = ("import numpy as np\n"
            "from facexplain.faces.mesh import NoFaceFound, detect_landmarks\n"
            "for shape in [(64, 10000, 3), (10, 40000), (9000, 7000, 3)]:\n"
            "    try:\n"
            "        detect_landmarks(np.zeros(shape, np.uint8))\n"
            "    except NoFaceFound as err:\n"
            "        print('ValueError', shape, err)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the process died (exit {proc.returncode}): {proc.stderr[-800:]}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("ValueError")]
    assert len(lines) == 3 and "10000x64 image" in lines[0]


def test_detect_landmarks_accepts_a_path_and_16_bit_files(tmp_path):
    from skimage import data

    from facexplain.faces.mesh import detect_landmarks

    photo = data.astronaut()
    Image.fromarray(photo).save(tmp_path / "astronaut.png")
    from_array = detect_landmarks(photo)
    np.testing.assert_allclose(detect_landmarks(tmp_path / "astronaut.png"), from_array, atol=1e-3)
    deep = np.round(photo.astype(np.float64) * 257).astype(np.uint16)     # 16-bit arrays are scaled too
    np.testing.assert_allclose(detect_landmarks(deep), from_array, atol=1e-3)
    with pytest.raises(FileNotFoundError, match="nowhere.png is missing"):
        detect_landmarks(tmp_path / "nowhere.png")
    with pytest.raises(ValueError, match="is a folder, not an image file"):
        detect_landmarks(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"no picture here")
    with pytest.raises(ValueError, match="corrupt or unreadable image .*broken.png"):
        detect_landmarks(str(tmp_path / "broken.png"))
    with pytest.raises(ValueError, match="NaN"):
        detect_landmarks(np.full((300, 300), np.nan))
    from facexplain.faces.mesh import detect_many
    stack = np.zeros((3, 64, 64), np.float32)
    stack[2, 1, 1] = np.inf
    with pytest.raises(ValueError, match="image 2 of 3: image contains NaN or infinite values"):
        detect_many(stack)


# --- 6. numbers: NaN / inf never pass silently ------------------------------------------------------------
@pytest.fixture(scope="module")
def net():
    from facexplain.models.resnet import small_resnet18

    torch.manual_seed(0)
    return small_resnet18(3, widths=(4, 4, 8, 8), in_channels=1).eval()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("method", ["gradient", "lrp.epsilon_plus_flat", "gradcam"])
def test_non_finite_input_to_explain_raises(net, bad, method):
    from facexplain.explain import explain

    x = torch.randn(3, 1, 32, 32)
    x[1, 0, 5, 5] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(image\(s\) \[1\]\)"):
        explain(net, x, 0, method=method)


def test_explain_converts_a_numpy_batch_and_refuses_class_names(net):
    from facexplain.explain import explain

    x = torch.randn(2, 1, 32, 32)
    np.testing.assert_allclose(explain(net, x.numpy().astype(np.float64), [0, 2], method="gradient").numpy(),
                               explain(net, x, torch.tensor([0, 2]), method="gradient").numpy(), rtol=1e-5, atol=1e-7)
    assert explain(net, x.numpy(), np.int64(1), method="gradient").shape == (2, 32, 32)
    with pytest.raises(ValueError, match="target must be a class index .* got 'happiness'.*classes.index"):
        explain(net, x, "happiness", method="gradient")
    with pytest.raises(ValueError, match="target must be class indices"):
        explain(net, x, ["happiness", "anger"], method="gradient")
    with pytest.raises(ValueError, match="whole class indices"):
        explain(net, x, [0.5, 1.0], method="gradient")
    with pytest.raises(ValueError, match="x has dtype torch.uint8: explain the model's normalised float input"):
        explain(net, torch.zeros(1, 1, 32, 32, dtype=torch.uint8), 0, method="gradient")
    with pytest.raises(ValueError, match="x must be a float tensor"):
        explain(net, "faces.png", 0, method="gradient")


def test_batched_relevance_masses_refuse_nan_instead_of_reading_zero():
    from facexplain.metrics.relevance import relevance_mass, relevance_masses

    rng = np.random.default_rng(0)
    maps, masks = rng.random((3, 8, 8)), rng.random((3, 8, 8)) > 0.5
    good = relevance_masses(maps, masks)
    np.testing.assert_allclose(good, [relevance_mass(m, k) for m, k in zip(maps, masks)])
    np.testing.assert_allclose(relevance_masses(maps * 1e306, masks), good)     # no overflow in the sums
    for bad in (np.nan, np.inf, -np.inf):
        broken = maps.copy()
        broken[2, 3, 3] = bad
        with pytest.raises(ValueError, match=r"maps \[2\] contain NaN or inf"):
            relevance_masses(broken, masks)
    with pytest.raises(ValueError, match="relevance contains NaN or inf"):       # one map: already caught
        relevance_mass(np.full((4, 4), np.nan), np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="masks must be boolean"):
        relevance_masses(maps, np.full((3, 8, 8), np.nan))
    with pytest.raises(ValueError, match=r"maps is empty \(shape \(0, 8, 8\)\): give a batch"):
        relevance_masses(np.zeros((0, 8, 8)), np.zeros((0, 8, 8), bool))


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e300])
def test_map_cosine_is_scale_free_at_extreme_scales(scale):
    from facexplain.metrics.maps import map_cosine

    a = np.random.default_rng(1).random((16, 16))
    assert map_cosine(a * scale, a) == pytest.approx(1.0, abs=1e-12)
    assert map_cosine(a, a * scale) == pytest.approx(1.0, abs=1e-12)
    b = np.random.default_rng(2).random((16, 16))
    assert map_cosine(a * scale, b) == pytest.approx(map_cosine(a, b), abs=1e-12)
    with pytest.raises(ValueError, match="saliency contains NaN or infinite"):
        map_cosine(np.where(a > 0.5, np.nan, a), a)


def test_landmark_metrics_refuse_nan():
    from facexplain.metrics.landmarks import expression_displacement, topk_precision

    raw = np.random.default_rng(0).random((3, 2, 68, 2)) * 100
    raw[1, 0, 4] = np.nan
    with pytest.raises(ValueError, match=r"clips \[1\] contain NaN"):
        expression_displacement(raw)
    with pytest.raises(ValueError, match="ranking must hold whole landmark indices"):
        topk_precision([3.0, np.nan, 1.0], [3], 1)
    assert topk_precision(np.array([3, 2, 1]), [3, 1], np.int64(2)) == 0.5
    with pytest.raises(ValueError, match="k must be a whole number"):
        topk_precision([3, 2, 1], [3], 1.5)


def test_nan_affectnet_landmarks_and_boxes_name_file_and_line(affectnet_dir):
    lists = affectnet_dir / "Manually_Annotated_file_lists/training.csv"
    pts = face_points(left=12, top=22, width=36, height=36)
    pts[5] = np.nan
    write_text(lists, [affectnet_row("689/b.png", (10, 20, 40, 40), face_points(left=12, top=22, width=36, height=36),
                                     1), affectnet_row("689/a.jpg", (10, 20, 40, 40), pts, 2)])
    with pytest.raises(DatasetError, match=r"training.csv, line 2: facial_landmarks holds NaN"):
        load_dataset("affectnet", data_dir=affectnet_dir)
    write_text(lists, [affectnet_row("689/b.png", ("nan", 20, 40, 40), face_points(), 1)])
    with pytest.raises(DatasetError, match=r"training.csv, line 1: face box holds NaN"):
        load_dataset("affectnet", data_dir=affectnet_dir)
    write_text(lists, [affectnet_row("689/b.png", (10, 20, 40, 40), face_points(), 1, valence=float("inf"))])
    with pytest.raises(DatasetError, match=r"training.csv, line 1: valence/arousal holds NaN or inf"):
        load_dataset("affectnet", data_dir=affectnet_dir)


def test_nan_in_ckplus_and_unbc_landmark_files_names_the_file(ckplus_dir, unbc_dir):
    pts = face_points()
    pts[30] = np.nan
    write_points(ckplus_dir / "Landmarks/S010/002/S010_002_00000002_landmarks.txt", pts)
    with pytest.raises(DatasetError, match=r"S010_002_00000002_landmarks.txt, line 31: expected finite numbers"):
        load_dataset("ckplus", data_dir=ckplus_dir)
    aam = unbc_dir / "AAM_landmarks/095-tv095/tv095t2aeunaff/tv095t2aeunaff001_aam.txt"
    write_points(aam, np.where(np.arange(66)[:, None] == 0, np.inf, np.delete(pts, [60, 64], axis=0)))
    with pytest.raises(DatasetError, match=r"tv095t2aeunaff001_aam.txt, line 1: expected finite numbers"):
        load_dataset("unbc", data_dir=unbc_dir)
    facs = ckplus_dir / "FACS/S005/001/S005_001_00000003_facs.txt"        # a NaN AU code: named, not int(NaN)
    write_text(facs, [num(float("nan")) + num(2)])
    write_points(ckplus_dir / "Landmarks/S010/002/S010_002_00000002_landmarks.txt", face_points())
    with pytest.raises(DatasetError, match=r"S005_001_00000003_facs.txt, line 1: expected finite numbers"):
        load_dataset("ckplus", data_dir=ckplus_dir)


@pytest.mark.parametrize("loader, fixture, option, value, message", [
    ("ckplus", "ckplus_dir", "crop_scale", 0, "crop_scale must be a finite number > 0"),
    ("ckplus", "ckplus_dir", "crop_scale", -1.25, "crop_scale must be a finite number > 0"),
    ("ckplus", "ckplus_dir", "crop_scale", float("nan"), "crop_scale must be a finite number > 0"),
    ("ckplus", "ckplus_dir", "unscored_intensity", 0.0, r"unscored_intensity must be a finite number in \(0, 5\]"),
    ("ckplus", "ckplus_dir", "require_emotion", "yes", "require_emotion must be True or False"),
    ("ckplus", "ckplus_dir", "image_size", "big", "image_size must be a whole number >= 8; got 'big'"),
    ("ckplus", "ckplus_dir", "image_size", 4, "image_size must be a whole number >= 8"),
    ("ckplus", "ckplus_dir", "max_items", 2.5, "max_items must be a whole number >= 1"),
    ("unbc", "unbc_dir", "crop_scale", 0.0, "crop_scale must be a finite number > 0"),
    ("unbc", "unbc_dir", "frame_step", 0, "frame_step must be a whole number >= 1"),
    ("unbc", "unbc_dir", "frame_step", 1.5, "frame_step must be a whole number >= 1"),
    ("affectnet", "affectnet_dir", "crop_scale", -2, "crop_scale must be a finite number > 0"),
    ("affectnet", "affectnet_dir", "crop_scale", float("inf"), "crop_scale must be a finite number > 0"),
    ("affectnet", "affectnet_dir", "include_contempt", None, "include_contempt must be True or False"),
    ("rafdb", "rafdb_dir", "image_size", 64.5, "image_size must be a whole number >= 8"),
    ("rafdb", "rafdb_dir", "max_items", 0, "max_items must be a whole number >= 1"),
])
def test_loader_knobs_are_checked_by_name(loader, fixture, option, value, message, request):
    root = request.getfixturevalue(fixture)
    with pytest.raises(ValueError, match=message):
        load_dataset(loader, data_dir=root, **{option: value})


def test_loader_knobs_accept_numpy_numbers(ckplus_dir):
    ds = load_dataset("ckplus", data_dir=ckplus_dir, image_size=np.int64(24), crop_scale=np.float32(1.5),
                      max_items=np.int32(2), require_emotion=np.bool_(True))
    assert ds.images.shape == (2, 24, 24)


@pytest.mark.parametrize("option, value", [("n", 2.5), ("n", 0), ("seed", "x"), ("seed", -1), ("n_frames", 0),
                                           ("image_size", "big")])
def test_synthetic_options_are_named(option, value):
    with pytest.raises(ValueError, match=f"{option} must be a whole number"):
        load_dataset("synthetic", **{"n": 2, option: value}, cache=False)


@pytest.mark.parametrize("option, value", [("n_sequences", 2.5), ("n_frames", 1), ("seed", "x"),
                                           ("image_size", "big")])
def test_sequence_options_are_named(option, value):
    from facexplain.data.sequences import load_sequences

    with pytest.raises(ValueError, match=f"{option} must be a whole number"):
        load_sequences("synthetic", **{"n_sequences": 12, "n_frames": 3, option: value})


# --- 7. smaller points -----------------------------------------------------------------------------------------
def test_macos_dot_files_are_skipped(ckplus_dir, unbc_dir):
    before = load_dataset("ckplus", data_dir=ckplus_dir, frames="all")
    fork = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "              # an AppleDouble resource fork
    (ckplus_dir / "cohn-kanade-images/S005/001/._S005_001_00000001.png").write_bytes(fork)
    (ckplus_dir / "Emotion/S005/001/._S005_001_00000003_emotion.txt").write_bytes(fork)
    (ckplus_dir / "FACS/S005/001/._S005_001_00000003_facs.txt").write_bytes(fork)
    (ckplus_dir / "cohn-kanade-images/S005/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    after = load_dataset("ckplus", data_dir=ckplus_dir, frames="all")
    assert len(after) == len(before) and list(after.extra["rel"]) == list(before.extra["rel"])
    np.testing.assert_array_equal(after.images, before.images)
    (unbc_dir / "Images/042-ll042/ll042t1aaaff/._ll042t1aaaff001.png").write_bytes(fork)
    assert len(load_dataset("unbc", data_dir=unbc_dir)) == 4


def test_utf8_bom_in_label_files(ckplus_dir, rafdb_dir, affectnet_dir):
    bom = "\ufeff"
    emotion = ckplus_dir / "Emotion/S010/002/S010_002_00000002_emotion.txt"
    emotion.write_text(bom + num(5.0) + "\n", encoding="utf-8")
    assert list(load_dataset("ckplus", data_dir=ckplus_dir).emotion)[1] == "happiness"
    labels = rafdb_dir / "basic/EmoLabel/list_patition_label.txt"
    labels.write_text(bom + labels.read_text(), encoding="utf-8")
    assert list(load_dataset("rafdb", data_dir=rafdb_dir).emotion) == ["sadness", "surprise", "neutral"]
    lists = affectnet_dir / "Manually_Annotated_file_lists/training.csv"
    lists.write_text(bom + lists.read_text(), encoding="utf-8")                    # BOM before the header row
    assert list(load_dataset("affectnet", data_dir=affectnet_dir).emotion) == ["happiness", "contempt"]


def test_rafdb_duplicate_lines(rafdb_dir):
    labels = rafdb_dir / "basic/EmoLabel/list_patition_label.txt"
    labels.write_text(labels.read_text() + "train_00002.jpg 1\n")                 # the same line again: one face
    assert list(load_dataset("rafdb", data_dir=rafdb_dir).subject) == ["train_00001", "train_00002", "train_00003"]
    labels.write_text(labels.read_text() + "train_00001.jpg 3\n")                 # another code: which one?
    with pytest.raises(DatasetError, match=r"train_00001.jpg is labelled twice with different codes, sadness on "
                                           r"line 1 and disgust on line 6"):
        load_dataset("rafdb", data_dir=rafdb_dir)


def test_game_counts_accept_numpy_integers_and_refuse_the_rest():
    from facexplain.game.instructions import instructions
    from facexplain.game.players import simulate_study
    from facexplain.game.scoring import au_set

    target, player = {1, 2, 12, 25}, {4}
    assert instructions(target, player, max_items=np.int64(2)) == instructions(target, player, max_items=2)
    assert len(instructions(target, player, max_items=np.int64(2))) == 2
    assert instructions(target, player, max_items=2.0) == instructions(target, player, max_items=2)
    for bad in (0, 2.5, "2", True, float("nan")):
        with pytest.raises(ValueError, match="max_items must be a whole number >= 1"):
            instructions(target, player, max_items=bad)
    for kwargs, message in [(dict(n_players=4.5), "n_players must be a whole number"),
                            (dict(n_players=3), "n_players must be an even number"),
                            (dict(n_tries=np.float64(2.5)), "n_tries must be a whole number >= 2"),
                            (dict(seed="x"), "seed must be a whole number")]:
        with pytest.raises(ValueError, match=message):
            simulate_study({"t": {12}}, None, **kwargs)
    with pytest.raises(ValueError, match="not a single value"):
        au_set(np.int64(12))


# --- what already answered with a clear error: kept that way -------------------------------------------------
def test_cases_that_already_named_the_fix_still_do(tmp_path):
    from facexplain.explain import explain
    from facexplain.faces.aus import au_number
    from facexplain.game.instructions import instructions
    from facexplain.metrics.maps import map_cosine
    from facexplain.metrics.relevance import relevance_mass

    with pytest.raises(ValueError, match="unknown dataset 'fer2013'"):
        load_dataset("fer2013", data_dir=tmp_path)
    with pytest.raises(ValueError, match="AU99"):
        au_number("AU99")
    with pytest.raises(ValueError, match="unknown Action Unit 99: expected one of 1, 2, 4"):
        instructions({12, 99}, {12})
    r = np.random.default_rng(0).random((8, 8))
    with pytest.raises(ValueError, match="mask shape .* does not match"):
        relevance_mass(r, np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="mask selects no pixel"):
        relevance_mass(r, np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="mask must be boolean"):
        relevance_mass(r, np.full((8, 8), 0.5))
    with pytest.raises(ValueError, match="all zero .*neutral faces have no AU map"):
        map_cosine(r, np.zeros((8, 8)))
    with pytest.raises(ValueError, match="unknown explanation method 'lrp.magic'"):
        explain(torch.nn.Identity(), torch.zeros(1, 1, 4, 4), 0, method="lrp.magic")


# --- 4. bad parameter values are refused before any work (the settings resolver, built by the studies helper) --
STUDIES = {"00_faces": "faces", "01_au_lrp": "au_lrp", "02_face_game": "face_game", "03_landmark_ig": "landmark_ig",
           "04_au_guided_fer": "au_guided_fer", "10_explainers_compared": "explainers_compared",
           "11_shortcuts": "shortcuts", "12_au_emotion_codebooks": "codebooks"}


def _study(chapter):
    from importlib import import_module
    return import_module(f"facexplain.studies.{STUDIES[chapter]}")


@pytest.mark.parametrize("name, value", [("n_seeds", "notanumber"), ("n_seeds", 0), ("n_seeds", 2.5),
                                         ("seed", "abc"), ("ig_steps", -1), ("ks", "[468, 'x']")])
def test_chapter_03_parameters_are_checked_by_name(name, value):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        _study("03_landmark_ig").settings("cpu", **{name: value})


@pytest.mark.parametrize("chapter", sorted(STUDIES))
def test_every_chapter_names_a_bad_seed_device_preset_or_unknown_parameter(chapter):
    study = _study(chapter)
    assert study.settings("cpu").seed == 0                          # the defaults pass
    for given, name in [(dict(seed="abc"), "seed"), (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
                        (dict(device="gpu9"), "device"), (dict(no_such_parameter=1), "no_such_parameter")]:
        with pytest.raises(ValueError, match=name):
            study.settings("cpu", **given)
    with pytest.raises(ValueError, match="preset"):
        study.settings("laptop")


@pytest.mark.slow
def test_a_bad_parameter_stops_the_chapter_in_its_first_cell(tmp_path):
    """`-p n_seeds notanumber` for chapter 03: the failure names n_seeds, in the first cell after the parameters,
    before any data is loaded or any network trained."""
    import nbformat

    from facexplain import book

    chapter = next(c for c in book.chapters(book.repo_root()) if c.name == "03_landmark_ig")
    with pytest.raises(book.BookError, match="n_seeds") as err:
        book.execute(chapter, tmp_path, {"n_seeds": "notanumber", "results_dir": str(tmp_path / "results")},
                     progress=False)
    failed = nbformat.read(str(next(tmp_path.glob("03_landmark_ig*.ipynb"))), as_version=4)
    code = [c for c in failed.cells if c.cell_type == "code"]
    injected = next(i for i, c in enumerate(code) if "injected-parameters" in c.metadata.get("tags", []))
    errors = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert errors == [injected + 1], str(err.value)
    assert all(c.get("execution_count") is None for c in code[injected + 2:])    # nothing after it ran
