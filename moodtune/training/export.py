"""Export a trained checkpoint to ONNX (softmax included) with its model card beside it.

The exported graph always takes what inference gives it: gray crops, (N, 1, S, S), normalised as the card
says. Networks with 3 input channels (efficientnet_lite0, inception_v3) were trained on the gray channel
repeated, so the graph repeats it too and the card says "gray": a colour crop at inference would be an input
the network never saw.
"""

from __future__ import annotations

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
