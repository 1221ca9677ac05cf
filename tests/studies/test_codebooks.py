"""Emotion x AU matrices on one axis and their agreement (facexplain.studies.codebooks), on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facexplain.metrics.relevance import relevance_masses
from facexplain.studies import codebooks as cc
from facexplain.faces import EMOTIONS, GENERATOR_AUS


def _matrix(values, aus):
    return pd.DataFrame(np.asarray(values, float), index=list(EMOTIONS), columns=[f"AU{a}" for a in aus])


def test_codebooks_share_one_axis_and_order():
    ms = {n: cc.codebook_source(n) for n in ("emfacs", "seed004", "seed004_code")}
    for m in ms.values():
        assert list(m.index) == list(EMOTIONS)
        assert list(m.columns) == [f"AU{a}" for a in GENERATOR_AUS]
        assert set(np.unique(m.to_numpy())) <= {0.0, 1.0}
    e = ms["emfacs"]
    assert e.loc["happiness"].sum() == 2 and e.loc["happiness", "AU6"] == e.loc["happiness", "AU12"] == 1
    assert e["AU14"].sum() == 0                              # no codebook lists AU14: filled with 0
    d = ms["seed004"] - ms["seed004_code"]
    assert (d.drop(index="disgust") == 0).all().all()
    assert d.loc["disgust", "AU10"] == 1 and d.loc["disgust", "AU5"] == -1 and d.abs().to_numpy().sum() == 2


def test_align_reorders_fills_and_refuses_bad_input():
    m = pd.DataFrame([[1.0, 0.5]] * 6, index=list(reversed(EMOTIONS)), columns=["AU12", 6])
    out = cc.align(m, aus=(6, 12, 25))
    assert list(out.index) == list(EMOTIONS) and list(out.columns) == ["AU6", "AU12", "AU25"]
    assert (out["AU6"] == 0.5).all() and (out["AU12"] == 1).all() and (out["AU25"] == 0).all()
    with pytest.raises(ValueError, match="outside the axis"):
        cc.align(m, aus=(6,))
    assert list(cc.align(m, aus=(6,), drop_extra=True).columns) == ["AU6"]
    with pytest.raises(ValueError, match="no row for"):
        cc.align(m.drop(index="fear"), aus=(6, 12))
    with pytest.raises(ValueError, match="distinct"):
        cc.au_axis((6, 6))
    with pytest.raises(ValueError, match="DataFrame"):
        cc.align(np.zeros((6, 2)))


def test_agreement_with_itself_is_one():
    rng = np.random.default_rng(0)
    m = _matrix(rng.random((6, 5)), (1, 2, 4, 5, 6))
    g = cc.agreement(m, m)
    assert g["pearson"] == pytest.approx(1) and g["spearman"] == pytest.approx(1)
    assert g["cosine"] == pytest.approx(1) and g["jaccard"] == 1 and g["mean_abs_diff"] == 0 and g["n_cells"] == 30
    book = cc.codebook_source("seed004")
    t = cc.agreement_table({"a": book, "b": book.copy()})
    assert t.loc[0, ["pearson", "spearman", "cosine", "jaccard"]].tolist() == [1, 1, 1, 1]


def test_agreement_known_values():
    aus = (1, 2)
    a = _matrix([[1, 0]] * 3 + [[0, 1]] * 3, aus)
    b = _matrix([[1, 1]] * 3 + [[0, 1]] * 3, aus)
    g = cc.agreement(a, b)
    # cells a: 1,0 x3, 0,1 x3; b: 1,1 x3, 0,1 x3 -> a AND b = 6 cells, a OR b = 9 cells
    assert g["jaccard"] == pytest.approx(6 / 9)
    x, y = a.to_numpy().ravel(), b.to_numpy().ravel()
    assert g["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert g["cosine"] == pytest.approx(6 / np.sqrt(6 * 9))
    assert g["mean_abs_diff"] == pytest.approx(3 / 12)
    # opposite matrices: r = -1, no common active cell
    g = cc.agreement(a, 1 - a)
    assert g["pearson"] == pytest.approx(-1) and g["spearman"] == pytest.approx(-1) and g["jaccard"] == 0
    # a constant matrix has no correlation (NaN), and the binarised Jaccard of two empty matrices is 1
    z = _matrix(np.zeros((6, 2)), aus)
    g = cc.agreement(z, z)
    assert np.isnan(g["pearson"]) and g["jaccard"] == 1
    # the threshold binarises continuous matrices
    c = _matrix([[0.6, 0.4]] * 6, aus)
    assert cc.agreement(c, _matrix([[1, 0]] * 6, aus), threshold=0.5)["jaccard"] == 1
    assert cc.agreement(c, _matrix([[1, 0]] * 6, aus), threshold=0.3)["jaccard"] == 0.5


def test_agreement_refuses_misaligned_matrices():
    a = _matrix(np.ones((6, 2)), (1, 2))
    with pytest.raises(ValueError, match="share rows and columns"):
        cc.agreement(a, _matrix(np.ones((6, 2)), (1, 4)))


def test_tables_and_per_emotion():
    ms = {n: cc.codebook_source(n) for n in ("emfacs", "seed004", "seed004_code")}
    t = cc.agreement_table(ms)
    assert list(t.columns[:2]) == ["source_a", "source_b"] and len(t) == 3
    assert t[["source_a", "source_b"]].values.tolist() == [["emfacs", "seed004"], ["emfacs", "seed004_code"],
                                                           ["seed004", "seed004_code"]]
    p = cc.per_emotion_agreement(ms)
    fig_code = p[(p.source_a == "seed004") & (p.source_b == "seed004_code")].set_index("emotion")
    assert fig_code.loc["disgust", "jaccard"] == pytest.approx(round(5 / 7, 4))   # {9,16,17,25,26} of 7 AUs
    assert (fig_code.drop(index="disgust").jaccard == 1).all()
    sym = cc.agreement_matrix(t, "jaccard")
    assert (np.diag(sym) == 1).all() and (sym.to_numpy() == sym.to_numpy().T).all()
    long = cc.long_table(ms)
    assert len(long) == 3 * 6 * len(GENERATOR_AUS) and list(long.columns) == ["source", "emotion", "au", "value"]


def test_occurrence_matrix_means_per_emotion():
    emo = np.array(["happiness", "happiness"] + [e for e in EMOTIONS if e != "happiness"])
    present = np.zeros((len(emo), 2))
    present[0, 0] = 1
    m = cc.occurrence_matrix(present, emo, (6, 12))
    assert m.loc["happiness", "AU6"] == 0.5 and m.to_numpy().sum() == 0.5
    with pytest.raises(ValueError, match="no face of emotion"):
        cc.occurrence_matrix(present[:2], emo[:2], (6, 12))


def test_region_mass_and_attribution_matrix_on_hand_made_maps():
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0] = 3.0                      # face 0: 3 inside region 0, 1 elsewhere, negatives ignored
    maps[0, 3, 3] = 1.0
    maps[0, 2, 2] = -5.0
    maps[1] = 1.0                            # face 1: uniform
    masks = np.zeros((2, 2, 4, 4), bool)
    masks[:, 0, :2, :2] = True               # region 0: a quarter of the image
    masks[:, 1, 2:, 2:] = True               # region 1: another quarter
    mu = relevance_masses(maps, masks)
    assert mu[0].tolist() == [0.75, 0.25] and mu[1].tolist() == [0.25, 0.25]
    mw = relevance_masses(maps, masks, area_normalised=True)
    assert mw[0].tolist() == [3.0, 1.0] and mw[1].tolist() == [1.0, 1.0]      # uniform map -> 1
    empty = masks.copy()
    empty[1, 1] = False
    assert np.isnan(relevance_masses(maps, empty)[1, 1])
    # per emotion: mean over faces, each row scaled to its maximum
    emo = np.array(list(EMOTIONS) + ["anger"])
    mass = np.tile([[2.0, 1.0]], (7, 1))
    mass[-1] = [4.0, 1.0]
    m = cc.attribution_matrix(mass, emo, (4, 7))
    assert m.loc["anger"].tolist() == [1.0, pytest.approx(1 / 3)] and m.loc["fear"].tolist() == [1.0, 0.5]
    c = cc.attribution_matrix(mass, emo, (4, 7), contrast=True)   # only what exceeds the mean over emotions
    assert c.loc["anger"].tolist() == [1.0, 0.0] and c.loc["fear"].sum() == 0
    with pytest.raises(ValueError, match="maps must be"):
        relevance_masses(maps[0], masks)


def test_region_masks_follow_the_landmarks():
    from facexplain.faces.template import neutral_template

    lm = neutral_template(112).mesh[None].astype(np.float32)
    masks = cc.region_masks(lm, (1, 12, 26), (112, 112))
    assert masks.shape == (1, 3, 112, 112) and masks.any((2, 3)).all()
    ys = [np.nonzero(masks[0, k])[0].mean() for k in range(3)]
    assert ys[0] < ys[1] <= ys[2] + 10          # brows above the lip corners, mouth at the bottom
    with pytest.raises(ValueError, match="level"):
        cc.region_masks(lm, (1,), level=1.5)


def test_difference_browser_has_a_view_per_pair():
    ms = {n: cc.codebook_source(n, aus=(1, 5, 10, 12)) for n in ("emfacs", "seed004_code")}
    box = cc.difference_browser(ms)
    ctrls = box._facexplain_controls
    assert [c.description for c in ctrls] == ["A", "B"]
    outer = box.children[-1]
    assert len(outer.children) == 2 and all(len(s.children) == 2 for s in outer.children)


def test_classifier_matrix_on_a_tiny_model():
    import torch

    from facexplain.data import load_dataset
    from facexplain.faces import EMOTIONS_WITH_NEUTRAL
    from facexplain.models.fer import fer_model

    faces = load_dataset("synthetic", n=21, seed=3, image_size=48, cache=False)
    torch.manual_seed(0)
    model = fer_model(7, widths=(4, 8, 8, 16)).eval()
    aus = (1, 4, 12, 26)
    masks = cc.face_regions(faces, "landmarks", aus)
    n6 = int(np.isin(faces.emotion.astype(str), list(EMOTIONS)).sum())
    assert masks.shape == (n6, 4, 48, 48)
    for method in ("attention", "gradient"):
        m, per_face = cc.classifier_matrix(model, faces, EMOTIONS_WITH_NEUTRAL, method=method, aus=aus, masks=masks)
        assert list(m.index) == list(EMOTIONS) and list(m.columns) == ["AU1", "AU4", "AU12", "AU26"]
        assert ((m.to_numpy() >= 0) & (m.to_numpy() <= 1)).all()
        assert np.allclose(m.max(1)[m.max(1) > 0], 1)            # each emotion's top AU region is 1
        assert len(per_face) == n6 and list(per_face.columns) == ["emotion", "AU1", "AU4", "AU12", "AU26"]
    again, _ = cc.classifier_matrix(model, faces, EMOTIONS_WITH_NEUTRAL, method="attention", aus=aus)
    first, _ = cc.classifier_matrix(model, faces, EMOTIONS_WITH_NEUTRAL, method="attention", aus=aus, masks=masks)
    assert np.allclose(again, first)                              # precomputed masks = computed on the fly
    with pytest.raises(ValueError, match="masks must be"):
        cc.classifier_matrix(model, faces, EMOTIONS_WITH_NEUTRAL, method="attention", aus=aus, masks=masks[:2])
    with pytest.raises(ValueError, match="no class for"):
        cc.classifier_matrix(model, faces, ("neutral", "happiness"), method="attention", aus=aus)
    with pytest.raises(ValueError, match="regions must be"):
        cc.face_regions(faces, "boxes", aus)


def test_against_references():
    ms = {("m1", "a"): cc.codebook_source("emfacs"), ("m1", "b"): cc.codebook_source("seed004")}
    t = cc.against(ms, {"emfacs": cc.codebook_source("emfacs")})
    assert list(t.columns) == ["source_0", "source_1", "reference", "pearson", "spearman", "jaccard"]
    assert t.pearson.tolist()[0] == 1 and t.pearson.tolist()[1] < 1
    t1 = cc.against({"x": cc.codebook_source("emfacs")}, {"e": cc.codebook_source("emfacs")})
    assert list(t1.columns[:2]) == ["source", "reference"]


def test_claims_from_codebooks_alone():
    ms = {n: cc.codebook_source(n) for n in ("emfacs", "seed004", "seed004_code")}
    c = cc.claims(cc.agreement_table(ms), cc.per_emotion_agreement(ms), ms).set_index("claim")
    assert list(c.columns) == ["paper", "ours", "control", "verdict"] and len(c) == 2   # rows these sources support
    disgust = c.loc["Belharbi et al.'s public code and their paper's figure disagree on disgust (AU5 vs AU10)"]
    assert disgust.verdict.startswith("by construction") and "rows that differ: disgust" in disgust.ours
