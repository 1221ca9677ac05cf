"""faces.read_aus: AUs from a photo (Face Mesh -> aligned landmarks -> scale-free measures -> per-AU linear model),
its JSON export for the browser game, how it reads the two public-domain photos (the astronaut's smile, Grace
Hopper's near-neutral portrait) and how it scores on generated faces of subjects left out of its fitting."""

import json

import numpy as np
import pytest

from facexplain.faces import NoFaceFound, read_aus, read_aus_model
from facexplain.faces.mesh import detect_landmarks
from facexplain.faces.au_reader import (EYE_CORNERS, READ_REGIONS, apply_model, held_out_scores, model_features,
                                       regions_of, similarity_align)
from facexplain.faces.template import photo


@pytest.fixture(scope="module")
def model():
    return read_aus_model()


def test_model_is_plain_json_that_describes_the_whole_computation(model):
    again = json.loads(json.dumps(model))
    assert again == model
    assert len(model["reference"]) == 468 and len(model["reference"][0]) == 2
    n_features = len(model["measures"])
    for head in ("template", "neutral"):
        h = model["heads"][head]
        assert np.shape(h["coef"]) == (len(model["aus"]), n_features) == np.shape(h["int_coef"])
        assert len(h["threshold"]) == len(model["aus"]) == len(h["intercept"])
    # read_aus is exactly apply_model on Face Mesh points (what the browser mirrors)
    img = photo("astronaut")
    assert read_aus(img) == apply_model(model, detect_landmarks(img))


def test_similarity_alignment_removes_scale_rotation_and_shift(model):
    ref = np.asarray(model["reference"])
    th = 0.3
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    moved = 80.0 * ref @ rot.T + [200.0, 150.0]
    assert np.allclose(similarity_align(moved, ref), ref, atol=1e-9)
    assert apply_model(model, moved) == apply_model(model, ref)


def test_measures_are_in_interocular_distances_and_vanish_against_the_same_face(model):
    ref = np.asarray(model["reference"])
    right, left = ref[list(EYE_CORNERS[:2])].mean(0), ref[list(EYE_CORNERS[2:])].mean(0)
    assert np.linalg.norm(left - right) == pytest.approx(1.0, abs=1e-5)
    pts = detect_landmarks(photo("astronaut"))
    assert np.allclose(model_features(model, pts, pts), 0.0, atol=1e-12)
    # the same face at another size and place: the same measures
    assert np.allclose(model_features(model, 0.5 * pts + 40.0), model_features(model, pts), atol=1e-9)
    widths = {m["name"]: v for m, v in zip(model["measures"], model_features(model, pts))}
    assert 0.6 < widths["mouth width"] < 1.6 and widths["mouth opening"] > 0     # her smile: wide, lips apart


def test_astronaut_smile_reads_the_lip_corner_puller_and_no_brow_au():
    aus = read_aus(photo("astronaut"))
    assert 12 in aus, aus
    assert not {1, 2, 4} & set(aus), aus
    # AU6 (cheek raiser), which issue 12 also asks for, is not asserted: it is not read. Measured: Face Mesh puts her
    # lower lids and cheek rows 0.003-0.007 IOD above the mean resting generated face (0.3-0.65 sd of resting
    # faces of different subjects), about what it shows for the generator's AU6 at intensity 4; her AU6 probability
    # ranks at about the median of the calibration subjects' neutral faces, far from the 95th-percentile threshold.


def test_held_out_subjects_read_above_chance_where_face_mesh_follows_the_au():
    table = held_out_scores()
    assert table.attrs["subjects"] >= 300
    # the AUs whose movement MediaPipe follows on generated faces (brows, nose, lip corners, wide-open mouth)
    for au in (1, 2, 9, 12, 27):
        assert table.loc[au, "f1_template"] > table.loc[au, "chance_f1"] + 0.1, table.loc[au]
        assert table.loc[au, "f1_neutral"] > table.loc[au, "chance_f1"] + 0.1, table.loc[au]
    # faces at rest of people the reader never saw read each AU about as rarely as its thresholds promise (5%)
    assert table.rest_rate.max() < 0.1, table.rest_rate


def test_grace_hopper_near_neutral_portrait_shows_at_most_one_region():
    aus = read_aus(photo("grace_hopper"))
    assert len(regions_of(aus)) <= 1, aus


def test_grey_rgb_rgba_uint8_and_float_images_read_alike():
    rgb = photo("astronaut")
    grey = rgb.mean(-1)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1)
    base = read_aus(rgb)
    assert read_aus(rgba) == base
    assert read_aus(rgb.astype(np.float32) / 255.0) == base
    assert set(read_aus(grey.astype(np.uint8))) == set(read_aus(grey / 255.0))


def test_no_face_raises_the_named_error():
    with pytest.raises(NoFaceFound):
        read_aus(np.full((200, 200), 128, np.uint8))
    with pytest.raises(NoFaceFound):
        read_aus(photo("astronaut"), neutral=np.zeros((200, 200, 3), np.uint8))


def test_regions_cover_every_au_the_reader_knows(model):
    covered = {a for members in READ_REGIONS.values() for a in members}
    assert set(model["aus"]) <= covered


def test_batched_fitting_features_equal_the_per_face_ones(model):
    from facexplain.faces.au_reader import _batch_features
    pts = np.stack([detect_landmarks(photo(n)) for n in ("astronaut", "grace_hopper")])
    moved = pts * 1.7 + 30.0
    expected = np.stack([model_features(model, p) for p in moved])
    assert np.allclose(_batch_features(model, moved), expected, atol=1e-12)
