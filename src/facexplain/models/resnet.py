"""Small torchvision ResNets for grey faces: seed 001's "parameter-reduced ResNet-18" and its kin.

Built from torchvision's ResNet and BasicBlock (not a copy) so that zennit's ResNetCanonizer applies and LRP
conserves relevance; only the widths, the input channels and the stem differ from the ImageNet model.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet


class SmallResNet(ResNet):
    """ResNet-18 layout (2-2-2-2 BasicBlocks) with reduced widths, grey input and a light stem for 112 px faces."""

    #: names of the tap points of features(x): the stem and the four residual stages
    taps = ("stem", "layer1", "layer2", "layer3", "layer4")
    #: the module whose output is each tap (for hooks, e.g. grad-cam's target layer)
    tap_modules = {"stem": "maxpool", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4"}

    def __init__(self, num_outputs: int, widths=(16, 32, 64, 128), in_channels: int = 1, blocks=(2, 2, 2, 2)):
        super().__init__(BasicBlock, list(blocks), num_classes=num_outputs)
        # replace the ImageNet-width layers by reduced ones (torchvision builds layers from self.inplanes)
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=5, stride=2, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.layer1 = self._make_layer(BasicBlock, widths[0], blocks[0])
        self.layer2 = self._make_layer(BasicBlock, widths[1], blocks[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, widths[2], blocks[2], stride=2)
        self.layer4 = self._make_layer(BasicBlock, widths[3], blocks[3], stride=2)
        self.fc = nn.Linear(widths[3], num_outputs)
        self.widths = tuple(widths)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @classmethod
    def tap_index(cls, layer) -> int:
        """Index into features(x) of a tap name ("stem", "layer1".."layer4") or an index 0..4."""
        if isinstance(layer, numbers.Integral) and not isinstance(layer, bool) and 0 <= int(layer) < len(cls.taps):
            return int(layer)
        if layer in cls.taps:
            return cls.taps.index(layer)
        raise ValueError(f"unknown layer {layer!r}: use one of {cls.taps} (or their index 0-{len(cls.taps) - 1})")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the stem and the four residual stages (for attention taps and CAMs)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = [x]
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            out.append(x)
        return out


def small_resnet18(num_outputs: int, widths=(16, 32, 64, 128), in_channels: int = 1) -> SmallResNet:
    """A parameter-reduced ResNet-18 with `num_outputs` logits."""
    return SmallResNet(num_outputs, widths=widths, in_channels=in_channels)
