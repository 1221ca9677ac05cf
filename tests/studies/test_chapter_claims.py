"""Every chapter's claim check on hand-made inputs: each verdict the chapter can give, reached on purpose, and every
table in the shared shape (facexplain.claims.check_table)."""

import numpy as np
import pandas as pd
import pytest

from facexplain.claims import check_table, verdict_word


def verdicts(table):
    check_table(table)
    return {r.claim: verdict_word(r.verdict) for r in table.itertuples()}


def find(v, start):
    hits = [w for c, w in v.items() if c.startswith(start)]
    assert len(hits) == 1, (start, list(v))
    return hits[0]


# --- 00 -------------------------------------------------------------------------------------------------------------

def test_faces_checks(tmp_path):
    from types import SimpleNamespace

    from facexplain.faces import generate_faces
    from facexplain.studies import faces

    cfg = SimpleNamespace(seed=0, out=tmp_path)
    sample = generate_faces(12, seed=1, image_size=64)
    close = sample.landmarks + 0.2                               # detected landmarks a fraction of a pixel off
    good = pd.DataFrame(dict(faces=[400], detection_rate=[0.99], nme468_median=[0.01]), index=["source"])
    v = verdicts(faces.claims(cfg, good, sample, close))
    assert find(v, "MediaPipe") == "reproduced" and find(v, "Its landmarks") == "reproduced"
    assert find(v, "Same seed") == "by construction"
    assert (tmp_path / "claims.csv").exists()
    far = sample.landmarks + 40.0                                # landmarks far off: NME far above 0.1
    bad = pd.DataFrame(dict(faces=[20], detection_rate=[0.85], nme468_median=[0.5]), index=["source"])
    v = verdicts(faces.claims(cfg, bad, sample, far))
    assert find(v, "MediaPipe") == "not reproduced" and find(v, "Its landmarks") == "not reproduced"
    v = verdicts(faces.claims(cfg, bad))                          # no per-face errors: no noise estimate
    assert find(v, "Its landmarks") == "not comparable"
    assert faces.claims(cfg, None) is None


# --- 01 -------------------------------------------------------------------------------------------------------------

def _records(mu, area, n=30, seed=0, aus=(4, 6)):
    rng = np.random.default_rng(seed)
    rows = [dict(au=a, composite="lrp", index=i, mu_box=float(np.clip(mu + rng.normal(0, 0.05), 0, 1)),
                 area_box=area) for a in aus for i in range(n)]
    return pd.DataFrame(rows)


def test_au_lrp_mu_judged_against_uniform_and_random_weights():
    from facexplain.studies import au_lrp
    f1 = pd.DataFrame(dict(au=[4, 6], f1=[0.8, 0.7], support=[50, 50]))
    floor = {4: 0.3, 6: 0.2}
    concentrated = au_lrp.mu_controls(_records(0.35, 0.06), _records(0.08, 0.06, seed=1), {4: 0.8, 6: 0.7}, floor)
    v = verdicts(au_lrp.claims(f1, None, concentrated, floor))
    assert find(v, "A ResNet detects") == "reproduced"
    assert find(v, "Less than half") == "not reproduced"          # mu < 0.5 but far above both controls
    assert find(v, "(book) LRP relevance depends") == "reproduced"
    elsewhere = au_lrp.mu_controls(_records(0.02, 0.06), _records(0.08, 0.06, seed=1), {4: 0.8, 6: 0.7}, floor)
    v = verdicts(au_lrp.claims(f1, None, elsewhere, floor))
    assert find(v, "Less than half") == "reproduced"               # below a uniform map: it looks elsewhere
    none = au_lrp.mu_controls(_records(0.3, 0.06), _records(0.08, 0.06), {4: 0.2, 6: 0.1}, floor)
    v = verdicts(au_lrp.claims(f1.assign(f1=[0.2, 0.1]), None, none, floor))
    assert find(v, "mu hardly exceeds") == "not comparable"         # no AU clears the F1 floor
    assert find(v, "A ResNet detects") == "not reproduced"


