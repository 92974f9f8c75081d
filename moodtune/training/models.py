"""Networks created by name: ``create_model("moodnet")``.

Each entry records the input it expects (size, channels), so the training loop and the model card are
built from the registry rather than from constants repeated elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from moodtune.errors import ParameterError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[int], nn.Module]
    input_size: int
    channels: int  # 1 = gray, 3 = RGB
    description: str


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, input_size: int, channels: int, description: str):
    """Decorator: add a ``build(num_classes) -> nn.Module`` function to the registry under ``name``."""

    def wrap(build):
        _REGISTRY[name] = ModelSpec(name, build, input_size, channels, description)
        return build

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise ParameterError(f"unknown model {name!r}: choose one of {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, *, num_classes: int = 7) -> nn.Module:
    return model_spec(name).build(num_classes)


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class MoodNet(nn.Module):
    """The project's default: a VGG-style network for 48x48 gray faces.

    Four stages of two 3x3 conv + batch-norm + ReLU, each halving the resolution (48 -> 3), then global
    average pooling and one linear layer. Plain convolutions because they are what onnxruntime runs
    fastest on one CPU thread at this size; batch-norm folds into the convolutions on export.
    """

    def __init__(self, num_classes: int = 7, widths: tuple[int, ...] = (24, 48, 96, 192), dropout: float = 0.3):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for width in widths:
            layers += _conv_block(c_in, width) + _conv_block(width, width) + [nn.MaxPool2d(2)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model("moodnet", input_size=48, channels=1,
                description="VGG-style 8-conv network, 48x48 gray (the project's default)")
def _moodnet(num_classes: int) -> nn.Module:
    return MoodNet(num_classes)


@register_model("moodnet_small", input_size=48, channels=1,
                description="MoodNet at two-thirds width, for quick runs and tests")
def _moodnet_small(num_classes: int) -> nn.Module:
    return MoodNet(num_classes, widths=(16, 32, 64, 128))
