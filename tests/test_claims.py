"""The claim checker: every verdict branch reached with hand-made inputs, the table's checks, the HTML display."""

import numpy as np
import pandas as pd
import pytest

from facexplain import claims as C


def word(v):
    return C.verdict_word(str(v))


# --- judge: estimate vs control with a noise estimate -------------------------------------------------------------

def test_judge_reproduced_when_beyond_noise():
    v = C.judge(0.80, 0.50, noise=0.05)
    assert word(v) == "reproduced" and "0.3 above" in v.reason


def test_judge_partly_when_beyond_noise_but_not_full():
    v = C.judge(0.80, 0.50, noise=0.05, full=False, partly_why="3 of 6 emotions")
    assert word(v) == "partly" and v.reason.startswith("3 of 6 emotions")


def test_judge_not_reproduced_within_noise():
    v = C.judge(0.56, 0.50, noise=0.05)         # 0.06 < 2 x 0.05
    assert word(v) == "not reproduced" and "within" in v.reason


def test_judge_not_reproduced_when_control_wins():
    v = C.judge(0.30, 0.50, noise=0.05)
    assert word(v) == "not reproduced" and "other way round: 0.2 below" in v.reason


def test_judge_not_comparable_without_noise():
    assert word(C.judge(0.9, 0.5)) == "not comparable"
    assert word(C.judge(0.9, 0.5, noise=float("nan"))) == "not comparable"
    assert word(C.judge(float("nan"), 0.5, noise=0.01)) == "not comparable"


def test_judge_lower_direction():
    assert word(C.judge(0.10, 0.50, noise=0.05, direction="lower")) == "reproduced"
    assert word(C.judge(0.50, 0.10, noise=0.05, direction="lower")) == "not reproduced"


def test_judge_with_p_value():
    assert word(C.judge(0.6, 0.5, p_value=0.01)) == "reproduced"
    assert word(C.judge(0.6, 0.5, p_value=0.20)) == "not reproduced"
    assert word(C.judge(0.4, 0.5, p_value=0.001)) == "not reproduced"   # significant, but the wrong way


def test_judge_rejects_bad_input():
    with pytest.raises(ValueError, match="direction"):
        C.judge(1, 0, 0.1, direction="up")
    with pytest.raises(ValueError, match="non-negative"):
        C.judge(1, 0, -0.1)
    with pytest.raises(ValueError, match="probability"):
        C.judge(1, 0, p_value=1.5)


# --- paired tests over seeds, counts -------------------------------------------------------------------------------

def test_judge_paired_branches():
    rng = np.random.default_rng(0)
    base = rng.normal(0.8, 0.02, 10)
    assert word(C.judge_paired(base + 0.05 + rng.normal(0, 0.005, 10), base)) == "reproduced"
    assert word(C.judge_paired(base + rng.normal(0, 0.02, 10), base)) == "not reproduced"
    assert word(C.judge_paired(base + 0.05 + rng.normal(0, 0.005, 10), base, full=False)) == "partly"
    assert word(C.judge_paired([0.9], [0.5])) == "not comparable"
    v = C.judge_paired(base - 0.05 + rng.normal(0, 0.005, 10), base, direction="lower", test="wilcoxon")
    assert word(v) == "reproduced" and "Wilcoxon" in v.reason


def test_judge_paired_without_spread_uses_sign_test():
    v = C.judge_paired([0.9] * 6, [0.5] * 6)           # 0.5**6 = 0.016 < 0.05
    assert word(v) == "reproduced" and "sign test" in v.reason
    assert word(C.judge_paired([0.9] * 3, [0.5] * 3)) == "not reproduced"   # 0.125: too few pairs
    with pytest.raises(ValueError, match="same length"):
        C.judge_paired([1, 2], [1])


