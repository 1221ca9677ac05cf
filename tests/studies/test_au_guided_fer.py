"""Chapter 04 (seed 004's FER model and its study): AU maps from emotion + landmarks + codebook, the alignment loss, its effect, the cache."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facexplain.data import load_dataset
from test_loaders import affectnet_dir, rafdb_dir  # noqa: F401  (fixture trees in the datasets' native layouts)
from facexplain.faces import au_map, codebook
from facexplain.models.au_maps import au_maps, ensure_landmarks, has_map
from facexplain.models.fer import alignment_cosine, attention, au_loss, fer_model, layer_index, shrink_maps, to_input
from facexplain.studies import au_guided_fer as fer_study
from facexplain.studies.shared import evaluate_fer, fer_data, load_fer_data, train_fer


@pytest.fixture(scope="module")
def faces():
    return load_dataset("synthetic", n=40, seed=5, image_size=64)


def test_au_maps_follow_codebook_and_leave_neutral_empty(faces):
    maps = au_maps(faces.landmarks, faces.emotion, "seed004", (64, 64))
    assert maps.shape == (40, 64, 64) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    neutral = faces.emotion == "neutral"
    assert neutral.any() and (~neutral).any()
    assert np.array_equal(has_map(maps), ~neutral)
    i = int(np.flatnonzero(faces.emotion == "happiness")[0])
    assert np.allclose(maps[i], au_map(faces.landmarks[i], codebook("seed004")["happiness"], (64, 64)))


def test_codebook_variants_differ_only_where_the_sources_do(faces):
    emo = np.array(["disgust", "happiness"], dtype=object)
    lm = faces.landmarks[:2]
    fig, code = au_maps(lm, emo, "seed004", (64, 64)), au_maps(lm, emo, "seed004_code", (64, 64))
    assert not np.allclose(fig[0], code[0])      # disgust: AU10 (figure) vs AU5 (code)
    assert np.allclose(fig[1], code[1])
    assert not np.allclose(fig[1], au_maps(lm, emo, "emfacs", (64, 64))[1])   # happiness 6+12 vs 6+12+25


def test_au_maps_bad_input(faces):
    with pytest.raises(ValueError, match="unknown codebook"):
        au_maps(faces.landmarks, faces.emotion, "facs")
    with pytest.raises(ValueError, match="no landmarks"):
        au_maps(None, faces.emotion)
    with pytest.raises(ValueError, match="one of each per face"):
        au_maps(faces.landmarks[:3], faces.emotion[:2])
    ds = faces.subset(np.arange(4))
    ds.landmarks = None
    with pytest.raises(ValueError, match="detect=True"):
        ensure_landmarks(ds, detect=False)


def test_loss_is_ce_plus_lambda_one_minus_cosine():
    torch.manual_seed(0)
    model = fer_model(7, widths=(4, 8, 8, 16)).eval()
    x = torch.randn(4, 1, 64, 64)
    y = torch.tensor([0, 3, 6, 1])
    maps = torch.rand(4, 64, 64)
    maps[2] = 0                                   # a neutral face: no AU map
    with torch.no_grad():
        ce = F.cross_entropy(model(x), y)
        assert torch.allclose(au_loss(model, x, y, maps, lam=0.0), ce)
        att = model.features(x)[4].mean(1)
        keep = torch.tensor([0, 1, 3])
        cos = alignment_cosine(att[keep], shrink_maps(maps[keep], att.shape[-2:]))
        expected = ce + 2.5 * (1 - cos).mean()
        assert torch.allclose(au_loss(model, x, y, maps, lam=2.5, layer="layer4"), expected, atol=1e-6)
        # only neutral faces in the batch: the alignment term vanishes
        assert torch.allclose(au_loss(model, x[2:3], y[2:3], maps[2:3], lam=5.0), F.cross_entropy(model(x[2:3]), y[2:3]))


def test_alignment_cosine_and_layers():
    a = torch.rand(3, 4, 4)
    assert torch.allclose(alignment_cosine(a, 3 * a), torch.ones(3), atol=1e-6)
    assert layer_index("stem") == 0 and layer_index("layer4") == 4 and layer_index(2) == 2
    with pytest.raises(ValueError, match="unknown layer"):
        layer_index("layer5")
    model = fer_model(7, widths=(4, 8, 8, 16))
    assert attention(model, torch.randn(2, 1, 64, 64), "layer3").shape == (2, 4, 4)
    assert attention(model, torch.randn(2, 1, 64, 64), "layer3", size=(64, 64)).shape == (2, 64, 64)


def test_alignment_term_raises_the_attention_cosine(faces):
    """A few steps on the alignment loss alone bring the layer attention closer to the AU maps."""
    torch.manual_seed(0)
    model = fer_model(7, widths=(4, 8, 8, 16))
    maps = torch.as_tensor(au_maps(faces.landmarks, faces.emotion, "seed004", (64, 64)))
    keep = maps.flatten(1).amax(1) > 0
    x, maps = to_input(faces.images)[keep][:16], maps[keep][:16]

    def score():
        model.eval()
        with torch.no_grad():
            att = attention(model, x, "layer3")
            return alignment_cosine(att, shrink_maps(maps, att.shape[-2:])).mean().item()

    before = score()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    y = torch.zeros(len(x), dtype=torch.long)
    for _ in range(8):
        model.train()
        loss = au_loss(model, x, y, maps, lam=10.0, layer="layer3") - F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert score() > before + 0.1


def test_training_is_cached_and_deterministic(faces, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    tr, te = faces.subset(np.arange(12)), faces.subset(np.arange(30, 40))
    data = fer_data(tr, te, "seed004", key={"test": "tiny"})
    kw = dict(lam=1.0, layer="layer3", epochs=1, batch_size=16, widths=(4, 8, 8, 16))
    a = train_fer(data, **kw)
    assert len(list((tmp_path / "fer_au").glob("*.pt"))) == 1
    b = train_fer(data, **kw)                      # loaded from the cache
    c = train_fer(data, cache=False, **kw)         # trained again: same seed, same weights
    for pa, pb, pc in zip(a.state_dict().values(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb) and torch.equal(pa, pc)
    result = evaluate_fer(a, data, layer="layer3")
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["att_cos"] <= 1
    assert np.isnan(result["att_cos_per_face"][data.labels_test == "neutral"]).all()
    with pytest.raises(ValueError, match="lam must be >= 0"):
        train_fer(data, lam=-1.0)


def test_load_fer_data_errors():
    with pytest.raises(ValueError, match="not a FER set"):
        load_fer_data("ckplus", data_dir="/nowhere")
    with pytest.raises(ValueError, match="generated"):
        load_fer_data("synthetic", data_dir="/nowhere")
    with pytest.raises(ValueError, match="data_dir"):
        load_fer_data("rafdb", data_dir=None)


def test_compare_methods_and_claims(faces):
    import pandas as pd
    from facexplain.studies.au_guided_fer import (attention_ceiling, claims, compare_methods, per_face_scores,
                                                  template_controls)

    data = fer_data(faces.subset(np.arange(12)), faces.subset(np.arange(12, 40)), "seed004")
    torch.manual_seed(0)
    models = {False: fer_model(7, widths=(4, 8, 8, 16)).eval(), True: fer_model(7, widths=(4, 8, 8, 16)).eval()}
    table, per_class, views = compare_methods(models, data, ["cam", "gradcam", "attention"], keep_faces=[0, 1])
    assert list(table.columns) == ["method", "with_au", "accuracy", "cam_cos", "att_cos"]
    assert len(table) == 6 and table["cam_cos"].between(0, 1).all()
    att = table[table["method"] == "attention"]
    assert np.allclose(att["cam_cos"], att["att_cos"])          # the attention row's CAM-COS is ATT-COS
    assert views[("cam", True)]["faces"].shape == (2, 64, 64)
    assert "neutral" not in set(per_class["emotion"])
    ceiling = attention_ceiling(models[True], data)
    assert ceiling["size"] == "2x2" and 0 < ceiling["flat"] < ceiling["best"] <= 1
    # the per-image truth measure and the template controls
    truth = np.asarray(data.maps_test)[:, ::-1].copy()           # any per-face reference map will do here
    table, _, views = compare_methods(models, data, ["cam", "attention"], keep_faces=[0], truth=truth)
    assert table["truth_cos"].between(0, 1).all() and views[("cam", True)]["truth"].shape == (len(data.y_test),)
    templates, faces_t = template_controls(data, truth)
    assert list(templates.method) == ["fixed_template", "class_template"]
    assert templates[["cam_cos", "att_cos", "truth_cos"]].apply(lambda c: c.between(0, 1)).all().all()
    pf = per_face_scores(views, faces_t)
    assert {("cam", True), ("truth", "cam", True), "class_template", ("truth", "class_template")} <= set(pf)
    c = claims(table, None, templates=templates, per_face=pf)
    assert set(c.columns) >= {"claim", "paper", "ours", "control", "verdict"} and c.control.astype(bool).all()
    assert pd  # noqa


def test_real_sets_read_through_their_loaders(affectnet_dir, rafdb_dir, tmp_path, monkeypatch):
    """AffectNet ships 68 landmarks -> AU maps; RAF-DB has none -> detection, or a clear error without it."""
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path / "cache"))
    data = load_fer_data("affectnet", affectnet_dir, n_faces=None, image_size=32)
    assert len(data.y_train) == 1 and data.classes[data.y_train[0]] == "happiness"   # contempt dropped
    assert data.maps_train.shape == (1, 32, 32) and data.maps_train.max() == 1
    assert data.classes[data.y_test[0]] == "anger" and data.maps_test.max() == 1
    with pytest.raises(ValueError, match="no landmarks"):
        load_fer_data("rafdb", rafdb_dir, n_faces=None, image_size=32, detect_landmarks=False)
    with pytest.raises(ValueError, match="MediaPipe found no face"):
        load_fer_data("rafdb", rafdb_dir, n_faces=None, image_size=32)    # flat grey fixture images: no face


def test_list_parameters_accept_papermill_text():
    from facexplain.checks import listed
    assert listed("lambdas", "[0, 1, 4]", float) == [0.0, 1.0, 4.0]
    assert listed("lambdas", "0,4", float) == [0.0, 4.0]
    assert listed("cam_methods", ["cam", "gradcam"]) == ["cam", "gradcam"]
    with pytest.raises(ValueError, match="not a list"):
        listed("lambdas", "[0,", float)


def test_chapter_settings_fill_from_the_preset_and_check_overrides():
    from facexplain.studies.au_guided_fer import PRESETS, settings
    cpu = settings("cpu")
    assert cpu["n_faces"] == PRESETS["cpu"]["n_faces"] and cpu["image_size"] == 112
    assert cpu["lambdas"][0] == 0.0 and cpu["lam"] in cpu["lambdas"]           # 0 and lam always in the ablation
    mine = settings("cpu", epochs=3, lam=2, lambdas="[1, 10]", cam_methods="cam,gradcam")
    assert mine["epochs"] == 3 and mine["lambdas"] == [0.0, 1.0, 2.0, 10.0] and mine["cam_methods"] == ["cam", "gradcam"]
    assert settings("paper", dataset="rafdb")["n_faces"] is None                       # the paper preset reads every face
    assert "scorecam" in settings("paper")["cam_methods"] and "scorecam" not in cpu["cam_methods"]
    with pytest.raises(ValueError, match="unknown parameter.*n_epochs"):
        settings("cpu", n_epochs=3)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        settings("cpu", lam=-1)
    with pytest.raises(ValueError, match="preset"):
        settings("gpu")


def test_seed_repeats_feed_the_accuracy_claims(faces, tmp_path, monkeypatch):
    import pandas as pd
    from facexplain.studies.au_guided_fer import claims, seed_repeats, seed_summary

    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    data = fer_data(faces.subset(np.arange(12)), faces.subset(np.arange(30, 40)), "seed004", key={"test": "seeds"})
    rep = seed_repeats(data, 1.0, [0, 1], layer="layer3", epochs=1, batch_size=16, widths=(4, 8, 8, 16))
    assert list(rep.columns) == ["seed", "with_au", "accuracy", "att_cos"] and len(rep) == 4
    assert rep.groupby("seed")["with_au"].apply(set).map(lambda s: s == {False, True}).all()
    assert rep["accuracy"].between(0, 100).all()
    # hand-made repeats: the gap is the mean of the per-seed (with - without) differences
    hand = pd.DataFrame(dict(seed=[0, 0, 1, 1, 2, 2], with_au=[False, True] * 3,
                             accuracy=[60.0, 70.0, 66.0, 64.0, 63.0, 66.0], att_cos=[0.5, 0.7, 0.5, 0.72, 0.49, 0.7]))
    g = seed_summary(hand)
    assert g["n"] == 3 and np.isclose(g["d_acc"], (10 - 2 + 3) / 3) and g["n_better"] == 2
    assert np.isclose(g["d_acc_sd"], np.std([10, -2, 3], ddof=1))
    t = pd.DataFrame([dict(method="cam", with_au=False, accuracy=60.0, cam_cos=0.4, att_cos=0.5),
                      dict(method="cam", with_au=True, accuracy=70.0, cam_cos=0.7, att_cos=0.7)])
    sweep = pd.DataFrame(dict(lam=[0.0, 4.0, 8.0], accuracy=[60.0, 70.0, 62.0], att_cos=[0.5, 0.7, 0.7]))
    acc = "Accuracy is kept (within 2 points) or improved"
    peak = "Lambda ablation: accuracy peaks near lambda = 4"
    single = claims(t, sweep, n_test=1000).set_index("claim")["verdict"]
    seeded = claims(t, sweep, n_test=1000, repeats=hand).set_index("claim")["verdict"]
    assert single[acc].startswith("partly")                 # one run each: kept beyond test noise, at most
    assert seeded[acc].startswith("not reproduced")         # over seeds +3.7 ± 6.0: not clear of a 2-point loss
    assert single[peak].startswith("reproduced")            # 8-point lead vs test SE 1.6 (x sqrt 2)
    assert seeded[peak].startswith("not reproduced")        # vs seed sd 3.0 (x sqrt 2): within 2x noise
    clear = sweep.assign(accuracy=[60.0, 75.0, 62.0])
    assert claims(t, clear, n_test=1000, repeats=hand).set_index("claim")["verdict"][peak].startswith("reproduced")
    assert seeded["Aligning layer attention with AU maps raises ATT-COS"].startswith("reproduced")
    assert single["Aligning layer attention with AU maps raises ATT-COS"].startswith("not comparable")


def test_augmentation_moves_the_au_map_with_its_face():
    from facexplain.train import Augment

    def augment_batch(x, maps, gen, **kw):              # how fit_classifier calls it
        return Augment(**kw)(x, gen, maps)

    x = torch.zeros(6, 1, 32, 32)
    x[:, :, 8:13, 18:23] = 1.0
    maps = x[:, 0].clone()
    xa, ma = augment_batch(x, maps, torch.Generator().manual_seed(0), shift=0.1, scale=0.05, contrast=0.0,
                           brightness=0.0)
    grid = torch.stack(torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij"))

    def centroid(m):                                                   # (N, H, W) -> (N, 2)
        return (m[:, None] * grid).sum((2, 3)) / m.sum((1, 2))[:, None]

    assert torch.allclose(centroid(xa[:, 0].clamp(min=0)), centroid(ma), atol=0.5)   # the map moved with the face
    assert (centroid(ma) - centroid(maps)).norm(dim=1).max() > 1.0                  # and the faces did move
    again = augment_batch(x, maps, torch.Generator().manual_seed(0), shift=0.1, scale=0.05, contrast=0.0,
                          brightness=0.0)
    assert torch.equal(again[0], xa) and torch.equal(again[1], ma)                  # seeded
    lit, _ = augment_batch(x, maps, torch.Generator().manual_seed(1), shift=0.0, scale=0.0, contrast=0.0,
                           brightness=0.5)
    assert not torch.allclose(lit, x) and torch.allclose(lit - lit.mean((2, 3), keepdim=True),
                                                         x - x.mean((2, 3), keepdim=True), atol=1e-5)
    with pytest.raises(ValueError, match="shift must be in"):
        augment_batch(x, maps, torch.Generator(), shift=1.5)


def test_fit_classifier_learns_and_checks_its_inputs(faces):
    from facexplain.models.fer import fit_classifier

    data = fer_data(faces.subset(np.arange(24)), faces.subset(np.arange(30, 40)), "seed004", key={"test": "fit"})
    torch.manual_seed(0)
    model = fer_model(len(data.classes), widths=(4, 8, 8, 16))
    history = fit_classifier(model, data.x_train, data.y_train, data.maps_train, lam=1.0, epochs=12, batch_size=8,
                             lr=1e-2)
    assert len(history) == 12 and history[-1] < 0.8 * history[0]     # measured: 2.21 -> 1.56
    with pytest.raises(ValueError, match="one entry per face"):
        fit_classifier(model, data.x_train, data.y_train[:3], data.maps_train)


# Chapter 04 trains every model it uses (the two models, the lambda sweep, the seed repeats) as one grid, so that
# on a cluster they run side by side and the later cells only load them from the model cache.

def test_training_jobs_cover_models_sweep_and_repeats_once():
    cfg = fer_study.settings("cpu", lambdas=[0, 2, 4], n_seeds=3, seed=5, lam=4.0)
    jobs = fer_study.training_jobs(cfg)
    assert len(jobs) == len(set(jobs))
    assert jobs[:2] == [(0.0, 5), (4.0, 5)]                        # the chapter's two models come first
    assert set(jobs) == {(0.0, 5), (4.0, 5), (2.0, 5), (0.0, 6), (4.0, 6), (0.0, 7), (4.0, 7)}


def test_sweep_and_repeats_load_what_models_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path / "cache"))
    cfg = fer_study.settings("cpu", n_faces=42, image_size=32, epochs=1, lambdas=[0, 2], n_seeds=2, lam=2.0,
                       scheduler="serial")
    cfg["out"] = tmp_path / "out"
    cfg.out.mkdir()
    data = fer_study.data(cfg)
    pair = fer_study.models(cfg, data)
    assert set(pair) == {False, True}
    trained = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and "fer_au" in str(p))
    assert len(trained) >= len(fer_study.training_jobs(cfg)) == 4

    sweep = fer_study.sweep(cfg, data)
    repeats = fer_study.repeats(cfg, data)
    assert list(sweep.lam) == [0.0, 2.0] and len(repeats) == 4
    assert sweep.accuracy.between(0, 100).all()
    after = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and "fer_au" in str(p))
    assert after == trained, "the sweep or the repeats trained a model that models() had not"
    fer_study.lambda_sweep(data, [3.0], layer=cfg.layer, epochs=cfg.epochs, scheduler="serial")   # one not among the jobs
    assert len([p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "fer_au" in str(p)]) > len(after)
