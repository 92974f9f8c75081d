"""Synthetic face stand-ins for training tests: 7 classes of oriented gratings, per-subject brightness, noise.

Nothing from ../shared/data is copied; these images are generated on the fly.
"""

from __future__ import annotations

import numpy as np

from moodtune.emotions import EMOTIONS
from moodtune.training.datasets import FaceSet, pixel_hash


def grating(label: int, subject: int, rep: int, size: int = 48) -> np.ndarray:
    """A face stand-in: class = grating orientation, subject = brightness, rep = phase and noise."""
    rng = np.random.default_rng(1000 * subject + 10 * label + rep)
    y, x = np.mgrid[0:size, 0:size] / size
    angle = label * np.pi / len(EMOTIONS)
    wave = np.sin(2 * np.pi * 4 * (x * np.cos(angle) + y * np.sin(angle)) + rep)
    image = 110 + 15 * subject + 60 * wave + rng.normal(0, 12, (size, size))
    return np.clip(image, 0, 255).astype(np.uint8)


def synthetic_faces(subjects: int = 6, reps: int = 2, size: int = 48) -> FaceSet:
    images, labels, who = [], [], []
    for s in range(subjects):
        for label in range(len(EMOTIONS)):
            for rep in range(reps):
                images.append(grating(label, s, rep, size))
                labels.append(label)
                who.append(f"S{s}")
    images = np.stack(images)
    return FaceSet(images, np.eye(len(EMOTIONS), dtype=np.float32)[labels], np.array(who),
                   np.array([pixel_hash(im) for im in images]), [f"{i}.png" for i in range(len(images))],
                   source={"subjects_known": True})