def test_au_lrp_true_regions_judged_against_their_area_and_random_weights():
    from facexplain.studies import au_lrp
    f1 = pd.DataFrame(dict(au=[4, 6], f1=[0.8, 0.7], support=[50, 50]))
    floor = {4: 0.3, 6: 0.2}

    def with_truth(mu_truth, area_truth, seed=0):
        r = _records(0.3, 0.06, seed=seed)
        rng = np.random.default_rng(seed + 10)
        return r.assign(mu_truth=np.clip(mu_truth + rng.normal(0, 0.05, len(r)), 0, 1), area_truth=area_truth)

    ctl = au_lrp.mu_controls(with_truth(0.4, 0.1), with_truth(0.1, 0.1, seed=1), {4: 0.8, 6: 0.7}, floor)
    assert ctl.set_index("au").loc["mean", "ratio_truth"] == pytest.approx(4.0, rel=0.1)
    v = verdicts(au_lrp.claims(f1, None, ctl, floor))
    assert find(v, "(book) LRP relevance lies where") == "reproduced"
    spread = au_lrp.mu_controls(with_truth(0.1, 0.1), with_truth(0.1, 0.1, seed=1), {4: 0.8, 6: 0.7}, floor)
    assert find(verdicts(au_lrp.claims(f1, None, spread, floor)), "(book) LRP relevance lies where") == \
        "not reproduced"
    box_only = au_lrp.mu_controls(_records(0.3, 0.06), _records(0.08, 0.06, seed=1), {4: 0.8, 6: 0.7}, floor)
    assert "ratio_truth" not in box_only and not any(c.startswith("(book) LRP relevance lies") for c in
                                                     au_lrp.claims(f1, None, box_only, floor).claim)


def test_truth_ratios_count_the_aus_at_twice_the_even_share():
    from facexplain.studies import au_lrp
    mu = pd.DataFrame(dict(au=[4, 6, 4, 6, 4], composite=["lrp.epsilon_plus_flat"] * 2 + ["lrp.epsilon_gamma_box"] * 2
                           + ["lrp.epsilon_plus_flat"], mu=[0.3, 0.1, 0.5, 0.4, 0.2], n=5,
                           region=["truth"] * 4 + ["box"], area=[0.1, 0.1, 0.1, 0.1, 0.05], shortcut=0.0,
                           domain="source"))
    t = au_lrp.truth_ratios(mu)
    assert t.loc[4].tolist() == pytest.approx([5.0, 3.0]) and t.loc[6].tolist() == pytest.approx([4.0, 1.0])
    assert t.loc["AUs >= 2x"].tolist() == [2, 1]
    assert au_lrp.truth_ratios(mu[mu.region == "box"]).empty


def test_au_lrp_cross_domain_and_shortcut_rows():
    from facexplain.studies import au_lrp
    f1 = pd.DataFrame(dict(au=[4, 6, 7, 9], f1=[0.8, 0.7, 0.75, 0.6], support=50))
    cross = f1.assign(f1=[0.4, 0.3, 0.35, 0.2])
    floor = {a: 0.2 for a in (4, 6, 7, 9)}
    ctl = au_lrp.mu_controls(_records(0.3, 0.06), _records(0.08, 0.06, seed=1), dict(zip(f1.au, f1.f1)), floor)
    sc = dict(strength=0.9, f1_clean=0.7, f1_shortcut=0.72, f1_no_mark=0.3, mu_clean=0.3, mu_shortcut=0.29,
              mark_clean=0.01, mark_shortcut=0.4)
    rec_sc = _records(0.29, 0.06).assign(mu_mark=0.4)
    rec_cl = _records(0.30, 0.06, seed=2).assign(mu_mark=0.01)
    v = verdicts(au_lrp.claims(f1, cross, ctl, floor, shortcut=sc, shortcut_records=rec_sc, clean_records=rec_cl))
    assert find(v, "F1 falls") == "reproduced"
    assert find(v, "High F1 does not") == "reproduced"
    assert find(v, "mu in the AU boxes exposes") == "not reproduced"


