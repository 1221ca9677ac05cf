"""Chapter 00's study module (facexplain.studies.faces): the dataset card on generated faces."""

from facexplain.data import load_dataset
from facexplain.studies import faces as card


def test_dataset_card_counts_faces_subjects_and_aus(tmp_path):
    faces = load_dataset("synthetic", n=24, seed=1, image_size=48)
    t = card.dataset_card(faces, tmp_path)
    assert t.faces.sum() == 24 and (tmp_path / "dataset_card.csv").exists()
    assert (t.subjects <= t.faces).all() and (t.mean_active_aus > 0).any()
    assert card.summary(faces).startswith("24 faces")
    from facexplain.faces.generator import GENERATOR_VERSION
    assert faces.info["version"] == GENERATOR_VERSION and f"generator version {GENERATOR_VERSION}" in card.summary(faces)


def test_one_face_per_subject_prefers_a_neutral_face():
    from facexplain.faces.realism import one_face_per_subject

    subjects = ["a", "b", "a", "c", "b", "a"]
    emotions = ["anger", "fear", "neutral", "sadness", "neutral", "neutral"]
    assert one_face_per_subject(subjects, emotions).tolist() == [2, 4, 3]   # first neutral face, else first face
    assert one_face_per_subject(subjects).tolist() == [0, 1, 3]


def test_identity_correlation_measures_different_people(tmp_path):
    import numpy as np
    import pandas as pd

    from facexplain.faces.realism import between_subject_correlation, one_face_per_subject

    faces = load_dataset("synthetic", n=120, seed=2, cache=False)
    t = card.identity_correlation(faces, tmp_path)
    g = t.loc["generated subjects"]
    idx = one_face_per_subject(faces.subject, faces.emotion)
    assert g.people == len(set(faces.subject)) == len(idx) and g.pairs == len(idx) * (len(idx) - 1) // 2
    r, c = between_subject_correlation(faces.images[idx], faces.landmarks[idx])
    assert abs(g.mean_correlation - r) < 1e-3 and g.mean_correlation <= card.IDENTITY_GOAL
    assert 0 < g.se < 0.1
    # one person's faces (other expressions and scenes) are more alike than different people's
    same = np.flatnonzero(faces.subject == faces.subject[idx[0]])
    one = faces.subset(same)
    r_same, _ = between_subject_correlation(one.images, one.landmarks)
    assert r_same > g.mean_correlation + 0.1
    # the two template photos are two different people: their correlation is a real between-people figure
    assert t.loc["the template photos"].people == 2 and t.loc["the template photos"].mean_correlation < r_same
    assert pd.read_csv(tmp_path / "identity_correlation.csv").set_index("faces").mean_correlation.equals(
        t.mean_correlation)
    numbers = card.identity_numbers(t)
    assert numbers["identity_r"] == g.mean_correlation and numbers["identity_people"] == g.people


def test_jackknife_se_is_zero_when_every_pair_is_alike_and_grows_with_spread():
    import numpy as np

    flat = np.full((5, 5), 0.4)
    np.fill_diagonal(flat, 1.0)
    assert card._jackknife_se(flat) < 1e-12
    rng = np.random.default_rng(0)
    noisy = rng.uniform(0, 0.8, (6, 6))
    noisy = (noisy + noisy.T) / 2
    np.fill_diagonal(noisy, 1.0)
    assert card._jackknife_se(noisy) > 0.01
