"""Every shipped emotion model: a complete card, the size budget, and golden outputs.

The golden rows are each model's probabilities for the example photo's face and for a fixed synthetic
crop, recorded when the model was shipped. A changed model file, card or preprocessing moves them; after
shipping a new model on purpose, record its rows again (``python -m tests.test_models`` prints them).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodtune.emotions import EMOTIONS
from moodtune.faces import detect_faces, load_image
from moodtune.faces.classify import MODELS_DIR, load_model

EXAMPLE_PHOTO = MODELS_DIR.parents[1] / "examples" / "astronaut.png"
SHIPPED = sorted(p.stem for p in MODELS_DIR.glob("*.onnx"))
MAX_BYTES = 25 * 1024 * 1024

#: Probabilities in EMOTIONS order: (example photo's face, synthetic crop), rounded to 4 places.
GOLDEN = {
    "emotion_default": ([0.0004, 0.0001, 0.0012, 0.9928, 0.0048, 0.0001, 0.0005],
                        [0.0061, 0.0047, 0.0054, 0.0879, 0.6461, 0.2258, 0.024]),
    "emotion_ferplus": ([0.0, 0.0, 0.0004, 0.9949, 0.0039, 0.0, 0.0007],
                        [0.0146, 0.008, 0.0031, 0.0164, 0.5949, 0.3175, 0.0455]),
}


def synthetic_crop(size: int) -> np.ndarray:
    """A fixed gray crop (size, size) uint8: a gradient with rings, the same on every machine."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = 128 + 60 * np.sin(10 * np.hypot(x - 0.5, y - 0.4)) + 50 * (y - 0.5)
    return np.clip(image, 0, 255).astype(np.uint8)


def golden_rows(name: str) -> tuple[np.ndarray, np.ndarray]:
    model = load_model(name)
    image = load_image(EXAMPLE_PHOTO)
    photo = model.predict(image, detect_faces(image, detector="yunet")[:1])[0]
    crop = synthetic_crop(model.card.input_size)
    if model.card.colour == "rgb":
        crop = np.repeat(crop[..., None], 3, axis=2)
    synthetic = model.predict_tensor(model.crops_to_tensor(crop[None]))[0]
    return photo, synthetic


def test_the_default_and_the_ferplus_model_ship():
    assert {"emotion_default", "emotion_ferplus"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_card_is_complete(name):
    card = json.loads((MODELS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert sorted(card["labels"]) == sorted(EMOTIONS)
    assert card["input_size"] >= 16 and card["colour"] in ("gray", "rgb") and card["output"] == "probabilities"
    assert all(s > 0 for s in card["std"]) and card["crop_margin"] >= 0
    members = card["training"].get("members") or [card["training"]]  # an ensemble: each member's data
    assert all(member["data"] for member in members) and card["training"]["command"]
    assert card["metrics"]["ferplus_valid_dedup"]["accuracy"] > 0.5
    assert "non-commercial" in card["licence"]
    assert (MODELS_DIR / f"{name}.onnx").stat().st_size <= MAX_BYTES


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_outputs(name):
    if name not in GOLDEN:
        pytest.fail(f"no golden rows for {name}: run python -m tests.test_models and add them to GOLDEN")
    photo, synthetic = golden_rows(name)
    want_photo, want_synthetic = (np.array(row) for row in GOLDEN[name])
    # 8-bit convolutions may round differently on CPUs without the same integer instructions.
    quantized = "quantization" in load_model(name).card.training
    tolerance = 1e-2 if quantized else 2e-3
    assert np.abs(photo - want_photo).max() < tolerance, photo.round(4).tolist()
    assert np.abs(synthetic - want_synthetic).max() < tolerance, synthetic.round(4).tolist()
    assert EMOTIONS[int(photo.argmax())] == "happy"  # the astronaut smiles


if __name__ == "__main__":
    for name in SHIPPED:
        photo, synthetic = ([round(float(v), 4) for v in row] for row in golden_rows(name))
        print(f'    "{name}": ({photo},\n{" " * (len(name) + 9)}{synthetic}),')