# --- 03 -------------------------------------------------------------------------------------------------------------

def _runs(gain_small=0.0, r_gap=-0.05, seeds=5, noise=0.01):
    rng = np.random.default_rng(0)
    rows = []
    for net, off in (("T-EMO", 0.0), ("R-EMO", r_gap)):
        for e in ("anger", "fear", "happiness"):
            for k in (468, 64, 16):
                for s in range(seeds):
                    base = 0.85 + off + (gain_small if k == 64 else 0) - (0.05 if k == 16 else 0)
                    a = base + rng.normal(0, noise)
                    rows.append(dict(net=net, emotion=e, k=k, seed=s, acc=a, bacc=a, val_acc=a + rng.normal(0, 0.001)))
    return pd.DataFrame(rows)


def _svm(acc):
    return pd.DataFrame([dict(model=m, emotion=e, k=468, seed=s, acc=acc, bacc=acc)
                         for m in ("linear SVM", "RBF SVM") for e in ("anger", "fear", "happiness") for s in range(5)])


def _precision(ig, inp):
    rows = []
    for net, p in (("T-EMO", ig), ("R-EMO", ig), ("INPUT_ONLY", inp), ("RANDOM-WEIGHTS", 0.1)):
        for j, e in enumerate(("anger", "fear", "happiness", "sadness")):
            rows.append(dict(net=net, emotion=e, k=32, precision=p + 0.01 * j * (net == "T-EMO"), chance=0.1,
                             n_truth=40))
    return pd.DataFrame(rows)


def test_landmark_ig_claims():
    from facexplain.studies import landmark_ig as lig
    comp = pd.DataFrame(dict(net="T-EMO", emotion=["anger"], pairs=5, completeness_error=[0.002]))
    v = verdicts(lig.claims_table(_runs(gain_small=0.03), _svm(0.80), _precision(0.8, 0.5), comp, [468, 64, 16]))
    assert find(v, "the globally most important") == "reproduced"
    assert find(v, "T-EMO: some k < 468") in ("reproduced", "partly")
    assert find(v, "T-EMO accuracy drops") == "reproduced"
    assert find(v, "T-EMO beats the linear SVM") in ("reproduced", "partly")
    assert find(v, "R-EMO's best") == "reproduced"
    assert find(v, "IG attributions add up") == "reproduced"
    v = verdicts(lig.claims_table(_runs(gain_small=0.0, r_gap=0.0), _svm(0.95), _precision(0.5, 0.8),
                                  comp.assign(completeness_error=0.05), [468, 64, 16]))
    assert find(v, "the globally most important") == "not reproduced"    # input_only wins
    assert find(v, "T-EMO: some k < 468") == "not reproduced"
    assert find(v, "T-EMO beats the linear SVM") == "not reproduced"
    assert find(v, "R-EMO's best") == "not reproduced"
    assert find(v, "IG attributions add up") == "not reproduced"
    one = _runs(gain_small=0.03, seeds=1)
    v = verdicts(lig.claims_table(one[one.emotion == "anger"], _svm(0.8)[lambda d: (d.seed == 0)],
                                  _precision(0.8, 0.5), comp, [468, 64, 16]))
    assert find(v, "T-EMO: some k < 468") == "not comparable"            # one pair: no noise estimate


# --- 04 -------------------------------------------------------------------------------------------------------------

def _fer_table(att0, att1):
    rows = []
    for m in ("cam", "gradcam", "attention"):
        for w, att in ((False, att0), (True, att1)):
            rows.append(dict(method=m, with_au=w, accuracy=70.0 + w, cam_cos=att, att_cos=att))
    return pd.DataFrame(rows)


def _repeats(att0, att1, acc_gap, n=4):
    rng = np.random.default_rng(0)
    return pd.DataFrame([dict(seed=s, with_au=w, accuracy=70 + (acc_gap if w else 0) + 0.5 * (-1) ** (s + w),
                              att_cos=(att1 if w else att0) + rng.normal(0, 0.01)) for s in range(n)
                         for w in (False, True)])


