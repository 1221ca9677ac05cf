"""CAM-family backend of explain(): CAM against its definition, grad-cam methods at input resolution, the attention tap."""

import numpy as np
import pytest
import torch

from facexplain.explain import explain
from facexplain.explain.cam import CAM_METHODS, _cam, explain_cam, explain_cams


@pytest.fixture(scope="module")
def model_and_x(tiny_resnet):
    model = tiny_resnet(5, widths=(4, 8, 8, 16))
    return model, torch.randn(3, 1, 48, 48)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_every_method_gives_maps_at_input_resolution(model_and_x, method):
    model, x = model_and_x
    maps = explain(model, x, torch.tensor([0, 1, 4]), method=method, scorecam_batch_size=16) \
        if method == "scorecam" else explain(model, x, torch.tensor([0, 1, 4]), method=method)
    assert maps.shape == (3, 48, 48)
    assert maps.dtype == torch.float32
    assert torch.isfinite(maps).all()


def test_cam_is_the_head_weighted_feature_sum(model_and_x):
    """Mean over positions of the (feature-resolution) CAM plus the bias is the class logit: GAP + linear."""
    model, x = model_and_x
    target = torch.tensor([2, 0, 3])
    cam = _cam(model, x, target, "layer4")
    with torch.no_grad():
        logits = model(x)
    got = cam.mean(dim=(1, 2)) + model.fc.bias[target]
    assert torch.allclose(got, logits[torch.arange(3), target], atol=1e-5)


def test_normalised_gradcam_equals_cam_for_gap_linear_head(model_and_x):
    """With GAP + linear, GradCAM's channel weights are w_c / (h w): min-max scaled, ReLU'd CAM = GradCAM."""
    model, x = model_and_x
    target = torch.tensor([1, 1, 2])
    cam = _cam(model, x, target, "layer4").clamp(min=0)
    lo, hi = cam.amin(dim=(1, 2), keepdim=True), cam.amax(dim=(1, 2), keepdim=True)
    cam = (cam - lo) / (hi - lo + 1e-7)
    expected = torch.nn.functional.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear",
                                               align_corners=False)[:, 0]
    grad = explain_cam(model, x, target, method="gradcam")
    ok = hi.flatten() > 0                       # an all-negative CAM is all zero in both
    assert ok.sum() >= 2
    assert torch.allclose(grad[ok], expected[ok], atol=1e-3)
    assert (grad[~ok] == 0).all()


def test_attention_is_channel_mean_upsampled(model_and_x):
    model, x = model_and_x
    att = explain_cam(model, x, torch.zeros(3, dtype=torch.long), method="attention", layer="layer3")
    with torch.no_grad():
        mean = model.features(x)[3].mean(1)
    small = torch.nn.functional.interpolate(att[:, None], size=mean.shape[-2:], mode="area")[:, 0]
    assert att.shape == (3, 48, 48)
    assert torch.allclose(att.mean(dim=(1, 2)), mean.mean(dim=(1, 2)), rtol=0.1)
    assert (att >= 0).all()  # a stage output is after a ReLU
    assert small.shape == mean.shape


def test_target_changes_class_maps_but_not_attention(model_and_x):
    model, x = model_and_x
    a = explain_cam(model, x, torch.zeros(3, dtype=torch.long), method="cam")
    b = explain_cam(model, x, torch.full((3,), 3), method="cam")
    assert not torch.allclose(a, b)
    a = explain_cam(model, x, torch.zeros(3, dtype=torch.long), method="attention")
    b = explain_cam(model, x, torch.full((3,), 3), method="attention")
    assert torch.equal(a, b)


def test_batching_and_model_mode_are_kept(model_and_x):
    model, x = model_and_x
    target = torch.tensor([0, 1, 2])
    whole = explain_cam(model, x, target, method="gradcam++")
    parts = explain_cam(model, x, target, method="gradcam++", batch_size=1)
    assert torch.allclose(whole, parts, atol=1e-5)
    model.train()
    explain_cam(model, x, target, method="layercam")
    assert model.training
    model.eval()


def test_bad_input_raises(model_and_x):
    model, x = model_and_x
    t = torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="unknown CAM method"):
        explain_cam(model, x, t, method="gradcam+++")
    with pytest.raises(ValueError, match="layer must be 'layer4'"):
        explain_cam(model, x, t, method="cam", layer="layer3")
    with pytest.raises(ValueError, match="one target per image"):
        explain_cam(model, x, torch.zeros(2, dtype=torch.long), method="gradcam")
    with pytest.raises(ValueError, match="unknown options"):
        explain_cam(model, x, t, method="gradcam", smooth=True)
    with pytest.raises(ValueError, match="unknown layer"):
        explain_cam(model, x, t, method="attention", layer="layer7")


def test_methods_explained_together_equal_each_explained_alone(model_and_x):
    """explain_cams shares one forward and backward pass between grad-cam's gradient methods: the maps must be those
    of one call per method, the model's hooks gone and its mode kept afterwards."""
    model, x = model_and_x
    x = torch.cat([x, torch.randn(4, 1, 48, 48)])
    target = torch.tensor([0, 1, 4, 2, 2, 3, 0])
    methods = [m for m in CAM_METHODS if m != "scorecam"] + ["gradcam"]
    model.train()
    together = explain_cams(model, x, target, methods, batch_size=3)
    assert model.training
    assert list(together) == list(dict.fromkeys(methods))
    for m in together:
        alone = explain_cam(model, x, target, m, batch_size=3)
        assert torch.equal(together[m], alone), m
    assert together["gradcam++"].abs().sum() > 0 and not torch.equal(together["gradcam"], together["layercam"])
    assert not any(mod._forward_hooks for mod in model.modules())
    with pytest.raises(ValueError, match="unknown CAM methods"):
        explain_cams(model, x, target, ["gradcam", "lrp.epsilon"])
