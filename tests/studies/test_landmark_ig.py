"""The landmark chapter's pipeline pieces: cached training by config, accuracy, summaries, tables, claims."""

import numpy as np
import pandas as pd
import pytest

from facexplain.studies import landmark_ig as lig
from facexplain.data.sequences import SequenceSet

EMO = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")


@pytest.fixture()
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    n, p, l = 36, 3, 468
    emotion = np.array([EMO[i % 6] for i in range(n)], dtype=object)
    x = rng.normal(size=(n, p, 2, l)).astype(np.float32) * 0.1
    for i, e in enumerate(emotion):
        x[i, -1, 0, EMO.index(e) * 10:(EMO.index(e) + 1) * 10] += 1.0    # each emotion moves its own 10 landmarks
    raw = x.transpose(0, 1, 3, 2).copy()
    seqs = SequenceSet(x, raw, emotion, np.array([f"S{i % 12}" for i in range(n)], dtype=object), None, EMO, {})
    return seqs, np.arange(24), np.arange(24, 36)


def test_train_net_is_cached_and_deterministic(tiny):
    seqs, tr, te = tiny
    st = lig.TrainSettings(epochs=2, lr=1e-2, batch_size=8, filters=2, lstm_units=3, fc1=4,
                           extra=lig.data_key(seqs, tr))
    a = lig.train_net(seqs, tr, "fear", "r-emo", np.arange(20), 0, st)
    b = lig.train_net(seqs, tr, "fear", "r-emo", np.arange(20), 0, st)
    for u, v in zip(a.state_dict().values(), b.state_dict().values()):
        assert np.array_equal(u.numpy(), v.numpy())
    acc, bacc = lig.accuracy(a, seqs.x[te][..., :20], seqs.binary("fear")[te])
    assert 0 <= bacc <= 1 and 0 <= acc <= 1
    assert st.architecture("fear", 64) == dict(filters=2, lstm_units=3, fc1=4)
    assert lig.TrainSettings().architecture("fear", 64) == dict(filters=39, lstm_units=51, fc1=34)


def test_summaries_and_tables():
    runs = pd.DataFrame(dict(net="T-EMO", emotion="fear", k=[468, 468, 16, 16], seed=[0, 1, 0, 1],
                             acc=[0.9, 1.0, 0.8, 0.8], bacc=[0.5, 0.7, 0.5, 0.5]))
    s = lig.summarise_runs(runs)
    row = s[s.k == 468].iloc[0]
    assert row.acc_mean == pytest.approx(0.95) and row.acc_std == pytest.approx(np.std([0.9, 1.0], ddof=1))
    assert row.n_seeds == 2 and list(s.columns[:6]) == ["net", "emotion", "k", "acc_mean", "acc_std", "n_seeds"]
    grid = lig.accuracy_grid(s, "T-EMO")
    assert list(grid.columns) == [468, 16] and grid.loc["fear", 16] == "0.800 ± 0.000"
    prec = lig.precision_table({"t-emo": {"fear": np.array([3, 1, 2, 0])}}, {"fear": np.array([3, 0])}, [4, 2, 1],
                               n_landmarks=4)
    assert list(prec.k) == [2, 1] and list(prec.precision) == [0.5, 1.0] and prec.chance.iloc[0] == 0.5