def test_au_guided_fer_claims_against_templates():
    from facexplain.studies import au_guided_fer as fer
    rng = np.random.default_rng(0)
    n = 60
    per_face = {("cam", True): 0.7 + rng.normal(0, 0.02, n), ("cam", False): 0.5 + rng.normal(0, 0.02, n),
                ("gradcam", True): 0.7 + rng.normal(0, 0.02, n), ("gradcam", False): 0.5 + rng.normal(0, 0.02, n),
                ("attention", True): 0.73 + rng.normal(0, 0.02, n), "class_template": 0.74 + rng.normal(0, 0.02, n),
                ("truth", "attention", True): 0.6 + rng.normal(0, 0.02, n),
                ("truth", "class_template"): 0.5 + rng.normal(0, 0.02, n)}
    templates = pd.DataFrame(dict(method=["fixed_template", "class_template"], cam_cos=[0.69, 0.74],
                                  att_cos=[0.69, 0.74], truth_cos=[0.45, 0.5]))
    sweep = pd.DataFrame(dict(lam=[0.0, 1.0, 4.0, 10.0], accuracy=[70, 71, 75, 70], att_cos=[0.5, 0.6, 0.7, 0.72]))
    v = verdicts(fer.claims(_fer_table(0.5, 0.73), sweep, n_test=300, repeats=_repeats(0.5, 0.73, 0.0),
                            templates=templates, per_face=per_face))
    assert find(v, "Aligning layer attention") == "reproduced"
    assert find(v, "Alignment raises CAM-COS") == "reproduced"
    assert find(v, "Accuracy is kept") == "partly"                 # kept beyond noise, not improved
    assert find(v, "Lambda ablation: ATT-COS grows") == "partly"     # grows, but below 0.85
    assert find(v, "With AU, attention gets close") == "not reproduced"   # no better than the class template
    assert find(v, "(book) aligned attention follows each face") == "reproduced"
    assert find(v, "Absolute accuracy") == "not comparable"
    v = verdicts(fer.claims(_fer_table(0.5, 0.73), sweep, n_test=300, repeats=None))
    assert find(v, "Aligning layer attention") == "not comparable"  # one run: no noise estimate


# --- 10 -------------------------------------------------------------------------------------------------------------

def test_explainers_compared_claims():
    from facexplain.studies import explainers_compared as ec
    rng = np.random.default_rng(0)
    verdict_rows, sanity_rows = [], []
    for model in ("au_detector", "emotion"):
        for m, top, full in (("gradient", 0.1, 0.05), ("gradcam", 0.2, 0.1), ("lrp.epsilon_plus_flat", 0.9, 0.5),
                             ("gradient_x_input", 0.3, 0.4)):
            verdict_rows.append(dict(model=model, method=m, spearman_top=top, ssim_top=top, spearman_full=full,
                                     ssim_full=full, first_drop="fc", verdict="pass" if top < 0.5 else "late"))
            for step, layer, rho in ((0, "none", 1.0), (1, "fc", top), (2, "layer4.0", top), (3, "stem", full)):
                sanity_rows.append(dict(model=model, method=m, step=step, layer=layer, spearman=rho, ssim=rho,
                                        spearman_sd=0.05, ssim_sd=0.05))
    per_image = []
    for task in ("au_detector", "emotion"):
        for m, mu, cos, fa in (("lrp.epsilon_plus_flat", 0.4, 0.5, 0.05), ("gradcam", 0.3, 0.6, 0.04),
                               ("gradient", 0.35, 0.55, 0.03), ("control: random map", 0.06, 0.3, 0.0),
                               ("control: edge map", 0.1, 0.4, 0.001)):
            for i in range(12):
                per_image.append(dict(task=task, method=m, mu_box=mu + rng.normal(0, 0.02),
                                      mu_truth=mu + rng.normal(0, 0.02), cosine=cos + rng.normal(0, 0.02),
                                      pointing=1.0, rank_accuracy=0.5, faithfulness=fa + rng.normal(0, 0.005)))
    per_image = pd.DataFrame(per_image)
    summary = ec.summarize(per_image)
    v = verdicts(ec.chapter10_claims(summary, pd.DataFrame(verdict_rows), 0.5, per_image=per_image,
                                     sanity=pd.DataFrame(sanity_rows), n_sanity=4))
    assert find(v, "Gradient and GradCAM") == "reproduced"
    assert find(v, "z+-type LRP") == "reproduced"
    assert find(v, "Maps multiplied by the input") == "reproduced"
    assert find(v, "An AU detector's LRP") == "reproduced"
    assert find(v, "Without AU guidance") == "reproduced"
    assert find(v, "(book) The maps are faithful: the pixels they rank first move the au_detector") == "reproduced"


