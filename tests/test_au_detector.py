"""Seed 001's AU detector: outputs named by AU, the weighted loss, F1 tables, clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facexplain.data.records import FaceDataset
from facexplain.models import au_detector as det


def _dataset(n=12, size=32, aus=(4, 6, 12), coded=True):
    rng = np.random.default_rng(0)
    inten = rng.integers(0, 3, size=(n, len(aus))).astype(np.float32) if coded else np.full((n, len(aus)), np.nan)
    return FaceDataset("toy", rng.integers(0, 255, (n, size, size), dtype=np.uint8), None, aus, inten,
                       ["neutral"] * n, [f"s{i % 4}" for i in range(n)], np.zeros(n))


def test_au_index_names_the_missing_au():
    model = det.make_detector(aus=(4, 6), widths=(2, 2, 2, 2))
    assert det.au_index(model, "AU6") == 1
    with pytest.raises(ValueError, match="AU12 is not an output of this detector"):
        det.au_index(model, 12)


def test_detector_aus_needs_au_coding():
    assert det.detector_aus(_dataset(), aus=(4, 6, 7)) == (4, 6)
    with pytest.raises(ValueError, match="no Action Unit coding"):
        det.detector_aus(_dataset(coded=False))


def test_weighted_bce_ignores_uncoded_labels_and_weights_positives():
    logits = torch.zeros(2, 2)
    y = torch.tensor([[1.0, float("nan")], [0.0, float("nan")]])
    w = torch.tensor([3.0, 1.0])
    # column 2 is ignored; column 1: (3 * ln2 + ln2) / 2 known labels
    assert float(det.weighted_bce(logits, y, w)) == pytest.approx(2 * np.log(2))
    assert det.pos_weights(torch.tensor([[1.0], [0.0], [0.0], [0.0]])).tolist() == [3.0]


def test_f1_table_and_tiny_training(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    ds = _dataset()
    cfg = det.DetectorConfig(aus=(4, 6), widths=(2, 2, 2, 2), epochs=1, batch_size=8)
    x, y = det.inputs_from(ds), det.targets_from(ds, cfg.aus)
    assert x.shape == (12, 1, 32, 32) and float(x.max()) <= 1.0
    model = det.train_detector(x, y, cfg)
    assert model.aus == (4, 6) and not model.training
    again = det.train_detector(x, y, cfg)                       # second call: the cached weights
    torch.testing.assert_close(det.predict_logits(model, x), det.predict_logits(again, x))
    t = det.f1_table(np.array([[1, 0], [1, 1]]), np.array([[1, 0], [0, 1]]), (4, 6), split="x")
    assert t.f1.tolist() == pytest.approx([2 / 3, 1.0]) and t.support.tolist() == [2, 1]
    with pytest.raises(ValueError, match="must match"):
        det.train_detector(x, y[:5], cfg)


def test_cross_validation_takes_a_number_of_folds_or_loso_explicitly():
    from facexplain.data import load_dataset
    from facexplain.models.au_detector import DetectorConfig, cross_validate
    faces = load_dataset("synthetic", n=12, seed=0, image_size=32)
    for k in (None, 1, "all", True):
        with pytest.raises(ValueError, match="k must be a number of folds >= 2 or 'loso'"):
            cross_validate(faces, DetectorConfig(aus=(12,), epochs=1), k=k)


def test_recipes_name_the_paper_and_the_book_training(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    paper = det.DetectorConfig.recipe("paper", aus=(4, 6))
    assert (paper.optimizer, paper.lr, paper.momentum, paper.schedule, paper.augment) == ("sgd", 0.01, 0.95,
                                                                                          "constant", False)
    assert det.DetectorConfig(aus=(4, 6)) == paper                 # the default is the paper's recipe
    book = det.DetectorConfig.recipe("one_cycle", aus=(4, 6), widths=(2, 2, 2, 2), epochs=2, batch_size=4)
    assert (book.optimizer, book.schedule, book.augment) == ("adamw", "one_cycle", True)
    with pytest.raises(ValueError, match="unknown training recipe 'adam'"):
        det.DetectorConfig.recipe("adam")
    with pytest.raises(ValueError, match="optimizer must be"):
        det.DetectorConfig(optimizer="rmsprop")
    ds = _dataset(n=14)
    x, y = det.inputs_from(ds), det.targets_from(ds, book.aus)
    model = det.train_detector(x, y, book)                          # 14 faces, batches of 4: 3 steps an epoch
    plain = det.train_detector(x, y, det.DetectorConfig(**{**book.__dict__, "augment": False}))
    assert not torch.equal(det.predict_logits(model, x), det.predict_logits(plain, x))
