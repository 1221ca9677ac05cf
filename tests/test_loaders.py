"""Real-dataset loaders on tiny fixture trees written here in each dataset's native layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facexplain.data.affectnet import load_affectnet
from facexplain.data.ckplus import load_ckplus
from facexplain.data.errors import DatasetError
from facexplain.data.rafdb import load_rafdb
from facexplain.data.records import FaceDataset
from facexplain.data.unbc import load_unbc

SIZE = 32
MARKER = 8  # the landmark that carries a bright marker in fixture images: off-centre in x and y
BOOK_EMOTIONS = {"anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt", None}


# --- fixture writers ------------------------------------------------------------------------------------
def num(x: float) -> str:
    """A number as the CK+/UNBC label files write it: '   3.0000000e+00'."""
    return f"   {x:.7e}"


def face_points(n: int = 68, left=20.0, top=12.0, width=24.0, height=28.0) -> np.ndarray:
    """n landmark-like points on an ellipse filling a box (extent width x height)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([left + width / 2 * (1 + np.cos(t)), top + height / 2 * (1 + np.sin(t))], 1)
    pts[MARKER] = np.round(pts[MARKER])  # on a pixel centre, where frame_image draws the marker
    return pts


def frame_image(points, shape=(48, 64), marker=MARKER) -> np.ndarray:
    """A dark frame with a bright 3x3 marker on landmark `marker` (to check landmarks follow the crop)."""
    img = np.full(shape, 30, np.uint8)
    x, y = np.round(points[marker]).astype(int)
    img[y - 1:y + 2, x - 1:x + 2] = 250
    return img


