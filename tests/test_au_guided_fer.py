"""Chapter 04's trainings: one grid trains every model the chapter uses (the two models, the lambda sweep, the seed
repeats), so that on a cluster they run side by side and the later cells only load them from the model cache."""

from __future__ import annotations

from facexplain.studies import au_guided_fer as fer


def test_training_jobs_cover_models_sweep_and_repeats_once():
    cfg = fer.settings("cpu", lambdas=[0, 2, 4], n_seeds=3, seed=5, lam=4.0)
    jobs = fer.training_jobs(cfg)
    assert len(jobs) == len(set(jobs))
    assert jobs[:2] == [(0.0, 5), (4.0, 5)]                        # the chapter's two models come first
    assert set(jobs) == {(0.0, 5), (4.0, 5), (2.0, 5), (0.0, 6), (4.0, 6), (0.0, 7), (4.0, 7)}


def test_sweep_and_repeats_load_what_models_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path / "cache"))
    cfg = fer.settings("cpu", n_faces=42, image_size=32, epochs=1, lambdas=[0, 2], n_seeds=2, lam=2.0,
                       scheduler="serial")
    cfg["out"] = tmp_path / "out"
    cfg.out.mkdir()
    data = fer.data(cfg)
    pair = fer.models(cfg, data)
    assert set(pair) == {False, True}
    trained = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and "fer_au" in str(p))
    assert len(trained) >= len(fer.training_jobs(cfg)) == 4

    sweep = fer.sweep(cfg, data)
    repeats = fer.repeats(cfg, data)
    assert list(sweep.lam) == [0.0, 2.0] and len(repeats) == 4
    assert sweep.accuracy.between(0, 100).all()
    after = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and "fer_au" in str(p))
    assert after == trained, "the sweep or the repeats trained a model that models() had not"
    fer.lambda_sweep(data, [3.0], layer=cfg.layer, epochs=cfg.epochs, scheduler="serial")   # one not among the jobs
    assert len([p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "fer_au" in str(p)]) > len(after)
