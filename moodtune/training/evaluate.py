"""Score a model on a labelled FaceSet: accuracy, macro-F1, per-class recall, confusion matrix (JSON and PNG).

A model is either an exported ``.onnx`` with its card (run through moodtune.faces.classify.EmotionModel,
exactly what users get; no torch needed) or a training checkpoint ``.pt`` (needs torch). Both become a
:class:`Predictor`: gray uint8 crops in, probabilities over EMOTIONS out, plus the crop rule and input size
the data must be read with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from moodtune.emotions import EMOTIONS
from moodtune.errors import ParameterError
from moodtune.training.datasets import DEFAULT_CROP_MARGIN, FaceSet, resize_images
from moodtune.training.metrics import summarize


@dataclass
class Predictor:
    """A model as evaluation sees it.

    Attributes
    ----------
    predict : callable
        Gray uint8 crops (N, S, S), any S -> probabilities (N, 7) in EMOTIONS order.
    input_size : int
        The size crops are best read at (no second resize).
    crop_margin : float
        The card's margin, for reading data with the detector in the loop.
    """

    name: str
    predict: Callable[[np.ndarray], np.ndarray]
    input_size: int
    crop_margin: float = DEFAULT_CROP_MARGIN
    about: dict = field(default_factory=dict)


def onnx_predictor(path, *, threads: int = 1) -> Predictor:
    """An exported model through :class:`~moodtune.faces.classify.EmotionModel` (the inference code path)."""
    from moodtune.faces.classify import EmotionModel

    model = EmotionModel(path, threads=threads)
    card = model.card

    def predict(images: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(images), 256):
            crops = resize_images(images[start:start + 256], card.input_size)
            if card.colour == "rgb":
                crops = np.repeat(crops[..., None], 3, axis=3)  # gray crops: R = G = B
            out.append(model.predict_tensor(model.crops_to_tensor(crops)))
        return np.concatenate(out) if out else np.zeros((0, len(EMOTIONS)), np.float32)

    return Predictor(str(path), predict, card.input_size, card.crop_margin, {"card": card.name, "format": "onnx"})


def checkpoint_predictor(path) -> Predictor:
    """A training checkpoint (``best.pt``); needs torch."""
    from moodtune.training.export import load_checkpoint
    from moodtune.training.train import predict

    model, meta = load_checkpoint(path)

    def run(images: np.ndarray) -> np.ndarray:
        return predict(model, images, mean=meta["mean"], std=meta["std"], input_size=meta["input_size"],
                       channels=meta["channels"])

    return Predictor(str(path), run, meta["input_size"], float(meta.get("crop_margin", DEFAULT_CROP_MARGIN)),
                     {"model": meta["config"]["model"], "format": "checkpoint"})


def load_predictor(model) -> Predictor:
    """``model``: an ``.onnx`` file, a checkpoint ``.pt``, a run folder (its ``best.pt``) or a shipped model name."""
    path = Path(model)
    if path.is_dir():
        path = path / "best.pt"
        if not path.exists():
            raise ParameterError(f"{model}: no best.pt in this folder; give a run folder, a .pt or an .onnx file")
    if path.suffix == ".pt":
        if not path.is_file():
            raise ParameterError(f"{path}: checkpoint not found")
        return checkpoint_predictor(path)
    if path.suffix != ".onnx":
        from moodtune.faces.classify import MODELS_DIR

        path = MODELS_DIR / f"{model}.onnx"
        if not path.exists():
            raise ParameterError(f"{model}: give an .onnx file, a checkpoint .pt, a run folder or a shipped model")
    return onnx_predictor(path)


def evaluate(predictor: Predictor, faces: FaceSet) -> dict:
    """Scores of ``predictor`` on ``faces``: n, accuracy, macro_f1, recall per class, confusion, labels."""
    if len(faces) == 0:
        raise ParameterError("no images to evaluate on")
    probabilities = predictor.predict(faces.images)
    scores = summarize(faces.labels, probabilities.argmax(axis=1))
    scores["support"] = dict(zip(EMOTIONS, np.bincount(faces.labels, minlength=len(EMOTIONS)).tolist(), strict=True))
    return scores


def write_report(scores: dict, out_dir, *, title: str, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``out_dir/metrics.json`` and ``out_dir/confusion.png``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out_dir / "metrics.json", out_dir / "confusion.png"
    json_path.write_text(json.dumps({**(extra or {}), **scores}, indent=2) + "\n", encoding="utf-8")
    cv2.imwrite(str(png_path), confusion_image(np.array(scores["confusion"]), scores["labels"], title=title))
    return json_path, png_path


def confusion_image(matrix: np.ndarray, labels, *, title: str = "", cell: int = 84) -> np.ndarray:
    """Draw a confusion matrix (rows true, columns predicted) as a BGR uint8 image.

    Each cell shows its count and its share of the row (the recall on the diagonal), shaded by that share.
    """
    n = len(labels)
    left, top, pad = 120, 96, 16
    image = np.full((top + n * cell + 40, left + n * cell + pad), 255, np.uint8)
    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    font = cv2.FONT_HERSHEY_SIMPLEX
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, float), where=rows > 0)
    for i in range(n):
        for j in range(n):
            x, y = left + j * cell, top + i * cell
            # White to a strong blue (BGR) with the row share.
            colour = tuple(int(255 - share[i, j] * k) for k in (75, 180, 215))
            cv2.rectangle(image, (x, y), (x + cell, y + cell), colour, -1)
            cv2.rectangle(image, (x, y), (x + cell, y + cell), (200, 200, 200), 1)
            ink = (255, 255, 255) if share[i, j] > 0.55 else (40, 40, 40)
            _centred(image, str(int(matrix[i, j])), (x + cell // 2, y + cell // 2 - 4), 0.55, ink, 2 if i == j else 1)
            _centred(image, f"{share[i, j]:.0%}", (x + cell // 2, y + cell // 2 + 18), 0.4, ink, 1)
    for k, label in enumerate(labels):
        _centred(image, label, (left + k * cell + cell // 2, top - 12), 0.42, (40, 40, 40), 1)
        size = cv2.getTextSize(label, font, 0.45, 1)[0]
        cv2.putText(image, label, (left - 8 - size[0], top + k * cell + cell // 2 + 5), font, 0.45, (40, 40, 40), 1,
                    cv2.LINE_AA)
    cv2.putText(image, "predicted", (left, top - 40), font, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(image, "true", (8, top - 12), font, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
    if title:
        cv2.putText(image, title[:90], (8, 26), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    cv2.putText(image, f"n = {int(matrix.sum())}, accuracy {accuracy:.1%}", (left, top + n * cell + 26), font, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _centred(image, text, centre, scale, colour, thickness):
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cv2.putText(image, text, (centre[0] - w // 2, centre[1] + h // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                thickness, cv2.LINE_AA)
