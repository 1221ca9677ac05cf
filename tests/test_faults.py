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
    (tmp_path / "broken.png").write_bytes(b"no picture here")
    with pytest.raises(ValueError, match="corrupt or unreadable image .*broken.png"):
        detect_landmarks(str(tmp_path / "broken.png"))
    with pytest.raises(ValueError, match="NaN"):
        detect_landmarks(np.full((300, 300), np.nan))
