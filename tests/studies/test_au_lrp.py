"""Chapter 01's study module (facexplain.studies.au_lrp): settings, the tables set beside the paper's, on hand-made
inputs."""

import numpy as np
import pandas as pd
import pytest

from facexplain.studies import au_lrp


def test_settings_separate_the_presets_folds_from_leave_one_subject_out():
    assert au_lrp.settings("cpu").k_folds == 3 and au_lrp.settings("paper").k_folds == "loso"
    cfg = au_lrp.settings("cpu", composites="lrp.epsilon_plus", widths="[4, 4, 8, 8]")
    assert cfg.composites == ("lrp.epsilon_plus",) and cfg.widths == (4, 4, 8, 8)
    with pytest.raises(ValueError, match="k_folds must be a whole number >= 2"):
        au_lrp.settings("cpu", k_folds="all")
    with pytest.raises(ValueError, match=r"composites\[0\] must be one of"):
        au_lrp.settings("cpu", composites=["lrp.z"])


def test_table1_sets_our_f1_beside_the_papers_and_the_floor():
    f1 = pd.DataFrame(dict(au=[4, 27], f1=[0.8, 0.1], support=[10, 3]))
    per_fold = pd.DataFrame(dict(fold=[0, 0, 1, 1], au=[4, 27, 4, 27], f1=[0.7, 0.2, 0.9, 0.0]))
    fit = au_lrp.Fit(cv=type("CV", (), dict(per_fold=per_fold))(), config=None, f1_cv=f1, chance={4: 0.5, 27: 0.2},
                     best=1, train_idx=np.arange(3), test_idx=np.arange(3, 5), model=None)
    t = au_lrp.table1(fit)
    assert t.au.tolist() == [4, 27] and t.paper_resnet.tolist() == [0.68, 0.57]
    assert t.always_present.tolist() == [0.5, 0.2] and t.paper_openface.isna().tolist() == [False, True]
    assert "best fold 1" in au_lrp.table1_note(fit) and "[0.45, 0.45]" in au_lrp.table1_note(fit)


def test_mu_tables_read_the_main_composite_and_every_composite():
    rows = [dict(au=a, composite=c, region=r, mu=m, n=5, area=0.1, domain="source", shortcut=0.0)
            for a in (4, 6) for c, m in (("lrp.epsilon_plus_flat", 0.4), ("lrp.epsilon_plus", 0.6))
            for r in ("box", "truth")]
    tables = au_lrp.mu_tables(pd.DataFrame(rows), "lrp.epsilon_plus_flat")
    main, wide = tables.values()
    assert main.mu_box.tolist() == [0.4, 0.4] and main.paper_mu.tolist() == [0.5, 0.42]
    assert wide.shape == (2, 4) and "cross domain" not in tables


def test_the_cross_domain_detector_never_sees_the_photo_of_the_shifted_faces(tmp_path, monkeypatch):
    """Chapter 01's shifted faces are blended from `unseen_photo` alone; the detector tested on them trains on
    subjects blended from the other photos only, and Table 2 sets the best fold's model beside it on the same faces."""
    import facexplain.data as data
    from facexplain.faces.generator import GeneratorConfig, identity, rig
    from facexplain.models.au_detector import DetectorConfig, f1_table, inputs_from, predict_logits, targets_from

    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    cfg = au_lrp.settings("cpu", n_faces=30, n_shifted=12, k_folds=3)
    cfg["scheduler"] = "serial"
    assert cfg.unseen_photo == "grace_hopper"
    source, cross = au_lrp.load_data("synthetic", None, 30, 12, 0, unseen_photo=cfg.unseen_photo)
    assert "templates=('grace_hopper',)" in cross.info["generator"]["config"]
    names = rig(112).tpl_names
    shifted_config = GeneratorConfig(domain="shifted", templates=("grace_hopper",))
    for s in set(cross.subject):
        mix = identity(shifted_config, int(s[1:])).mix_shape
        assert mix[names.index("grace_hopper")] == 1 and mix[names.index("astronaut")] == 0

    loaded = []
    real_load = data.load_dataset

    def spy(*args, **kwargs):
        loaded.append(real_load(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(data, "load_dataset", spy)
    det_cfg = DetectorConfig(aus=(4, 12, 25, 26), widths=(4, 8, 8, 8), epochs=1, batch_size=16)
    started = au_lrp.start_unseen_photo(cfg, det_cfg)
    fit = au_lrp.Fit(cv=None, config=det_cfg, f1_cv=pd.DataFrame(dict(au=[4, 12, 25, 26], f1=0.5, support=1)),
                     chance={}, best=0, train_idx=None, test_idx=None,
                     model=au_lrp.unseen_photo_detector("other", det_cfg, "astronaut", 20, 5))
    model = au_lrp.cross_model(fit, started)
    trained_on = loaded[-1]                              # the faces start_unseen_photo's detector learnt from
    assert len(trained_on) == 20 and "templates=('astronaut',)" in trained_on.info["generator"]["config"]
    assert model is not fit.model and not model.training

    f1_cross, table2 = au_lrp.cross_domain(fit, cross, cfg, model)
    expected = f1_table(targets_from(cross, det_cfg.aus).numpy(),
                        (predict_logits(model, inputs_from(cross)) > 0).numpy(), det_cfg.aus)
    assert f1_cross.set_index("au").f1.to_dict() == pytest.approx(expected.set_index("au").f1.to_dict())
    assert {"ours_in_domain", "best_fold_model"} <= set(table2.columns)
    assert "best_fold_model" not in au_lrp.cross_domain(fit, cross, cfg)[1].columns   # the best fold's model itself
    cfg["dataset"] = "ckplus"
    assert au_lrp.start_unseen_photo(cfg, det_cfg) is None and au_lrp.cross_model(fit, None) is fit.model
