"""Face Game scoring and instructions on hand-made cases."""

import pytest

from facexplain.game import (PHRASES, REGIONS, SUPPORTED_AUS, au_set, instructions, jaccard, plan,
                             region_phrase)


def test_jaccard_definition():
    assert jaccard({6, 12}, {6, 12}) == 1.0                      # identical
    assert jaccard({1, 2}, {4, 5}) == 0.0                        # disjoint
    assert jaccard({6, 12, 25}, {6, 12}) == pytest.approx(2 / 3)
    assert jaccard(["AU1", "2"], [1, 2, 4, 5]) == pytest.approx(0.5)
    assert jaccard([], []) == 1.0                                # both empty: a perfect (trivial) match
    assert jaccard([], {6}) == 0.0 and jaccard({6}, []) == 0.0
    assert jaccard({6: 2.5, 12: 0.0}, {6}) == 1.0                # dict: AUs with intensity > 0
    assert jaccard({1, 2, 4}, {2, 4, 5}) == jaccard({2, 4, 5}, {1, 2, 4})  # symmetric


def test_unknown_au_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown Action Unit"):
        jaccard({3}, {6})
    with pytest.raises(ValueError, match="unknown Action Unit"):
        instructions({6, 12}, {"AU99"})
    with pytest.raises(ValueError, match="single value"):
        au_set(12)
    with pytest.raises(ValueError, match="max_items"):
        instructions({6}, {12}, max_items=0)


def test_every_supported_au_has_its_own_phrase_and_region():
    assert set(PHRASES) == set(SUPPORTED_AUS)
    assert len(set(PHRASES.values())) == len(PHRASES)
    assert sorted(a for aus in REGIONS.values() for a in aus) == list(SUPPORTED_AUS)
    for au in SUPPORTED_AUS:
        (step,) = plan({au}, set())
        assert step.polarity == "add" and step.aus == (au,)
        (neg,) = plan(set(), {au})
        assert neg.phrase.startswith("Try not to ")


def test_instruction_sets_on_hand_made_cases():
    assert instructions({6, 12}, {6, 12}) == []                  # identical: nothing to say
    assert instructions(set(), set()) == []
    # empty player: only prescriptions, one per region
    assert instructions({6, 12}, set(), max_items=None) == [
        "Lift your cheeks so that your eyes crinkle at the corners.",
        "Pull the corners of your mouth up into a smile."]
    # empty target: only negative prescriptions
    assert instructions(set(), {15}) == ["Try not to pull the corners of your mouth down."]
    # disjoint sets: additions (T - P) and removals (P - T)
    steps = plan({1, 2, 5, 26}, {4, 12})
    assert [(s.polarity, s.aus) for s in steps] == [
        ("add", (1, 2)), ("add", (5,)), ("add", (26,)), ("remove", (4,)), ("remove", (12,))]


def test_region_merging():
    assert region_phrase({1, 2}) == "lift your whole eyebrows"
    assert instructions({1, 2}, set()) == ["Lift your whole eyebrows."]
    assert instructions(set(), {1, 2}) == ["Try not to lift your whole eyebrows."]
    assert instructions({23, 24}, set()) == ["Press your lips together and tighten them."]
    # AUs of one region without a joint phrase are joined into one instruction
    (one,) = instructions({10, 15}, set())
    assert one.lower().startswith(PHRASES[10]) and PHRASES[15] in one
    # different regions never merge
    with pytest.raises(ValueError, match="several regions"):
        region_phrase({1, 12})


def test_ordering_by_score_gain_and_cap():
    # target 1,2,5,26; player 1,25,4: adding AU2 raises |P&T| (gain 1/6), removing AU4 or AU25 shrinks the union
    steps = plan({1, 2, 5, 26}, {1, 4, 25})
    gains = [s.gain for s in steps]
    assert gains == sorted(gains, reverse=True)
    for s in steps:  # each gain is the score after following that instruction alone, minus the current score
        p = {1, 4, 25}
        after = p | set(s.aus) if s.polarity == "add" else p - set(s.aus)
        assert s.gain == pytest.approx(jaccard(after, {1, 2, 5, 26}) - jaccard(p, {1, 2, 5, 26}))
    # a merged group of two AUs to add beats a single one
    steps = plan({1, 2, 12}, set())
    assert steps[0].aus == (1, 2) and steps[0].gain == pytest.approx(2 / 3)
    assert len(instructions({1, 2, 5, 9, 12, 15, 20, 26}, {4}, max_items=3)) == 3
    assert len(instructions({1, 2, 5, 9, 12, 15, 20, 26}, {4}, max_items=None)) == 8  # 7 regions to add to, 1 to undo


# --- the simulated study ---------------------------------------------------------------------------------

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _hand_study():
    rows = []
    scores = {(0, "a"): [0.2, 0.4, 0.4, 0.6, 0.6], (0, "b"): [0.5, 0.5, 0.5, 0.5, 0.5],
              (1, "a"): [0.4, 0.2, 0.2, 0.2, 0.2], (1, "b"): [0.0, 0.5, 1.0, 1.0, 1.0]}
    for (player, target), ss in scores.items():
        for k, s in enumerate(ss, 1):
            rows.append(dict(player=player, group="instructions" if player == 0 else "score", target=target,
                             **{"try": k}, score=s, detected="6+12" if target == "a" else "1+2"))
    return pd.DataFrame(rows)


