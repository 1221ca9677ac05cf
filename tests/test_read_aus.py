"""faces.read_aus: AUs from a photo (Face Mesh -> aligned landmarks -> per-AU linear model), its JSON export for the
browser game, and how it reads Grace Hopper's near-neutral portrait."""

import json

import numpy as np
import pytest

from facexplain.faces import NoFaceFound, read_aus, read_aus_model
from facexplain.faces.mesh import detect_landmarks
from facexplain.faces.au_reader import READ_REGIONS, apply_model, regions_of, similarity_align
from facexplain.faces.template import photo


@pytest.fixture(scope="module")
def model():
    return read_aus_model()


def test_model_is_plain_json_that_describes_the_whole_computation(model):
    again = json.loads(json.dumps(model))
    assert again == model
    assert len(model["reference"]) == 468 and len(model["reference"][0]) == 2
    n_features = 2 * len(model["feature_points"])
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
