"""The faces layer: AU vocabulary, codebooks, landmark schemes, AU boxes and maps, Face Mesh on a real photo."""

import numpy as np
import pytest

from facexplain.faces import (ACTION_UNITS, EMOTIONS, GENERATOR_AUS, MESH_TO_IBUG68, action_unit, au_box_mask,
                              au_boxes, au_map, au_number, codebook, codebook_matrix, interocular_distance,
                              mesh_to_ibug68)
from facexplain.faces.mesh import NoFaceFound, detect_landmarks
from facexplain.faces.template import astronaut_mesh


def test_au_lookup_accepts_numbers_and_labels():
    assert au_number("AU12") == 12 and au_number(" au4") == 4 and au_number(6) == 6
    assert action_unit(12).name == "lip corner puller"
    with pytest.raises(ValueError, match="unknown Action Unit 'AU99'"):
        au_number("AU99")
    assert set(GENERATOR_AUS) <= set(ACTION_UNITS)


def test_codebooks_match_the_reference_tables():
    assert codebook("emfacs")["happiness"] == (6, 12)
    assert codebook("seed004")["disgust"] == (9, 10, 16, 17, 25, 26)
    assert codebook("seed004_code")["disgust"] == (5, 9, 16, 17, 25, 26)
    m = codebook_matrix("emfacs")
    assert list(m.index) == list(EMOTIONS)
    assert m.loc["surprise"].sum() == 4 and m.loc["fear", "AU20"] == 1
    with pytest.raises(ValueError, match="unknown codebook"):
        codebook("ekman")


def test_mesh_to_68_map_is_a_valid_selection():
    assert len(MESH_TO_IBUG68) == 68 and len(set(MESH_TO_IBUG68)) == 68
    assert max(MESH_TO_IBUG68) < 468
    mesh = astronaut_mesh()
    l68 = mesh_to_ibug68(mesh)
    # anatomy: brows above eyes above nose tip above mouth above chin; right eye (image left) left of left eye
    assert l68[17:27, 1].mean() < l68[36:48, 1].mean() < l68[30, 1] < l68[48:60, 1].mean() < l68[8, 1]
    assert l68[36:42, 0].mean() < l68[42:48, 0].mean()
    with pytest.raises(ValueError, match="468"):
        mesh_to_ibug68(np.zeros((68, 2)))


def test_boxes_sit_on_their_face_parts():
    l68 = mesh_to_ibug68(astronaut_mesh())
    shape = (512, 512)
    brow = au_box_mask(l68, 4, shape)
    mouth = au_box_mask(l68, 25, shape)
    x, y = np.round(l68[21]).astype(int)            # inner end of the right brow
    assert brow[y, x] and not mouth[y, x]
    x, y = np.round(l68[62]).astype(int)            # inner upper lip
    assert mouth[y, x] and not brow[y, x]
    assert len(au_boxes(l68, 2)) == 2              # outer brow raiser: one box per brow
    with pytest.raises(ValueError):
        au_boxes(l68, 99)


def test_au_map_is_scaled_and_empty_for_neutral():
    l68 = mesh_to_ibug68(astronaut_mesh())
    m = au_map(l68, [6, 12], (512, 512))
    assert m.min() == 0 and m.max() == pytest.approx(1.0)
    x, y = np.round(l68[48]).astype(int)            # AU12 site: the mouth corner
    assert m[y, x] > 0.9
    assert au_map(l68, [], (64, 64)).max() == 0


def test_face_mesh_finds_the_astronaut():
    from skimage import data
    photo = data.astronaut()
    pts = detect_landmarks(photo)
    assert pts.shape == (468, 2)
    ref = astronaut_mesh()
    err = np.linalg.norm(pts - ref, axis=1).mean() / interocular_distance(ref)
    assert err < 0.02


def test_face_mesh_raises_when_there_is_no_face():
    with pytest.raises(NoFaceFound, match="no face"):
        detect_landmarks(np.full((200, 200), 128, np.uint8))
    with pytest.raises(ValueError, match="grey"):
        detect_landmarks(np.zeros((4, 4, 4, 4)))


def test_landmark_cache_runs_mediapipe_once(tmp_path, monkeypatch):
    from facexplain.faces import mesh as mesh_module
    from facexplain.faces.generator import generate_faces
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    images = generate_faces(3, seed=0).images
    first, found = mesh_module.cached_landmarks(images)
    assert found.all() and first.shape == (3, 468, 2)
    monkeypatch.setattr(mesh_module, "detect_many", lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-ran")))
    again, _ = mesh_module.cached_landmarks(images)
    assert np.array_equal(first, again)
    assert len(list(tmp_path.rglob("*.npz"))) == 1
