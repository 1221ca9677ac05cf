"""Controls behind the claims, on hand-made inputs: each against its definition."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from facexplain.metrics import controls as K
from facexplain.metrics.relevance import relevance_masses


def test_area_ratio_and_uniform_map_mu():
    mask = np.zeros((1, 10, 10), bool)
    mask[0, :2, :5] = True                          # 10% of the image
    mu_uniform = relevance_masses(K.uniform_maps(1, (10, 10)), mask)[0]
    assert mu_uniform == pytest.approx(0.1)         # a uniform map's mu is the area share
    assert K.area_ratio(mu_uniform, 0.1) == pytest.approx(1.0)
    assert np.allclose(K.area_ratio([0.5, 0.2], [0.1, 0.0])[:1], [5.0])
    assert np.isnan(K.area_ratio([0.5, 0.2], [0.1, 0.0])[1])
    with pytest.raises(ValueError):
        K.area_ratio([0.5], [1.5])


def test_random_maps_are_seeded():
    a, b, c = K.random_maps(2, (4, 4), 1), K.random_maps(2, (4, 4), 1), K.random_maps(2, (4, 4), 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sobel_maps_find_an_edge():
    img = np.zeros((1, 16, 16))
    img[:, :, 8:] = 1.0                              # a vertical edge between columns 7 and 8
    e = K.sobel_maps(img)
    assert e.shape == (1, 16, 16)
    assert e[0, 4:12, 7:9].mean() > 10 * e[0, 4:12, :5].mean()
    assert K.sobel_maps(torch.as_tensor(img)[:, None]).shape == (1, 16, 16)
    with pytest.raises(ValueError):
        K.sobel_maps(np.zeros((16, 16)))


def test_random_weights_changes_weights_not_the_original():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)).eval()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[1].running_mean.fill_(5.0)
    r1, r2 = K.random_weights(net, seed=3), K.random_weights(net, seed=3)
    assert torch.all(net[0].weight == 1.0)                      # untouched
    assert not torch.allclose(r1[0].weight, net[0].weight)
    assert torch.equal(r1[0].weight, r2[0].weight)              # seeded
    assert torch.all(r1[1].running_mean == 0)
    with pytest.raises(ValueError):
        K.random_weights(nn.ReLU())


def test_input_only_importance_is_mean_abs_difference():
    x = np.zeros((2, 3, 2, 5))                        # N, P, C, L
    x[:, :, :, 1] = 1.0                               # landmark 1 differs from the baselines everywhere
    x[0, 0, 0, 3] = 2.0                               # landmark 3 in one frame of one clip
    b = np.zeros((2, 3, 2, 5))
    imp = K.input_only_importance(x, b)
    assert imp == pytest.approx([0, 6, 0, 1, 0])      # sum over 3 frames x 2 coords; mean over inputs/baselines
    with pytest.raises(ValueError):
        K.input_only_importance(x, b[:, :, :, :4])


def test_templates():
    maps = np.zeros((4, 2, 2), np.float32)
    maps[0, 0, 0] = maps[1, 0, 0] = 1.0               # class a: top-left
    maps[2, 1, 1] = 1.0                               # class b: bottom-right; face 3 has no map (neutral)
    labels = ["a", "a", "b", "neutral"]
    fixed = K.fixed_template(maps)
    assert fixed == pytest.approx(np.array([[2 / 3, 0], [0, 1 / 3]]))
    cls = K.class_templates(maps, labels)
    assert set(cls) == {"a", "b"} and cls["b"][1, 1] == 1.0
    out = K.template_maps(cls, ["b", "neutral", "a"])
    assert out.shape == (3, 2, 2) and out[0, 1, 1] == 1 and out[1].sum() == 0 and out[2, 0, 0] == 1
    assert K.template_maps(fixed, ["x", "y"]).shape == (2, 2, 2)
    with pytest.raises(ValueError):
        K.fixed_template(np.zeros((2, 2, 2)))


def test_truth_au_maps_use_each_faces_active_aus():
    from facexplain.data import load_dataset
    ds = load_dataset("synthetic", n=6, seed=0, image_size=48)
    m = K.truth_au_maps(ds.landmarks, ds.au_numbers, ds.au_intensity, (48, 48))
    active = (np.asarray(ds.au_intensity) > 0).any(1)
    assert m.shape == (6, 48, 48)
    assert np.array_equal(m.reshape(6, -1).max(1) > 0, active)


class _RegionModel(nn.Module):
    """Logit 0 = mean of the left half of the image, logit 1 = mean of the right half."""

    def forward(self, x):
        w = x.shape[-1] // 2
        return torch.stack([x[..., :w].mean((1, 2, 3)), x[..., w:].mean((1, 2, 3))], 1)


def test_road_prefers_the_map_on_what_the_model_reads():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 12, 12) + 1.0
    x[..., 6:] += torch.linspace(0, 2, 6)              # texture in the right half
    right = np.zeros((2, 12, 12), np.float32)
    right[..., 6:] = np.linspace(1, 2, 6)
    for imputer in ("road", "mean"):
        good = K.road_scores(_RegionModel(), x, right, [1, 1], percentiles=(30, 50), imputer=imputer)
        bad = K.road_scores(_RegionModel(), x, 2.0 - right, [1, 1], percentiles=(30, 50), imputer=imputer)
        assert good.shape == (2,) and np.all(good > bad), imputer
        assert np.array_equal(good, K.road_scores(_RegionModel(), x, right, [1, 1], percentiles=(30, 50),
                                                  imputer=imputer))
    with pytest.raises(ValueError, match="imputer"):
        K.road_scores(_RegionModel(), x, right, [1, 1], imputer="zero")
    with pytest.raises(ValueError, match="one per input"):
        K.road_scores(_RegionModel(), x, right[:1], [1, 1])


def test_aus_above_floor():
    assert K.aus_above_floor({4: 0.8, 6: 0.3, 7: float("nan")}, {4: 0.5, 6: 0.4, 7: 0.1}) == [4]
    with pytest.raises(ValueError):
        K.aus_above_floor({4: 0.8}, {})


def test_earliest_detection_with_fdr():
    t = pd.DataFrame(dict(method=["a"] * 3 + ["b"] * 3, strength=[0.1, 0.5, 0.9] * 2,
                          p=[0.04, 0.001, 0.0001, 0.3, 0.2, 0.03]))
    out = K.earliest_detection(t, groups=["method"]).set_index("method")
    # raw p 0.04 at 0.1 would count, but not after Benjamini-Hochberg over the 6 tests (0.04 * 6 / 4 = 0.06)
    assert out.loc["a", "earliest"] == 0.5
    assert np.isnan(out.loc["b", "earliest"])       # its 0.03 adjusts to 0.06
    assert out.loc["a", "n_tests"] == 6
    none = K.earliest_detection(t.assign(p=0.9))
    assert np.isnan(none.earliest.iloc[0])
    with pytest.raises(ValueError):
        K.earliest_detection(t.drop(columns="p"))


def test_no_learning_players_and_sweep_summary():
    from facexplain.game.controls import no_learning, sweep_summary
    from facexplain.game.players import PlayerModel

    m = no_learning(PlayerModel(skill_min=0.5))
    assert (m.look, m.explore, m.comprehension, m.skill_min) == (0.0, 0.0, 0.0, 0.5)
    sweep = pd.DataFrame(dict(seed=[0, 1, 2, 0], group=["all"] * 3 + ["score"], s1_mean=[0.4, 0.4, 0.4, 0.4],
                              rest_mean=[0.45, 0.43, 0.41, 0.5], p=[0.01, 0.2, 0.001, 0.01]))
    s = sweep_summary(sweep)
    assert s["n_seeds"] == 3 and s["share_significant"] == pytest.approx(2 / 3)
    assert s["effect"] == pytest.approx(0.03) and s["effect_se"] == pytest.approx(0.02 / np.sqrt(3))
    with pytest.raises(ValueError):
        sweep_summary(sweep, group="instructions")


def test_template_table_scores_templates_like_maps():
    maps_train = np.zeros((4, 4, 4), np.float32)
    maps_train[:2, 0, 0] = 1.0                        # class a: top-left
    maps_train[2, 3, 3] = 1.0                         # class b: bottom-right
    labels_train = ["a", "a", "b", "neutral"]
    maps_test = np.zeros((3, 4, 4), np.float32)
    maps_test[0, 0, 0] = maps_test[1, 3, 3] = 1.0
    labels_test = ["a", "b", "neutral"]
    truth = maps_test.copy()
    truth[1] = 0.0
    truth[1, 0, 3] = 1.0                              # face 2's own AUs are elsewhere than its class's
    table, per_face = K.template_table(maps_train, labels_train, maps_test, labels_test, truth)
    t = table.set_index("method")
    assert t.loc["class_template", "cam_cos"] == pytest.approx(1.0)     # the class template is the class's map
    assert t.loc["fixed_template", "cam_cos"] < 1.0
    assert t.loc["class_template", "truth_cos"] == pytest.approx(0.5)   # (1 + 0) / 2 over the classes
    assert np.isnan(per_face["class_template"][2])                      # neutral: no score
    assert per_face[("truth", "class_template")][:2] == pytest.approx([1.0, 0.0])
    overall, per, face = K.cosine_per_face(maps_test, maps_test, labels_test)
    assert overall == pytest.approx(1.0) and set(per) == {"a", "b"}
