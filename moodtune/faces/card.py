"""The model card: everything needed to use a shipped model correctly, kept next to its ONNX file.

Inference rebuilds its preprocessing (crop, colour, size, normalisation) and reads its label order from the
card, so a model trained differently ships with a different card and no code changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from moodtune.errors import ParameterError


@dataclass
class ModelCard:
    """Metadata of one emotion model.

    Attributes
    ----------
    name : str
        Registry name of the network ("moodnet").
    labels : list[str]
        Output order; a subset or reordering of moodtune.emotions.EMOTIONS is allowed.
    input_size : int
        Side of the square input in pixels.
    colour : {"gray", "rgb"}
    mean, std : list[float]
        Per-channel normalisation applied after scaling pixels to [0, 1]: (x / 255 - mean) / std.
    crop_margin : float
        The face crop is a square of side max(box w, box h) * (1 + crop_margin) centred on the detector box.
    detector : str
        The detector whose boxes the crop rule was calibrated on.
    output : {"probabilities", "logits"}
        What the ONNX graph returns.
    training, metrics : dict
        How it was trained (data, split, epochs, seed, command) and what it scored, for people to read.
    licence : str
    """

    name: str
    labels: list[str]
    input_size: int
    colour: str
    mean: list[float]
    std: list[float]
    crop_margin: float
    detector: str = "yunet"
    output: str = "probabilities"
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    licence: str = ""

    def __post_init__(self):
        if self.colour not in ("gray", "rgb"):
            raise ParameterError(f"model card: colour must be 'gray' or 'rgb', got {self.colour!r}")
        channels = 1 if self.colour == "gray" else 3
        if len(self.mean) != channels or len(self.std) != channels:
            raise ParameterError(f"model card: mean and std need {channels} value(s) for colour {self.colour!r}")
        if self.output not in ("probabilities", "logits"):
            raise ParameterError(f"model card: output must be 'probabilities' or 'logits', got {self.output!r}")

    @classmethod
    def load(cls, path) -> ModelCard:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise ParameterError(
                f"{path}: model card not found; every .onnx model needs its .json card beside it"
            ) from None
        except (json.JSONDecodeError, TypeError) as err:
            raise ParameterError(f"{path}: not a valid model card ({err}); re-export the model") from None

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
