"""Chapter 02's claim check on hand-made inputs: every verdict it can give, from facexplain.claims."""

import numpy as np
import pandas as pd

from facexplain.claims import check_table, verdict_word
from facexplain.game.study import claims


def _tt(p_all=0.001):
    rows = []
    for g, inc in (("all", 0.6), ("instructions", 0.63), ("score", 0.57)):
        rows.append(dict(group=g, n=216, s1_mean=0.40, s1_sd=0.2, rest_mean=0.45, rest_sd=0.2, t=3.0, p=p_all,
                         share_increased=inc))
    return pd.DataFrame(rows)


def _occurrence():
    emotions = ["happiness", "surprise", "fear", "anger", "sadness", "disgust"]
    occ = pd.DataFrame(0.1, index=emotions, columns=["AU12", "AU25", "AU26"])
    occ.loc["happiness", "AU12"] = 0.9
    occ.loc[["surprise", "fear"], ["AU25", "AU26"]] = 0.8
    return occ


def _sweep(rise, sd, n=6, seed=0):
    rng = np.random.default_rng(seed)
    eff = rise + rng.normal(0, sd, n)
    return pd.DataFrame(dict(seed=np.arange(n), group="all", s1_mean=0.4, rest_mean=0.4 + eff,
                             p=np.where(eff > 0.02, 0.001, 0.3)))


def verdicts(table):
    check_table(table)
    return {r.claim: verdict_word(r.verdict) for r in table.itertuples()}


def test_circular_claims_are_by_construction_and_the_test_power_is_judged_against_non_learners():
    f1 = pd.Series({4: 0.8, 12: 0.9, 25: 0.7})
    floor = pd.Series({4: 0.3, 12: 0.4, 25: 0.5})
    v = verdicts(claims(_tt(), _occurrence(), {6, 12}, f1, floor, 0.33, sweep=_sweep(0.05, 0.005),
                        null_sweep=_sweep(0.0, 0.005, seed=1)))
    assert v["Score = Jaccard index of player and target AU sets"] == "by construction"
    assert v["Scores rise from S1 to mean(S2..S5) over all games (learning)"] == "by construction"
    assert v["AU12 goes with happiness (tries with score >= 0.33)"] == "by construction"
    assert v["(book) the photo path finds the astronaut's smile (AU6/AU12)"] == "by construction"
    assert v["Score levels S1 -> mean(S2..S5)"] == "not comparable"
    assert v["(book) the study's t-test tells learning players from players who do not learn"] == "reproduced"
    assert v["(book) the geometric AU reader detects AUs on held-out generated faces"] == "reproduced"


def test_learning_within_noise_of_non_learners_is_not_reproduced_and_weak_readers_fail():
    f1 = pd.Series({4: 0.35, 12: 0.35, 25: 0.55})
    floor = pd.Series({4: 0.3, 12: 0.4, 25: 0.5})
    v = verdicts(claims(_tt(), _occurrence(), {12}, f1, floor, 0.33, sweep=_sweep(0.002, 0.01),
                        null_sweep=_sweep(0.0, 0.01, seed=1)))
    assert v["(book) the study's t-test tells learning players from players who do not learn"] == "not reproduced"
    assert v["(book) the geometric AU reader detects AUs on held-out generated faces"] == "not reproduced"


def test_learning_in_few_seeds_is_partly_and_without_a_sweep_there_is_no_power_row():
    eff = np.array([0.05, 0.04, 0.05, 0.045, 0.05, 0.04])
    sweep = pd.DataFrame(dict(seed=range(6), group="all", s1_mean=0.4, rest_mean=0.4 + eff,
                              p=[0.001, 0.2, 0.3, 0.2, 0.001, 0.3]))
    v = verdicts(claims(_tt(), _occurrence(), set(), pd.Series({4: 0.8}), pd.Series({4: 0.3}), 0.33, sweep=sweep,
                        null_sweep=_sweep(0.0, 0.005, seed=1)))
    assert v["(book) the study's t-test tells learning players from players who do not learn"] == "partly"
    assert v["(book) the geometric AU reader detects AUs on held-out generated faces"] == "not comparable"  # 1 AU
    t = claims(_tt(), _occurrence(), set(), pd.Series({4: 0.8, 6: 0.7}), pd.Series({4: 0.3, 6: 0.2}), 0.33)
    assert not t.claim.str.contains("tells learning").any()
    assert (t.verdict.str.startswith("by construction") | t.control.astype(bool)).all()
