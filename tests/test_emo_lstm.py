"""T-EMO / R-EMO: shapes, the frozen random conv of R-EMO, training reduces the loss, bad input errors."""

import numpy as np
import pytest
import torch

from facexplain.models.emo_lstm import EmoConfig, make_emo, paper_hyperparameters, r_emo, t_emo, train_emo


def _toy(n=48, p=5, l=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, 2, l, generator=g)
    y = (torch.arange(n) % 3 == 0).long()
    x[y == 1, :, 0, :3] += torch.linspace(0, 2, p)[:, None]   # positives: landmarks 0-2 drift in x over the clip
    return x, y


def test_shapes_and_layers():
    net = t_emo(12, filters=3, lstm_units=4, fc1=5)
    out = net(torch.zeros(7, 5, 2, 12))
    assert out.shape == (7, 2)
    names = [n for n, _ in net.named_children()]
    assert names == ["conv", "bn", "lstm", "drop", "fc1", "fc2"]
    assert net.lstm.input_size == 3 * 1 * 12     # kernel (2, 1): one output row per landmark
    wide = t_emo(12, filters=3, lstm_units=4, fc1=5, kernel=(1, 3))
    assert wide.lstm.input_size == 3 * 2 * 10


def test_r_emo_conv_is_frozen_and_t_emo_trains_it():
    x, y = _toy()
    torch.manual_seed(0)
    r = r_emo(12, filters=3, lstm_units=4, fc1=5)
    w0, lstm0 = r.conv.weight.detach().clone(), r.lstm.weight_ih_l0.detach().clone()
    train_emo(r, x, y, epochs=2, lr=1e-2, batch_size=16)
    assert torch.equal(r.conv.weight, w0)
    assert not torch.equal(r.lstm.weight_ih_l0, lstm0)
    assert all(p.requires_grad for p in r.lstm.parameters())
    torch.manual_seed(0)
    t = t_emo(12, filters=3, lstm_units=4, fc1=5)
    w0 = t.conv.weight.detach().clone()
    train_emo(t, x, y, epochs=2, lr=1e-2, batch_size=16)
    assert not torch.equal(t.conv.weight, w0)


def test_training_learns_a_separable_toy_task():
    x, y = _toy(96)
    torch.manual_seed(1)
    net = t_emo(12, filters=4, lstm_units=8, fc1=8, dropout=0.0)
    losses = train_emo(net, x, y, epochs=40, lr=3e-3, batch_size=16, seed=1)
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        acc = (net(x).argmax(1) == y).float().mean().item()
    assert acc > 0.9
    assert not net.training    # fit leaves the model in eval mode


def test_same_seed_same_weights():
    x, y = _toy()
    nets = []
    for _ in range(2):
        torch.manual_seed(3)
        net = r_emo(12, filters=3, lstm_units=4, fc1=5)
        train_emo(net, x, y, epochs=2, lr=1e-3, seed=3)
        nets.append(net)
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()):
        assert torch.equal(a, b)


def test_paper_hyperparameters():
    assert paper_hyperparameters("fear", 64) == dict(filters=39, lstm_units=51, fc1=34)
    assert paper_hyperparameters("anger", 468) == paper_hyperparameters("anger", 234)
    with pytest.raises(ValueError, match="hyperparameters"):
        paper_hyperparameters("contempt", 64)


def test_bad_input_errors():
    net = t_emo(12, filters=2, lstm_units=3, fc1=3)
    with pytest.raises(ValueError, match="select the same landmarks"):
        net(torch.zeros(2, 5, 2, 10))
    with pytest.raises(ValueError, match="kernel"):
        EmoConfig(n_landmarks=12, kernel=(3, 1))
    with pytest.raises(ValueError, match="positive"):
        EmoConfig(filters=0)
    with pytest.raises(ValueError, match="t-emo"):
        make_emo("x-emo", 12)
    with pytest.raises(ValueError, match="as many labels"):
        train_emo(net, np.zeros((3, 5, 2, 12)), np.zeros(2))


def test_fast_conv_path_equals_conv2d():
    torch.manual_seed(0)
    for kernel in ((2, 1), (1, 1), (1, 3)):
        net = t_emo(12, filters=3, lstm_units=4, fc1=5, kernel=kernel)
        z = torch.randn(6, 1, 2, 12)
        torch.testing.assert_close(net._conv(z), net.conv(z), rtol=1e-5, atol=1e-6)