# --- 11 -------------------------------------------------------------------------------------------------------------

def test_shortcut_claims_with_fdr():
    from facexplain.studies import shortcuts as sh
    rng = np.random.default_rng(0)
    rows = []
    for s in (0.0, 0.5, 0.9):
        for m in ("gradient", "gradcam"):
            for i in range(20):
                rows.append(dict(model="emotion", strength=s, method=m, image=i,
                                 mu_box=0.4 - 0.3 * s + rng.normal(0, 0.03), mu_truth=0.4 + rng.normal(0, 0.03),
                                 cosine=0.5 - 0.2 * s + rng.normal(0, 0.03), mu_cue=0.01 + 0.3 * s + rng.normal(0, 0.01)))
    per_image = pd.DataFrame(rows)
    det = sh.detection(per_image, alpha=0.01)
    assert set(det.columns) >= {"model", "method", "metric", "detected_at", "p_value", "n_tests"}
    assert det.set_index(["method", "metric"]).loc[("gradient", "mu_box"), "detected_at"] == 0.5
    assert np.isnan(det.set_index(["method", "metric"]).loc[("gradient", "mu_truth"), "detected_at"])
    table = pd.DataFrame([dict(model="emotion", score="accuracy", strength=s, score_shortcut_test=0.8,
                               score_clean_test=0.8 - 0.5 * s, method=m, mu_box=0.1, mu_truth=0.1, cosine=0.1,
                               mu_cue=0.1, n=20) for s in (0.0, 0.5, 0.9) for m in ("gradient", "gradcam")])
    v = verdicts(sh.chapter11_claims(table, det, 0.01, n_test={"emotion": 300}))
    assert find(v, "emotion: the accuracy stays high") == "reproduced"
    assert find(v, "emotion: explanation metrics move") == "reproduced"
    assert find(v, "emotion: which metric") == "not comparable"
    flat = table.assign(score_clean_test=0.8)
    v = verdicts(sh.chapter11_claims(flat, det, 0.01, n_test={"emotion": 300}))
    assert find(v, "emotion: the accuracy stays high") == "not reproduced"


# --- 12 -------------------------------------------------------------------------------------------------------------

def test_codebook_claims():
    from facexplain.faces import EMOTIONS
    from facexplain.studies import codebooks as cb
    rng = np.random.default_rng(0)
    base = cb.codebook_source("emfacs")
    noisy = (base + rng.normal(0, 0.05, base.shape)).clip(0, 1)
    matrices = {"emfacs": base, "seed004": cb.codebook_source("seed004"), "seed004_code": cb.codebook_source("seed004_code"),
                "generator": base, "geometric": noisy}
    table = cb.agreement_table(matrices)
    per = cb.per_emotion_agreement(matrices)
    v = verdicts(cb.claims(table, per, matrices))
    assert find(v, "Belharbi et al.'s public code") == "by construction"
    assert find(v, "(book) The geometric detector") == "reproduced"
    matrices["geometric"] = pd.DataFrame(rng.random(base.shape), index=base.index, columns=base.columns)
    v = verdicts(cb.claims(cb.agreement_table(matrices), per, matrices))
    assert find(v, "(book) The geometric detector") == "not reproduced"
    assert EMOTIONS