def write_image(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_text(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def write_points(path, points):
    write_text(path, [num(x) + num(y) for x, y in points])


def marker_error(ds: FaceDataset, i: int, marker: int = MARKER) -> float:
    """Distance between the bright marker's centroid and where the loader put landmark `marker`."""
    weight = np.clip(ds.images[i].astype(float) - 60, 0, None)
    ys, xs = np.indices(weight.shape)
    centre = np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()
    return float(np.hypot(*(ds.landmarks[i, marker] - centre)))


@pytest.fixture
def ckplus_dir(tmp_path):
    """S005/001: 3 frames, disgust, AU9@2 AU17@0(unscored); S010/002: 2 frames, happiness;
    S010/003: 2 frames, FACS only (no Emotion file)."""
    root = tmp_path / "CK+"
    seqs = {("S005", "001"): (3, 3.0, [(9, 2), (17, 0)]),
            ("S010", "002"): (2, 5.0, [(6, 3), (12, 4)]),
            ("S010", "003"): (2, None, [(1, 1), (2, 1)])}
    for (subject, seq), (n, emotion, facs) in seqs.items():
        for f in range(1, n + 1):
            stem = f"{subject}_{seq}_{f:08d}"
            pts = face_points(left=18 + f, top=10 + f)
            write_image(root / "cohn-kanade-images" / subject / seq / f"{stem}.png", frame_image(pts))
            write_points(root / "Landmarks" / subject / seq / f"{stem}_landmarks.txt", pts)
        peak = f"{subject}_{seq}_{n:08d}"
        if emotion is not None:
            write_text(root / "Emotion" / subject / seq / f"{peak}_emotion.txt", [num(emotion)])
        write_text(root / "FACS" / subject / seq / f"{peak}_facs.txt", [num(a) + num(i) for a, i in facs])
    return root


@pytest.fixture
def rafdb_dir(tmp_path):
    root = tmp_path / "RAF-DB"
    labels = {"train_00001.jpg": 5, "train_00002.jpg": 1, "train_00003.jpg": 7, "test_0001.jpg": 4}
    for k, name in enumerate(labels):
        stem = name[:-4]
        write_image(root / "basic" / "Image" / "aligned" / f"{stem}_aligned.jpg",
                    np.full((100, 100, 3), 40 * k + 20, np.uint8))
        write_image(root / "basic" / "Image" / "original" / name, np.zeros((200, 150, 3), np.uint8))
    write_text(root / "basic" / "EmoLabel" / "list_patition_label.txt", [f"{n} {c}" for n, c in labels.items()])
    return root


AFFECTNET_HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,"
                    "expression,valence,arousal")


def affectnet_row(rel, box, points, expression, valence=0.5, arousal=-0.25):
    marks = ";".join(f"{v:.2f}" for v in np.asarray(points).ravel())
    return f"{rel},{box[0]},{box[1]},{box[2]},{box[3]},{marks},{expression},{valence},{arousal}"


@pytest.fixture
def affectnet_dir(tmp_path):
    """Two faces in training.csv (codes 1 happy, 7 contempt) plus one coded 8 (none); validation.csv
    without a header, one face coded 6 (anger)."""
    root = tmp_path / "AffectNet"
    images = root / "Manually_Annotated_Images"
    box = (10, 20, 40, 40)  # x, y, w, h in a 100 x 80 photo
    pts = face_points(left=12, top=22, width=36, height=36)
    photo = frame_image(pts, shape=(80, 100))
    for rel in ("689/a.jpg", "689/b.png", "1/c.png", "2/d.png"):
        write_image(images / rel, photo)
    lists = root / "Manually_Annotated_file_lists"
    write_text(lists / "training.csv", [AFFECTNET_HEADER, affectnet_row("689/b.png", box, pts, 1),
                                        affectnet_row("1/c.png", box, pts, 8),
                                        affectnet_row("689/a.jpg", box, pts, 7, 0.1, 0.9)])
    write_text(lists / "validation.csv", [affectnet_row("2/d.png", box, pts, 6)])
    return root


@pytest.fixture
def unbc_dir(tmp_path):
    """Subject 042-ll042: 3 frames (AU4@2 AU6@1 / empty FACS file / no FACS file); 095-tv095: 1 frame AU43@1."""
    root = tmp_path / "UNBC"
    frames = {("042-ll042", "ll042t1aaaff"): [[(4, 2), (6, 1)], [], None],
              ("095-tv095", "tv095t2aeunaff"): [[(43, 1)]]}
    for (subject, seq), labels in frames.items():
        for f, facs in enumerate(labels, 1):
            stem = f"{seq}{f:03d}"
            rel = f"{subject}/{seq}"
            pts68 = face_points(left=16 + f, top=10)
            pts66 = np.delete(pts68, [60, 64], axis=0)
            write_image(root / "Images" / rel / f"{stem}.png", frame_image(pts68))
            write_points(root / "AAM_landmarks" / rel / f"{stem}_aam.txt", pts66)
            if facs is not None:
                write_text(root / "Frame_Labels" / "FACS" / rel / f"{stem}_facs.txt",
                           [num(a) + num(i) + num(0) for a, i in facs])
                write_text(root / "Frame_Labels" / "PSPI" / rel / f"{stem}_facs.txt", [num(sum(i for _, i in facs))])
    return root


# --- CK+ -------------------------------------------------------------------------------------------------
def test_ckplus_peak_frames(ckplus_dir):
    ds = load_ckplus(ckplus_dir, image_size=SIZE)
    assert isinstance(ds, FaceDataset) and len(ds) == 3
    assert ds.images.shape == (3, SIZE, SIZE) and ds.images.dtype == np.uint8
    assert list(ds.extra["sequence"]) == ["S005_001", "S010_002", "S010_003"]
    assert list(ds.emotion) == ["disgust", "happiness", None]
    assert list(ds.subject) == ["S005", "S010", "S010"] and list(ds.frame) == [2, 1, 1]
    assert ds.au_numbers == (1, 2, 6, 9, 12, 17)
    first = ds[0]
    assert first.aus == {9: 2.0, 17: 1.0}  # AU17 listed with intensity 0 = present, unscored -> 1.0
    assert ds[1].aus == {6: 3.0, 12: 4.0} and ds[2].aus == {1: 1.0, 2: 1.0}
    assert ds.landmarks.shape == (3, 68, 2)
    for i in range(3):
        assert marker_error(ds, i) < 0.3


def test_ckplus_landmarks_fill_the_crop(ckplus_dir):
    ds = load_ckplus(ckplus_dir, image_size=SIZE, crop_scale=1.25)
    lo, hi = ds.landmarks[0].min(0), ds.landmarks[0].max(0)
    # the landmark extent (28 px high in the frame) spans 1/1.25 of the crop and sits in its middle
    assert hi[1] - lo[1] == pytest.approx(SIZE / 1.25, abs=0.7)
    assert (lo + hi) / 2 == pytest.approx([(SIZE - 1) / 2] * 2, abs=0.7)


def test_ckplus_frame_options(ckplus_dir):
    ds = load_ckplus(ckplus_dir, image_size=SIZE, frames="first_last")
    assert len(ds) == 6
    assert list(ds.emotion) == ["neutral", "disgust", "neutral", "happiness", "neutral", None]
    assert np.all(ds.au_intensity[0] == 0)  # the neutral first frame: every AU absent
    ds = load_ckplus(ckplus_dir, image_size=SIZE, frames="all")
    assert len(ds) == 7 and list(ds.frame[:3]) == [0, 1, 2]
    assert ds.emotion[1] is None and np.isnan(ds.au_intensity[1]).all()  # in-between frame: not coded
    assert all(marker_error(ds, i) < 0.3 for i in range(len(ds)))
    ds = load_ckplus(ckplus_dir, image_size=SIZE, require_emotion=True)
    assert list(ds.extra["sequence"]) == ["S005_001", "S010_002"]
    assert len(load_ckplus(ckplus_dir, image_size=SIZE, frames="all", max_items=4)) == 4


def test_ckplus_centre_crop_without_landmarks(ckplus_dir):
    ds = load_ckplus(ckplus_dir, image_size=48, crop="centre")  # 64x48 frame -> central 48x48, scale 1
    pts = face_points(left=18 + 3, top=10 + 3)
    np.testing.assert_allclose(ds.landmarks[0], pts - (8, 0), atol=1e-4)
    import shutil
    shutil.rmtree(ckplus_dir / "Landmarks")
    ds = load_ckplus(ckplus_dir, image_size=SIZE, crop="centre")
    assert ds.landmarks is None and ds[0].landmarks is None
    with pytest.raises(DatasetError, match="Landmarks/"):
        load_ckplus(ckplus_dir, image_size=SIZE)


# --- RAF-DB ----------------------------------------------------------------------------------------------
def test_rafdb_splits_and_labels(rafdb_dir):
    ds = load_rafdb(rafdb_dir, image_size=SIZE)
    assert len(ds) == 3 and ds.images.shape == (3, SIZE, SIZE)
    assert list(ds.emotion) == ["sadness", "surprise", "neutral"]
    assert list(ds.subject) == ["train_00001", "train_00002", "train_00003"]
    assert ds.landmarks is None and ds.au_numbers == () and ds[0].aus == {}
    assert abs(int(ds.images[1].mean()) - 60) <= 2  # the second aligned image, grey level 60
    test = load_rafdb(rafdb_dir / "basic", image_size=SIZE, split="test")  # basic/ itself works too
    assert list(test.emotion) == ["happiness"] and list(test.extra["split"]) == ["test"]
    assert len(load_rafdb(rafdb_dir, split="all", max_items=2)) == 2


# --- AffectNet -------------------------------------------------------------------------------------------
def test_affectnet_crop_landmarks_and_labels(affectnet_dir):
    ds = load_affectnet(affectnet_dir, image_size=20)
    assert list(ds.emotion) == ["happiness", "contempt"]  # code 8 (none) skipped
    assert ds.info["skipped"]["none"] == 1
    np.testing.assert_allclose(ds.extra["valence"], [0.5, 0.1])
    assert ds.landmarks.shape == (2, 68, 2) and ds.au_numbers == ()
    # face box x=10 y=20 side 40 -> 20 px: x' = (x + 0.5 - 10) / 2 - 0.5
    pts = np.round(face_points(left=12, top=22, width=36, height=36), 2)
    np.testing.assert_allclose(ds.landmarks[0], (pts + 0.5 - (10, 20)) / 2 - 0.5, atol=1e-3)
    assert marker_error(ds, 0) < 0.3
    val = load_affectnet(affectnet_dir, image_size=20, split="validation")  # no header row
    assert list(val.emotion) == ["anger"] and list(val.subject) == ["2/d.png"]
    assert list(load_affectnet(affectnet_dir, include_contempt=False).emotion) == ["happiness"]


# --- UNBC ------------------------------------------------------------------------------------------------
def test_unbc_frames_aus_pspi_landmarks(unbc_dir):
    ds = load_unbc(unbc_dir, image_size=SIZE)
    assert len(ds) == 4 and list(ds.subject) == ["042-ll042"] * 3 + ["095-tv095"]
    assert list(ds.frame) == [0, 1, 2, 0] and set(ds.emotion) == {None}
    assert ds.au_numbers == (4, 6, 7, 9, 10, 12, 20, 25, 26, 27, 43)
    assert ds[0].aus == {4: 2.0, 6: 1.0}
    assert ds[1].aus == {} and np.all(ds.au_intensity[1] == 0)  # empty FACS file: coded, nothing active
    assert np.isnan(ds.au_intensity[2]).all()  # no FACS file: not coded
    assert ds[3].aus == {43: 1.0}
    np.testing.assert_allclose(ds.extra["pspi"], [3, 0, np.nan, 1])
    assert list(ds.extra["sequence"]) == ["ll042t1aaaff"] * 3 + ["tv095t2aeunaff"]
    assert ds.landmarks.shape == (4, 68, 2)
    np.testing.assert_array_equal(ds.landmarks[:, 60], ds.landmarks[:, 48])  # 66 -> 68 convention
    np.testing.assert_array_equal(ds.landmarks[:, 64], ds.landmarks[:, 54])
    assert all(marker_error(ds, i) < 0.3 for i in range(4))
    assert len(load_unbc(unbc_dir, image_size=SIZE, frame_step=2)) == 3  # frames 0, 2 and 0


# --- bad input -> one clear DatasetError ---------------------------------------------------------------------
LOADERS = [load_ckplus, load_rafdb, load_affectnet, load_unbc]


@pytest.mark.parametrize("loader", LOADERS)
def test_missing_dir(loader, tmp_path):
    with pytest.raises(DatasetError, match="does not exist") as err:
        loader(tmp_path / "nowhere")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ValueError)
    with pytest.raises(DatasetError, match="no data_dir"):
        loader(None)


