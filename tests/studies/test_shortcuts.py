"""Chapter 11's sweep pieces (facexplain.studies.shortcuts), on tiny data."""

from __future__ import annotations

import numpy as np
import pytest


def test_shortcut_step_data_keeps_the_faces_and_drops_only_the_mark():
    from facexplain.studies.shortcuts import SweepConfig, cue_mask, step_data
    cfg = SweepConfig(n_faces=40, image_size=48)
    d = step_data(1.0, cfg)
    assert d.test.extra["shortcut"].all() and not d.clean_test.extra["shortcut"].any()
    assert set(d.train.subject).isdisjoint(d.test.subject)
    diff = d.test.images.astype(int) != d.clean_test.images.astype(int)
    cue = cue_mask((48, 48))
    assert diff.any() and not diff[:, ~cue].any()          # the faces are the same except in the mark's strip
    with pytest.raises(ValueError, match="probability"):
        step_data(1.5, cfg)
    with pytest.raises(ValueError, match="unknown methods"):
        SweepConfig(methods=("nope",))


def test_detection_finds_a_shifted_metric():
    import pandas as pd
    from facexplain.studies.shortcuts import detection
    rng = np.random.default_rng(0)
    rows = []
    for s, shift in ((0.0, 0.0), (0.5, 0.0), (0.9, 0.4)):
        for j in range(20):
            rows.append(dict(model="m", method="g", strength=s, image=j, mu_box=0.6 - shift + 0.01 * rng.normal(),
                             mu_truth=0.5 + 0.01 * rng.normal(), cosine=0.5 + 0.01 * rng.normal(), mu_cue=0.01 + shift + 0.001 * rng.normal()))
    det = detection(pd.DataFrame(rows)).set_index("metric")
    assert det.loc["mu_box", "detected_at"] == 0.9 and det.loc["mu_cue", "detected_at"] == 0.9
    assert np.isnan(det.loc["mu_truth", "detected_at"])


def test_settings_build_the_sweep_config():
    from facexplain.studies.shortcuts import SWEEP_METHODS, settings
    cfg = settings("cpu", strengths="[0, 0.5]", epochs=2, device="cpu")
    assert cfg.strengths == [0.0, 0.5] and cfg.sweep.detector_epochs == cfg.sweep.fer_epochs == 2
    assert cfg.sweep.methods == SWEEP_METHODS and cfg.sweep.image_size == 64
    with pytest.raises(ValueError, match=r"strengths\[1\] must be a finite number in \[0, 1\]"):
        settings("cpu", strengths=[0, 1.5])
    with pytest.raises(ValueError, match=r"methods\[0\] must be one of"):
        settings("cpu", methods=["nope"])