def test_ttest_and_share_on_a_hand_made_study():
    from scipy.stats import ttest_rel

    from facexplain.game.study import games, ttest
    st = _hand_study()
    g = games(st)
    assert list(g.s1) == [0.2, 0.5, 0.4, 0.0] and list(g.rest) == pytest.approx([0.5, 0.5, 0.2, 0.875])
    tt = ttest(st).set_index("group")
    assert tt.loc["all", "n"] == 4
    assert tt.loc["all", "t"] == pytest.approx(ttest_rel(g.rest, g.s1).statistic)
    assert tt.loc["all", "share_increased"] == pytest.approx(0.5)        # games 0a and 1b end higher
    assert tt.loc["instructions", "share_increased"] == pytest.approx(0.5)
    assert tt.loc["score", "s1_mean"] == pytest.approx(0.2)


def test_au_emotion_occurrence_on_a_hand_made_study():
    from facexplain.game.study import au_emotion_correlation, au_emotion_occurrence, long_occurrence
    st = _hand_study()
    occ = au_emotion_occurrence(st, threshold=0.5, emotion_of={"a": "happiness", "b": "surprise"})
    assert occ.loc["happiness", "AU12"] == 1.0 and occ.loc["happiness", "AU1"] == 0.0
    assert occ.loc["surprise", "AU2"] == 1.0
    assert occ.loc["anger"].isna().all()                                  # no target of that emotion
    cor = au_emotion_correlation(st, threshold=0.5, emotion_of={"a": "happiness", "b": "surprise"})
    assert cor.loc["happiness", "AU6"] == pytest.approx(1.0) and cor.loc["surprise", "AU6"] == pytest.approx(-1.0)
    assert set(long_occurrence(occ).columns) == {"emotion", "au", "occurrence"}


def test_simulated_study_shape_and_determinism():
    from facexplain.game.players import simulate_study
    from facexplain.models.geometric_au import GeometricAUDetector
    from facexplain.data import load_dataset
    from facexplain.models.geometric_au import synthetic_neutrals
    train = load_dataset("synthetic", n=300, seed=9101)
    det = GeometricAUDetector().fit(train.landmarks, train.au_intensity, synthetic_neutrals(train))
    targets = {"happiness": {6, 12}, "surprise": {1, 2, 5, 26}}
    a = simulate_study(targets, det, n_players=4, n_tries=3, seed=3)
    b = simulate_study(targets, det, n_players=4, n_tries=3, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 4 * 2 * 3 and (a.groupby("group").player.nunique() == 2).all()
    assert a.score.between(0, 1).all()
    with pytest.raises(ValueError, match="even"):
        simulate_study(targets, det, n_players=3)


def test_game_views_draw_and_browse():
    import matplotlib
    matplotlib.use("Agg")
    import ipywidgets as widgets

    from facexplain.viz.game import game_figure, recorded_game, render_player
    img, lm = render_player(2, {12: 3.0})
    fig = game_figure(img, {6, 12}, img, lm, {12, 4})
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "score 0.33" in texts and "1. Lift your cheeks" in texts
    rows = [dict(try_=k, subject=2, shown={12: 3.0}, detected=[12]) for k in (1, 2)]
    box = recorded_game({"happiness": rows}, {"happiness": (img, {6, 12})})
    assert isinstance(box, widgets.VBox) and len(box._facexplain_links) >= 2


def test_live_game_updates_its_view_when_an_au_is_toggled():
    import matplotlib
    matplotlib.use("Agg")

    from facexplain.data import load_dataset
    from facexplain.models.geometric_au import GeometricAUDetector
    from facexplain.viz.game import live_game, render_player
    train = load_dataset("synthetic", n=300, seed=9101)
    det = GeometricAUDetector().fit(train.landmarks, train.au_intensity)
    img, _ = render_player(1, {6: 3.0, 12: 3.0})
    w = live_game({"happiness": (img, {6, 12})}, det)
    view = w.children[-1]
    before = view.value
    assert before  # a first view is drawn at once
    w.children[1].children[0].value = True    # toggle AU1
    assert view.value != before


def test_targets_are_the_faces_closest_to_their_emotions_prototype():
    """Among the faces that qualify, choose_targets takes the one whose true AUs overlap most with the emotion's
    prototype, so a surprise target that drew an extra AU12 (a smile) loses to one that did not."""
    from facexplain.data import load_dataset
    from facexplain.faces.codebooks import EMOTIONS, codebook
    from facexplain.game.targets import PROTOTYPES, choose_targets

    class EveryFace:                      # every face qualifies: the choice is the prototype's alone
        def detect(self, landmarks, neutrals=None):
            return [{1, 2}] * len(landmarks)

    targets = choose_targets(EveryFace(), 6, seed=3, pool=60)
    ds = load_dataset("synthetic", n=60, seed=3, emotions=EMOTIONS)
    truth = ds.au_present(ds.au_numbers)
    for name, t in targets.items():
        proto = set(codebook(PROTOTYPES)[t["emotion"]]) & set(ds.au_numbers)
        scores = [jaccard({a for a, v in zip(ds.au_numbers, truth[i]) if v}, proto)
                  for i in range(len(ds)) if ds.emotion[i] == t["emotion"]]
        assert jaccard(t["truth"], proto) == max(scores), name
        assert min(scores) < max(scores), name          # the pool offered worse faces that were passed over
    assert 12 not in targets["surprise"]["truth"]