@pytest.mark.parametrize("loader, name, expected", [
    (load_ckplus, "CK\\+", "cohn-kanade-images"), (load_rafdb, "RAF-DB", "Image/aligned"),
    (load_affectnet, "AffectNet", "Manually_Annotated_Images"), (load_unbc, "UNBC-McMaster", "Images")])
def test_wrong_layout(loader, name, expected, tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DatasetError, match=f"no {name} found in .*expected .*{expected}.*found \\['photos/'\\]"):
        loader(tmp_path)


def test_ckplus_wrong_layout_no_labels(ckplus_dir):
    import shutil
    shutil.rmtree(ckplus_dir / "Emotion")
    shutil.rmtree(ckplus_dir / "FACS")
    with pytest.raises(DatasetError, match="expected cohn-kanade-images/ and Emotion/"):
        load_ckplus(ckplus_dir)


def test_corrupt_images(ckplus_dir, rafdb_dir, affectnet_dir, unbc_dir):
    cases = [(load_ckplus, ckplus_dir / "cohn-kanade-images/S005/001/S005_001_00000003.png"),
             (load_rafdb, rafdb_dir / "basic/Image/aligned/train_00002_aligned.jpg"),
             (load_affectnet, affectnet_dir / "Manually_Annotated_Images/689/a.jpg"),
             (load_unbc, unbc_dir / "Images/042-ll042/ll042t1aaaff/ll042t1aaaff002.png")]
    for loader, path in cases:
        path.write_bytes(b"not an image at all")
        with pytest.raises(DatasetError, match="corrupt or unreadable image .*" + path.name):
            loader(_root(path))