def test_judge_count_binomial():
    assert word(C.judge_count(6, 6)) == "reproduced"                  # p = 1/64
    assert word(C.judge_count(9, 10, full=False)) == "partly"
    assert word(C.judge_count(3, 6)) == "not reproduced"
    with pytest.raises(ValueError):
        C.judge_count(7, 6)


def test_not_comparable_and_by_construction_need_a_reason():
    assert str(C.by_construction("the players' rule")) == "by construction: the players' rule"
    assert word(C.not_comparable("other data")) == "not comparable"
    with pytest.raises(ValueError):
        C.by_construction(" ")
    with pytest.raises(ValueError):
        C.not_comparable("")
    with pytest.raises(ValueError, match="vocabulary"):
        C.Verdict("sort of")


# --- noise helpers --------------------------------------------------------------------------------------------------

def test_noise_helpers():
    assert C.se_mean([1.0, 3.0]) == pytest.approx(1.0)
    assert np.isnan(C.se_mean([1.0]))
    assert C.se_proportion(0.5, 100) == pytest.approx(np.sqrt(0.25 / 104))
    assert C.se_proportion(1.0, 16) > 0.05                         # 16 of 16 still leaves room for doubt
    se = C.bootstrap_se(np.arange(100.0), n_boot=500)
    assert 2.0 < se < 3.8            # analytic SE of the mean: 29.0 / 10 = 2.9
    assert C.bootstrap_se([2.0, 2.0, 2.0]) == 0.0


# --- the table -------------------------------------------------------------------------------------------------------

def test_claim_table_refuses_hand_written_verdicts_and_missing_controls():
    t = C.ClaimTable()
    with pytest.raises(TypeError, match="by hand"):
        t.add("c", "p", "o", "ctrl", "reproduced")
    with pytest.raises(ValueError, match="control"):
        t.add("c", "p", "o", "", C.judge(1, 0, 0.1))
    t.add("c", "p", "o", "", C.by_construction("the generator"))     # no control needed
    t.add("c2", "p", "o", "uniform map", C.judge(1, 0, 0.1))
    df = t.frame()
    assert list(df.columns) == list(C.COLUMNS)
    assert C.check_table(df) is df


def test_check_table_names_problems(tmp_path):
    bad = pd.DataFrame(dict(claim=["a", "b"], paper=["", ""], ours=["", ""], control=["", "x"],
                            verdict=["reproduced", "kind of"]))
    with pytest.raises(ValueError) as err:
        C.check_table(bad)
    assert "no control" in str(err.value) and "kind of" in str(err.value)
    with pytest.raises(ValueError, match="no column 'control'"):
        C.check_table(bad.drop(columns="control"))
    good = bad.assign(verdict=["by construction: x", "not reproduced: y"])
    path = C.write_claims(good, tmp_path / "r")
    assert pd.read_csv(path).shape == (2, 5)
    assert not list((tmp_path / "r").glob("*.tmp"))


def test_verdict_word_prefers_the_longest_match():
    assert C.verdict_word("Not reproduced: x") == "not reproduced"
    assert C.verdict_word("reproduced (direction)") == "reproduced"


def test_show_claims_colours_verdicts_and_wraps():
    t = C.ClaimTable()
    t.add("a claim " * 20, "p", "o", "uniform map", C.judge(1, 0, 0.1))
    t.add("b", "p", "o", "random weights", C.judge(0, 1, 0.1))
    shown = C.show_claims(t.frame())
    html = shown.data
    assert C.COLOURS["reproduced"] in html and C.COLOURS["not reproduced"] in html
    assert "white-space: normal" in html
    assert html == C.show_claims(t.frame()).data                 # the same HTML every run (nbval compares it)
    assert "0x" not in repr(shown)                                # no object address in the text form
    plain = C.show_table(pd.DataFrame(dict(x=[1.23456])), precision=2).data
    assert "1.23" in plain and "1.2346" not in plain
    with pytest.raises(ValueError):
        C.show_claims(t.frame().drop(columns="control"))
