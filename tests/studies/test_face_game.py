"""Chapter 02's study module (facexplain.studies.face_game) on hand-made targets and matrices."""

import numpy as np
import pandas as pd

from facexplain.studies import face_game


def _targets():
    img = np.zeros((8, 8), np.uint8)
    return {"happiness": dict(emotion="happiness", aus={6, 12}, truth={6, 12, 25}, image=img),
            "surprise": dict(emotion="surprise", aus={1, 2, 26}, truth=None, image=img)}


def test_target_tables_and_views():
    t = face_game.target_table(_targets())
    assert t.target.tolist() == ["happiness", "surprise"]
    assert t.detected.tolist() == ["AU6 AU12", "AU1 AU2 AU26"] and t.generated.tolist() == ["AU6 AU12 AU25", ""]
    assert face_game.target_sets(_targets())["surprise"] == {1, 2, 26}
    assert face_game.emotion_of(_targets()) == {"happiness": "happiness", "surprise": "surprise"}


def test_instruction_examples_score_by_jaccard():
    ex = face_game.instruction_examples(_targets(), max_items=2).set_index("player")
    assert ex.loc["AU12", "score"] == 0.5                     # {12} vs {6, 12}
    assert ex.loc["-", "score"] == 0.0 and ex.loc["-", "target"] == "happiness"
    assert ex.loc["AU1 AU2 AU25", "score"] == 0.5             # {1, 2, 25} vs {1, 2, 26}: 2 shared of 4


def test_top_aus_lists_the_most_frequent_aus_beside_the_codebook():
    occ = pd.DataFrame({"AU6": [0.9, 0.1], "AU12": [0.8, np.nan], "AU26": [0.0, 0.7]}, index=["happiness", "surprise"])
    top = face_game.top_aus(occ, n=2)
    assert top.loc["happiness", "top AUs (occurrence)"] == "AU6 0.90, AU12 0.80"
    assert top.loc["surprise", "top AUs (occurrence)"] == "AU26 0.70, AU6 0.10"
    assert "AU12" in top.loc["happiness", "codebook (emfacs)"]
