"""Chapter 00's study module (facexplain.studies.faces): the dataset card on generated faces."""

from facexplain.data import load_dataset
from facexplain.studies import faces as card


def test_dataset_card_counts_faces_subjects_and_aus(tmp_path):
    faces = load_dataset("synthetic", n=24, seed=1, image_size=48)
    t = card.dataset_card(faces, tmp_path)
    assert t.faces.sum() == 24 and (tmp_path / "dataset_card.csv").exists()
    assert (t.subjects <= t.faces).all() and (t.mean_active_aus > 0).any()
    assert card.summary(faces).startswith("24 faces")
