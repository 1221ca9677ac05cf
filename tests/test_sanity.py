"""Cascading model-parameter randomisation (facexplain.metrics.sanity) against its definition, on tiny models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from facexplain.metrics.sanity import (cascading_randomization, map_similarity, randomization_blocks,
                                       reinitialize_, sanity_verdicts)


@pytest.fixture(scope="module")
def tiny(tiny_resnet):
    model = tiny_resnet(3)
    return model, torch.rand(3, 1, 32, 32)


def test_blocks_go_top_down_one_step_per_residual_block(tiny):
    model, _ = tiny
    names = [n for n, _ in randomization_blocks(model)]
    assert names == ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0",
                     "layer1.1", "layer1.0", "stem"]
    assert [n for n, _ in randomization_blocks(model, "stage")] == ["fc", "layer4", "layer3", "layer2", "layer1",
                                                                    "stem"]
    with pytest.raises(ValueError, match="granularity"):
        randomization_blocks(model, "layer")


def test_reinitialize_changes_only_the_block_and_is_seeded(tiny):
    import copy
    model, _ = tiny
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    reinitialize_([a.layer4[1]], seed=3)
    reinitialize_([b.layer4[1]], seed=3)
    assert torch.equal(a.layer4[1].conv1.weight, b.layer4[1].conv1.weight)             # seeded
    assert not torch.equal(a.layer4[1].conv1.weight, model.layer4[1].conv1.weight)     # re-drawn
    assert torch.equal(a.layer4[0].conv1.weight, model.layer4[0].conv1.weight)         # others untouched
    assert torch.equal(a.fc.weight, model.fc.weight)


def test_map_similarity_definition():
    from scipy.stats import spearmanr
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 16, 16))
    rho, ssim = map_similarity(a, a)
    assert np.allclose(rho, 1) and np.allclose(ssim, 1)
    b = rng.normal(size=(2, 16, 16))
    rho, _ = map_similarity(a, b)
    assert rho[0] == pytest.approx(spearmanr(np.abs(a[0]).ravel(), np.abs(b[0]).ravel()).statistic)
    rho_signed, _ = map_similarity(a, -a, absolute=False)
    assert np.allclose(rho_signed, -1)
    rho_abs, _ = map_similarity(a, -a)          # |map| ranks ignore a flipped sign
    assert np.allclose(rho_abs, 1)
    rho, _ = map_similarity(a, np.zeros_like(a))  # a constant map carries no ranking: similarity 0
    assert np.allclose(rho, 0)
    with pytest.raises(ValueError, match="same shape"):
        map_similarity(a, a[:, :8])
    with pytest.raises(ValueError, match="NaN"):
        map_similarity(a, np.full_like(a, np.nan))


def test_cascade_table_and_model_untouched(tiny):
    model, x = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table, maps = cascading_randomization(model, x, [0, 1, 2], ["gradient", "attention"], keep_maps=True)
    assert list(table.columns[:5]) == ["method", "step", "layer", "spearman", "ssim"]
    assert len(table) == 2 * 11 and maps["gradient"].shape == (11, 3, 32, 32)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # works on a copy
    att = table[table.method == "attention"].set_index("layer")
    # the attention tap is the channel mean of layer4: randomising only the head cannot change it
    assert att.loc["fc", "spearman"] == pytest.approx(1.0) and att.loc["fc", "ssim"] == pytest.approx(1.0)
    grad = table[table.method == "gradient"].set_index("layer")
    assert grad.loc["fc", "spearman"] < 0.99          # the gradient depends on the head's weights
    again, _ = cascading_randomization(model, x, [0, 1, 2], ["gradient"])
    pd.testing.assert_frame_equal(again, table[table.method == "gradient"].reset_index(drop=True))   # deterministic


def test_verdicts_follow_the_rule():
    layers = ["none", "fc", "layer4.1", "layer4.0", "layer3.0", "stem"]

    def rows(method, values):
        return [dict(method=method, step=i, layer=layer, spearman=v, ssim=v) for i, (layer, v) in
                enumerate(zip(layers, values))]

    table = pd.DataFrame(rows("early", [1, 0.3, 0.2, 0.1, 0.1, 0.1]) + rows("late", [1, 0.9, 0.9, 0.8, 0.4, 0.1])
                         + rows("never", [1, 0.9, 0.9, 0.9, 0.8, 0.7]))
    v = sanity_verdicts(table, threshold=0.5).set_index("method")
    assert v.loc["early", "verdict"] == "pass" and v.loc["early", "first_drop"] == "fc"
    assert v.loc["late", "verdict"] == "late" and v.loc["late", "first_drop"] == "layer3.0"
    assert v.loc["never", "verdict"] == "fail" and v.loc["never", "first_drop"] is None
    assert v.loc["late", "spearman_top"] == pytest.approx(0.8) and v.loc["late", "spearman_full"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="threshold"):
        sanity_verdicts(table, threshold=1.5)


def test_models_of_different_depth_share_one_axis_and_one_strip():
    """Chapter 10 randomises the AU detector (ResNet-18 layout) and the FER classifier (ResNet-10): each model's
    steps must be drawn at their own layer names, not at the other model's step numbers."""
    from PIL import Image
    import io

    from facexplain.studies.explainers_compared import sanity_strip
    from facexplain.viz.compare import layer_axis, sanity_figure, step_layers

    deep = ["none", "fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "stem"]
    shallow = ["none", "fc", "layer4.0", "layer3.0", "stem"]
    table = pd.DataFrame([dict(model=m, method="grad", step=i, layer=n, spearman=1 - i / 10, ssim=1 - i / 10)
                          for m, names in (("au", deep), ("fer", shallow)) for i, n in enumerate(names)])
    assert step_layers(table) == {"au": deep, "fer": shallow}
    assert layer_axis(table) == deep
    fig = sanity_figure(table, ["grad"], ncols=1)
    xs = {line.get_label(): list(line.get_xdata()) for line in fig.axes[0].lines}
    assert xs["fer Spearman"] == [0, 1, 3, 5, 6] and xs["au Spearman"] == list(range(7))
    strips = {("au", "grad"): np.stack([np.full((8, 8), i, float) for i in range(7)]),
              ("fer", "grad"): np.stack([np.full((8, 8), i, float) for i in range(5)])}
    png = sanity_strip(table, strips, {"au": None, "fer": None}, ["grad"])
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape[1] == 150 + 5 * 56                   # none, fc, layer4.0, layer3.0, stem: in both models
