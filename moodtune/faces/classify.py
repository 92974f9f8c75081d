"""Expression probabilities for faces, from a shipped ONNX model and its card, on onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from moodtune.emotions import EMOTIONS
from moodtune.errors import ParameterError
from moodtune.faces.card import ModelCard
from moodtune.faces.detect import Face, crop_face, detect_faces
from moodtune.faces.image import as_rgb

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODEL = "emotion_default"


class EmotionModel:
    """An ONNX expression classifier with the preprocessing its card describes.

    Parameters
    ----------
    path : path
        The ``.onnx`` file; its card is the ``.json`` beside it.
    threads : int
        onnxruntime intra-op threads. One is fastest for a model this small (no thread hand-off).
    """

    def __init__(self, path, *, threads: int = 1):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ParameterError(f"{self.path}: model file not found; give an .onnx file exported by moodtune")
        self.card = ModelCard.load(self.path.with_suffix(".json"))
        unknown = set(self.card.labels) - set(EMOTIONS)
        if unknown:
            raise ParameterError(f"{self.path}: card labels {sorted(unknown)} are not among {EMOTIONS}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self._session.get_inputs()[0].name
        self._columns = [EMOTIONS.index(label) for label in self.card.labels]
        self._mean = np.array(self.card.mean, dtype=np.float32).reshape(1, -1, 1, 1)
        self._std = np.array(self.card.std, dtype=np.float32).reshape(1, -1, 1, 1)

    def preprocess(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Crops of each face as the model's input tensor, shape (N, C, S, S) float32."""
        gray = self.card.colour == "gray"
        crops = [crop_face(image, face, margin=self.card.crop_margin, size=self.card.input_size, grayscale=gray)
                 for face in faces]
        return self.crops_to_tensor(np.stack(crops))

    def crops_to_tensor(self, crops: np.ndarray) -> np.ndarray:
        """uint8 face crops, (N, S, S) gray or (N, S, S, 3) RGB as the card says, -> (N, C, S, S) float32."""
        batch = crops.astype(np.float32) / 255.0
        batch = batch[:, None] if self.card.colour == "gray" else batch.transpose(0, 3, 1, 2)
        return (batch - self._mean) / self._std

    def predict_tensor(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities of shape (N, 7) in EMOTIONS order for a preprocessed batch (N, C, S, S)."""
        out = self._session.run(None, {self.input_name: batch.astype(np.float32, copy=False)})[0]
        if self.card.output == "logits":
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        probabilities = np.zeros((len(out), len(EMOTIONS)), dtype=np.float32)
        probabilities[:, self._columns] = out
        return probabilities

    def predict(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Probabilities of shape (len(faces), 7) for faces found in an RGB image (H, W, 3)."""
        if not faces:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        return self.predict_tensor(self.preprocess(image, faces))


@lru_cache(maxsize=4)
def load_model(model: str | Path = DEFAULT_MODEL) -> EmotionModel:
    """A shipped model by name ("emotion_default") or any exported ``.onnx`` path; loaded once and cached."""
    path = Path(model)
    if path.suffix != ".onnx":
        path = MODELS_DIR / f"{model}.onnx"
        if not path.exists():
            shipped = sorted(p.stem for p in MODELS_DIR.glob("*.onnx"))
            raise ParameterError(f"unknown model {model!r}: shipped models are {', '.join(shipped) or 'none'}")
    return EmotionModel(path)


def classify(image, faces: list[Face] | None = None, *, model: str | Path = DEFAULT_MODEL) -> np.ndarray:
    """Expression probabilities for each face.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3) RGB uint8, or (H, W) gray
    faces : list of Face, optional
        From :func:`detect_faces`; detected here when omitted.
    model : str or path
        A shipped model name or an ``.onnx`` file with its card.

    Returns
    -------
    np.ndarray, shape (N, 7), float32
        One row per face, columns in :data:`moodtune.emotions.EMOTIONS` order, rows summing to 1.
    """
    image = as_rgb(image)
    if faces is None:
        faces = detect_faces(image)
    return load_model(model).predict(image, faces)


@dataclass(frozen=True)
class FaceEmotion:
    """One face and what it expresses."""

    face: Face
    probabilities: np.ndarray  # (7,) in EMOTIONS order

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    def to_dict(self) -> dict:
        return {**self.face.to_dict(), "emotion": self.emotion,
                "probabilities": {e: round(float(p), 4) for e, p in zip(EMOTIONS, self.probabilities, strict=True)}}


def analyze(image, *, detector: str = "auto", model: str | Path = DEFAULT_MODEL) -> list[FaceEmotion]:
    """Detect every face in an RGB image (H, W, 3) and classify its expression; largest face first."""
    image = as_rgb(image)
    faces = detect_faces(image, detector=detector)
    probabilities = load_model(model).predict(image, faces)
    return [FaceEmotion(face, p) for face, p in zip(faces, probabilities, strict=True)]