def _root(path):
    for parent in path.parents:
        if parent.name in ("CK+", "RAF-DB", "AffectNet", "UNBC"):
            return parent
    raise AssertionError(path)


def test_missing_image_named(rafdb_dir):
    (rafdb_dir / "basic/Image/aligned/test_0001_aligned.jpg").unlink()
    with pytest.raises(DatasetError, match="test_0001_aligned.jpg is missing"):
        load_rafdb(rafdb_dir, split="test")


def test_unknown_label_codes(ckplus_dir, rafdb_dir, affectnet_dir):
    emotion = ckplus_dir / "Emotion/S010/002/S010_002_00000002_emotion.txt"
    write_text(emotion, [num(9.0)])
    with pytest.raises(DatasetError, match=r"S010_002_00000002_emotion.txt, line 1: unknown label code '9.0'; "
                                           r"allowed codes are 0 neutral, 1 anger, 2 contempt.*7 surprise"):
        load_ckplus(ckplus_dir)

    labels = rafdb_dir / "basic/EmoLabel/list_patition_label.txt"
    labels.write_text("train_00001.jpg 5\ntrain_00002.jpg 8\n")
    with pytest.raises(DatasetError, match=r"list_patition_label.txt, line 2: unknown label code '8'; "
                                           r"allowed codes are 1 surprise.*7 neutral"):
        load_rafdb(rafdb_dir)

    lists = affectnet_dir / "Manually_Annotated_file_lists/validation.csv"
    pts = face_points()
    write_text(lists, [affectnet_row("2/d.png", (1, 1, 5, 5), pts, 6), affectnet_row("2/d.png", (1, 1, 5, 5), pts, 11)])
    with pytest.raises(DatasetError, match=r"validation.csv, line 2: unknown label code '11'; allowed codes are "
                                           r"0 neutral.*10 no-face"):
        load_affectnet(affectnet_dir, split="validation")


