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