def test_claims_table_has_verdicts():
    ks = [468, 64, 16]
    runs = pd.DataFrame([dict(net=n, emotion=e, k=k, seed=s, acc=0.9 + 0.01 * (k == 64) + 0.001 * s,
                              bacc=0.9, val_acc=0.9 + 0.01 * (k == 64)) for n in ("T-EMO", "R-EMO") for e in EMO
                         for k in ks for s in range(3)])
    svm = pd.DataFrame([dict(model=m, emotion=e, k=468, seed=s, acc=0.95, bacc=0.9) for m in ("linear SVM", "RBF SVM")
                        for e in EMO for s in range(3)])
    prec = pd.DataFrame([dict(net=n, emotion=e, k=k, precision=p + 0.01 * EMO.index(e), chance=0.2, n_truth=90)
                         for n, p in (("T-EMO", 0.8), ("INPUT_ONLY", 0.5)) for e in EMO for k in (64, 16)])
    comp = pd.DataFrame(dict(net="T-EMO", emotion=list(EMO), pairs=10, completeness_error=0.004))
    c = lig.claims_table(runs, svm, prec, comp, ks)
    assert list(c.columns) == ["claim", "paper", "ours", "control", "verdict"]
    assert c.verdict.str.match(r"^(reproduced|partly|not reproduced|not comparable)").all()
    assert c.verdict.iloc[0].startswith("reproduced")                   # precision 0.8 vs input-only 0.5
    assert c[c.claim.str.contains("linear SVM")].verdict.iloc[0].startswith("not reproduced")
    assert c[c.claim.str.contains("T-EMO: some k")].verdict.iloc[0].startswith("reproduced")
    # the other normalisation's nets: a ranking from nets that learnt nothing is no evidence, however it scores
    other = prec.assign(normalisation="sequence", bacc=np.where(prec.net == "T-EMO", 0.5, np.nan),
                        completeness_error=np.nan)
    both = {"neutral": prec, "sequence": other}
    c = lig.claims_table(runs, svm, prec, comp, ks, precision_by_norm=both)
    row = c[c.claim.str.contains("sequence normalisation")].iloc[0]
    assert row.verdict.startswith("not comparable") and "balanced accuracy 0.50" in row.ours
    c = lig.claims_table(runs, svm, prec, comp, ks, precision_by_norm={**both, "sequence": other.assign(bacc=0.8)})
    assert c[c.claim.str.contains("sequence normalisation")].verdict.iloc[0].startswith("reproduced")
    # one emotion's net at chance: that emotion is left out of the paired test, and said to be
    one_idle = other.assign(bacc=np.where(other.emotion == "anger", 0.5, 0.8))
    row = lig.claims_table(runs, svm, prec, comp, ks, precision_by_norm={**both, "sequence": one_idle})
    row = row[row.claim.str.contains("sequence normalisation")].iloc[0]
    assert "anger at chance, left out" in row.ours and "over 5 pairs" in row.verdict


def test_seed_split_and_chosen_k():
    n = 120                                                     # 20 subjects, each showing all six emotions
    x = np.zeros((n, 2, 2, 5), np.float32)
    seqs = SequenceSet(x, x.transpose(0, 1, 3, 2).copy(), np.array([EMO[i % 6] for i in range(n)], dtype=object),
                       np.array([f"S{i // 6}" for i in range(n)], dtype=object), None, EMO, {})
    tr, va, te = lig.seed_split(seqs, 0.25, seed=0)
    assert not (set(seqs.subject[tr]) & set(seqs.subject[va])) and not (set(seqs.subject[tr]) & set(seqs.subject[te]))
    other = lig.seed_split(seqs, 0.25, seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip((tr, va, te), other))       # the partition varies by seed
    runs = pd.DataFrame(dict(net="T-EMO", emotion="fear", seed=0, k=[468, 64, 16], acc=[0.7, 0.9, 0.8],
                             val_acc=[0.6, 0.6, 0.9]))
    got = lig.chosen_k(runs, among=[64, 16])
    assert got.k.tolist() == [16] and got.acc.tolist() == [0.8]          # chosen on validation, read on test
    assert lig.chosen_k(runs.assign(val_acc=0.6)).k.tolist() == [468]   # ties: the larger k




def test_detector_error_and_its_prose_numbers(tmp_path):
    from types import SimpleNamespace

    from facexplain.data.sequences import load_sequences

    found = load_sequences(n_sequences=12, n_frames=3, seed=5, normalisation="neutral")
    cfg = SimpleNamespace(out=tmp_path, truth_threshold=0.03)
    parts, by_emotion = lig.detector_error(cfg, found)
    assert (tmp_path / "mediapipe_error.csv").exists() and (tmp_path / "mediapipe_gain.csv").exists()
    assert 0 < parts.loc["all", "error"] < 0.1 and parts.loc["all", "motion_error"] > 0
    numbers = lig.detector_numbers(cfg, found, parts, by_emotion)
    assert numbers["lm_source"] == "MediaPipe Face Mesh" and numbers["lm_frames"] == 36
    assert numbers["lm_gain_low"] <= numbers["lm_gain"] <= numbers["lm_gain_high"] or np.isnan(numbers["lm_gain"])
    assert numbers["lm_gain_low_emotion"] in found.emotions and "noisy copy" in numbers["lm_copy"]
    exact = load_sequences(n_sequences=12, n_frames=3, seed=5, normalisation="neutral", landmarks="exact")
    parts, by_emotion = lig.detector_error(cfg, exact)                 # the networks' points are the truth itself
    assert parts.loc["all", "error"] == 0 and abs(parts.loc["all", "gain"] - 1) < 1e-9
    assert lig.detector_numbers(cfg, exact, parts, by_emotion)["lm_copy"] == "the generator's exact motion"
    assert lig.detector_error(cfg, SequenceSet(exact.x, exact.raw, exact.emotion, exact.subject, None, EMO, {})) == \
        (None, None)                                                    # real clips: no exact points to compare
