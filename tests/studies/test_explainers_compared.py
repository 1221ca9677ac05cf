"""Chapter 10's comparison (facexplain.studies.explainers_compared), on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facexplain.studies.explainers_compared import Task, au_task, compare_methods, emotion_evidence_aus, emotion_task, score_maps, summarize


def _masks():
    box = np.zeros((2, 8, 8), bool)
    box[:, :4, :4] = True
    truth = np.zeros((2, 8, 8), bool)
    truth[:, :2, :2] = True
    au_map = truth.astype(float)
    return box, truth, au_map


def test_score_maps_against_definitions():
    box, truth, au_map = _masks()
    maps = np.zeros((2, 8, 8))
    maps[0, 0, 0] = 3.0                   # all positive relevance at one true pixel
    maps[0, 7, 7] = -5.0                  # negative relevance does not count for mu
    maps[1, 3, 3] = 1.0                   # inside the box, outside the truth
    maps[1, 7, 7] = 1.0                   # outside both
    s = score_maps(maps, box, truth, au_map)
    assert s["mu_box"].tolist() == [1.0, 0.5]
    assert s["mu_truth"].tolist() == [1.0, 0.0]
    assert s["pointing"].tolist() == [1.0, 0.0]
    # K = 4 true pixels; the top 4 are (0,0) and, ties broken by pixel order, (0,1) (0,2) (0,3): two are true
    assert s["rank_accuracy"][0] == pytest.approx(0.5)
    assert s["cosine"][0] == pytest.approx(1 / 2)          # map = one of four AU-map pixels: cos = 1/sqrt(4)
    assert s["cosine"][1] == pytest.approx(0.0)
    empty = score_maps(np.zeros((2, 8, 8)), box, truth, au_map)  # undefined, not an error
    assert np.isnan(empty["mu_box"]).all() and np.isnan(empty["pointing"]).all()


def test_task_checks_shapes():
    box, truth, au_map = _masks()
    with pytest.raises(ValueError, match="box has shape"):
        Task("t", torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), box[:1], truth, au_map)
    with pytest.raises(ValueError, match="no images"):
        Task("t", torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long), box[:0], truth[:0], au_map[:0])


def test_emotion_evidence_aus():
    assert emotion_evidence_aus("happiness", [6, 12, 4]) == [6, 12]            # AU4 is not happiness evidence
    assert emotion_evidence_aus("happiness", [25]) == [25]                     # seed 004 adds AU25
    assert emotion_evidence_aus("happiness", []) == [6, 12, 25]                # nothing active: the codebook


@pytest.fixture(scope="module")
def faces():
    from facexplain.data import load_dataset
    return load_dataset("synthetic", n=12, seed=3, image_size=48, cache=False)


@pytest.fixture(scope="module")
def au_setup(faces, tiny_resnet):
    """An untrained two-AU detector and its task on the faces, with "perfect" predictions (every positive is
    explained): (detector, inputs, labels, task)."""
    det = tiny_resnet(2)
    det.aus = (12, 25)
    x = torch.as_tensor(faces.images, dtype=torch.float32)[:, None] / 255
    y = faces.au_present((12, 25)).astype(float)
    return det, x, y, au_task(det, x, faces, y, y, n_per_au=2)


def test_compare_on_real_tasks(faces, au_setup, tiny_resnet):
    det, x, y, task = au_setup
    assert len(task) == min(2, int(y[:, 0].sum())) + min(2, int(y[:, 1].sum()))
    k = task.labels["target_name"].index("AU25")
    i = task.labels["index"][k]
    assert np.array_equal(task.truth[k], faces.region(int(i), 25)) and int(task.target[k]) == 1
    per_image, timing, maps = compare_methods(det, task, ["gradient", "gradcam", "attention"])
    assert set(per_image.method) == {"gradient", "gradcam", "attention"} and len(per_image) == 3 * len(task)
    assert maps["gradient"].shape == (len(task), 48, 48)
    table = summarize(per_image, timing)
    assert list(table.method) == ["gradient", "gradcam", "attention"]
    assert (table.seconds_per_image > 0).all() and (table.n == len(task)).all()
    assert table[["mu_box", "mu_truth"]].stack().between(0, 1).all()

    classes = ("neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust")
    clf = tiny_resnet(len(classes))
    y_true = np.array([classes.index(e) for e in faces.emotion])
    etask = emotion_task(clf, x, faces, y_true, y_true, classes, n_per_class=1)
    assert "neutral" not in set(etask.labels["target_name"])
    assert etask.au_map.reshape(len(etask), -1).max(1).min() > 0     # every explained face has an AU map
    assert etask.truth.reshape(len(etask), -1).any(1).all()


def test_au_task_rejects_unknown_au(faces, tiny_resnet):
    det = tiny_resnet(1)
    det.aus = (12,)
    y = faces.au_present((12,)).astype(float)
    with pytest.raises(ValueError, match="not an output"):
        au_task(det, torch.zeros(len(faces), 1, 48, 48), faces, y, y, aus=(4,))


def test_widget_views_cover_every_face_and_target(faces, au_setup):
    from facexplain.studies.explainers_compared import widget_views
    det, x, y, task = au_setup
    src = dict(test=faces, inputs=x, y_pred=y)
    out = widget_views({"det": det}, {"det": task}, {"det": src}, ["gradient", "attention"], {}, n_faces=2)
    views, controls = out["det"]
    assert controls["target"] == ["AU12", "AU25"]
    assert len(controls["face"]) == min(2, len(set(task.labels["index"])))
    assert set(views) == {(f, t) for f in controls["face"] for t in controls["target"]}
    assert all(v[:8] == b"\x89PNG\r\n\x1a\n" for v in views.values())


def test_randomisation_check_gives_the_same_tables_serially_and_on_two_workers(au_setup, local_cluster, tmp_path):
    from facexplain.metrics.sanity import cascading_randomization
    from facexplain.studies.explainers_compared import sanity, settings

    det, x, y, task = au_setup
    methods = ["gradient", "smoothgrad", "lrp.epsilon_plus_flat"]
    cfg = settings("cpu", n_sanity=2, sanity_methods=methods, results_dir=str(tmp_path / "serial"))
    cfg["out"] = tmp_path
    tasks, models, options = {"au_detector": task}, {"au_detector": det}, {"au_detector": {}}
    table, verdicts, strips = sanity(cfg, tasks, models, options)
    assert set(table.method) == set(methods) and len(verdicts) == len(methods)
    # each method's steps as cascading_randomization gives them for that method alone, seeded the same way
    torch.manual_seed(cfg.seed)
    alone, kept = cascading_randomization(det, task.inputs[[0, len(task) - 1]], task.target[[0, len(task) - 1]],
                                          ["smoothgrad"], seed=cfg.seed, keep_maps=True)
    mine = table[table.method == "smoothgrad"].drop(columns="model").reset_index(drop=True)
    assert mine.equals(alone)
    assert np.array_equal(strips[("au_detector", "smoothgrad")], kept["smoothgrad"][:, 0])

    cfg["scheduler"] = "local"
    on_workers, _, strips2 = sanity(cfg, tasks, models, options)
    assert on_workers.equals(table)
    assert all(np.array_equal(strips[k], strips2[k]) for k in strips)