def test_bad_facs_and_pspi_lines(ckplus_dir, unbc_dir):
    facs = ckplus_dir / "FACS/S005/001/S005_001_00000003_facs.txt"
    write_text(facs, [num(9) + num(2), num(12) + num(7)])
    with pytest.raises(DatasetError, match=r"S005_001_00000003_facs.txt, line 2: intensity 7 of AU12 .*0..5"):
        load_ckplus(ckplus_dir)
    bad = unbc_dir / "Frame_Labels/FACS/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt"
    write_text(bad, ["   4.0000000e+00   two"])
    with pytest.raises(DatasetError, match=r"ll042t1aaaff001_facs.txt, line 1: expected numbers"):
        load_unbc(unbc_dir)
    write_text(bad, [num(4) + num(2)])
    pspi = unbc_dir / "Frame_Labels/PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt"
    write_text(pspi, [num(20)])
    with pytest.raises(DatasetError, match=r"ll042t1aaaff001_facs.txt: expected one PSPI score between 0 and 16"):
        load_unbc(unbc_dir)


def test_bad_landmark_files(ckplus_dir, unbc_dir):
    lm = ckplus_dir / "Landmarks/S005/001/S005_001_00000003_landmarks.txt"
    write_points(lm, face_points()[:60])
    with pytest.raises(DatasetError, match="S005_001_00000003_landmarks.txt: expected 68 lines 'x y', found 60"):
        load_ckplus(ckplus_dir)
    (unbc_dir / "AAM_landmarks/095-tv095/tv095t2aeunaff/tv095t2aeunaff001_aam.txt").unlink()
    with pytest.raises(DatasetError, match="tv095t2aeunaff001_aam.txt"):
        load_unbc(unbc_dir)


def test_never_silently_empty(ckplus_dir, rafdb_dir, tmp_path):
    import shutil
    shutil.rmtree(ckplus_dir / "Emotion")
    with pytest.raises(DatasetError, match="no CK\\+ sequences with an Emotion file"):
        load_ckplus(ckplus_dir, require_emotion=True)
    (rafdb_dir / "basic/EmoLabel/list_patition_label.txt").write_text("train_00001.jpg 5\n")
    with pytest.raises(DatasetError, match="lists no 'test' images"):
        load_rafdb(rafdb_dir, split="test")
    empty = tmp_path / "U"
    (empty / "Images").mkdir(parents=True)
    (empty / "Frame_Labels/FACS").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no UNBC frames found"):
        load_unbc(empty, crop="centre")


def test_bad_options(ckplus_dir):
    with pytest.raises(ValueError, match="unknown frames='peaks'"):
        load_ckplus(ckplus_dir, frames="peaks")
    with pytest.raises(ValueError, match="max_items"):
        load_ckplus(ckplus_dir, max_items=0)


def test_emotions_are_book_names(ckplus_dir, rafdb_dir, affectnet_dir):
    for ds in (load_ckplus(ckplus_dir, frames="all"), load_rafdb(rafdb_dir, split="all"), load_affectnet(affectnet_dir)):
        assert set(ds.emotion) <= BOOK_EMOTIONS


def test_load_dataset_dispatches_to_the_loaders(ckplus_dir, unbc_dir):
    from facexplain.data import load_dataset
    ds = load_dataset("ckplus", data_dir=ckplus_dir.parent, image_size=SIZE, frames="first_last")  # finds CK+/
    assert ds.name == "ckplus" and len(ds) == 6
    assert load_dataset("UNBC", data_dir=str(unbc_dir), image_size=SIZE, max_items=2).name == "unbc"
