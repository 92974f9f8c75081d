"""Export a trained checkpoint to ONNX (softmax included) with its model card beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from moodtune.emotions import EMOTIONS
from moodtune.faces.card import ModelCard
from moodtune.training.models import create_model

# The crop rule the detector boxes were calibrated to: FER+ frames are about as wide as YuNet's box
# (median 48 / max(w, h) = 0.99 on 398 upscaled FER+ Valid faces), so the crop is the box's square.
FERPLUS_CROP_MARGIN = 0.0


class _WithSoftmax(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def load_checkpoint(path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the network of a ``best.pt``/``last.pt`` checkpoint; returns (model in eval mode, meta)."""
    checkpoint = torch.load(path, weights_only=False)
    meta = checkpoint["meta"]
    model = create_model(meta["config"]["model"])
    model.load_state_dict(checkpoint["model"])
    return model.eval(), {**meta, "record": checkpoint.get("record"), "scores": checkpoint.get("scores")}


def export_onnx(model: torch.nn.Module, card: ModelCard, onnx_path) -> Path:
    """Write ``onnx_path`` and ``onnx_path.with_suffix('.json')``; the graph maps (N, C, S, S) -> (N, 7)."""
    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if card.colour == "gray" else 3
    dummy = torch.zeros(1, channels, card.input_size, card.input_size)
    wrapped = _WithSoftmax(model.eval()) if card.output == "probabilities" else model.eval()
    torch.onnx.export(wrapped, dummy, str(onnx_path), input_names=["image"], output_names=[card.output],
                      dynamic_axes={"image": {0: "batch"}, card.output: {0: "batch"}}, opset_version=17,
                      dynamo=False)
    card.save(onnx_path.with_suffix(".json"))
    return onnx_path


def max_difference_to_torch(model: torch.nn.Module, onnx_path, *, inputs: np.ndarray) -> float:
    """Largest absolute difference between ONNX and PyTorch probabilities on ``inputs`` (N, C, S, S)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": inputs.astype(np.float32)})[0]
    with torch.no_grad():
        want = torch.softmax(model.eval()(torch.from_numpy(inputs.astype(np.float32))), dim=1).numpy()
    return float(np.abs(got - want).max())


def card_from_checkpoint(meta: dict, *, training: dict, metrics: dict, licence: str) -> ModelCard:
    return ModelCard(
        name=meta["config"]["model"],
        labels=list(EMOTIONS),
        input_size=meta["input_size"],
        colour="gray" if meta["channels"] == 1 else "rgb",
        mean=[round(meta["mean"], 6)] * meta["channels"],
        std=[round(meta["std"], 6)] * meta["channels"],
        crop_margin=FERPLUS_CROP_MARGIN,
        detector="yunet",
        output="probabilities",
        training=training,
        metrics=metrics,
        licence=licence,
    )
