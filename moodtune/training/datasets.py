"""Face-expression datasets as plain arrays: images (N, S, S) uint8 gray and targets (N, 7) float32.

Readers return a :class:`FaceSet`; the training loop never knows which dataset it came from. Targets are
probability vectors over :data:`moodtune.emotions.EMOTIONS`: one-hot for hard labels, the crowd's vote
distribution for FER+ soft labels.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from moodtune.emotions import EMOTIONS, parse_emotion
from moodtune.errors import ParameterError

# FER+ vote columns that have a KDEF class; contempt, unknown and NF (not a face) have none.
FERPLUS_VOTE_COLUMNS = {
    "afraid": "votes_fear",
    "angry": "votes_anger",
    "disgusted": "votes_disgust",
    "happy": "votes_happiness",
    "neutral": "votes_neutral",
    "sad": "votes_sadness",
    "surprised": "votes_surprise",
}


@dataclass
class FaceSet:
    """Images with targets, plus what is needed to split them honestly.

    Attributes
    ----------
    images : np.ndarray, shape (N, S, S), uint8
        Gray face crops.
    targets : np.ndarray, shape (N, 7), float32
        Probability over EMOTIONS per image (rows sum to 1).
    subjects : np.ndarray, shape (N,), str
        Who is in the picture where known (KDEF actor), else a unique id per image.
    hashes : np.ndarray, shape (N,), str
        MD5 of the pixels, to keep identical images off both sides of a split.
    names : list[str]
        Source file of each image, for reports.
    """

    images: np.ndarray
    targets: np.ndarray
    subjects: np.ndarray
    hashes: np.ndarray
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labels(self) -> np.ndarray:
        """Hard label index per image, shape (N,): the most probable class."""
        return self.targets.argmax(axis=1)

    def subset(self, index) -> FaceSet:
        index = np.asarray(index)
        names = [self.names[i] for i in np.arange(len(self))[index]] if self.names else []
        return FaceSet(self.images[index], self.targets[index], self.subjects[index], self.hashes[index], names)


def pixel_hash(image: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(image).tobytes()).hexdigest()


def _read_gray(path: Path, size: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ParameterError(f"{path}: cannot be read as an image; check the file or remove it from the dataset")
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def read_ferplus(root, *, split: str, label_mode: str = "soft", min_votes: int = 1) -> FaceSet:
    """Read FER+ in its official layout: ``root/images/<split>/label.csv`` or the flat ``labels_majority.csv``.

    Parameters
    ----------
    root : path
        Folder holding ``images/`` (and ``labels_majority.csv`` if present).
    split : {"FER2013Train", "FER2013Valid", "FER2013Test"}
    label_mode : {"soft", "majority"}
        "soft": the vote distribution over the 7 KDEF classes; "majority": one-hot of FER+'s majority label.
        Either way only images whose FER+ majority label is one of the 7 classes are kept (the FER+
        paper's protocol: ties, contempt, unknown and not-a-face are dropped).
    """
    if label_mode not in ("soft", "majority"):
        raise ParameterError(f"label_mode must be 'soft' or 'majority', got {label_mode!r}")
    root = Path(root)
    rows = _ferplus_rows(root, split)
    images, targets, names = [], [], []
    for name, majority, votes in rows:
        if majority not in EMOTIONS:
            continue
        vote_vector = np.array([votes[e] for e in EMOTIONS], dtype=np.float32)
        if vote_vector.sum() < min_votes:
            continue
        if label_mode == "soft":
            target = vote_vector / vote_vector.sum()
        else:
            target = np.eye(len(EMOTIONS), dtype=np.float32)[EMOTIONS.index(majority)]
        images.append(_read_gray(root / "images" / split / name, 48))
        targets.append(target)
        names.append(f"{split}/{name}")
    if not images:
        raise ParameterError(f"{root}: no FER+ images found for split {split!r}")
    images = np.stack(images)
    hashes = np.array([pixel_hash(im) for im in images])
    return FaceSet(images, np.stack(targets), np.array(names), hashes, names)


def _ferplus_rows(root: Path, split: str):
    """Yield (file name, majority label in KDEF words or '', {emotion: votes})."""
    flat = root / "labels_majority.csv"
    if flat.exists():
        with open(flat, newline="") as f:
            for row in csv.DictReader(f):
                if row["split"] != split:
                    continue
                majority = row["majority_label"]
                majority = parse_emotion(majority) if majority and majority != "contempt" else ""
                votes = {e: int(row[col]) for e, col in FERPLUS_VOTE_COLUMNS.items()}
                yield Path(row["path"]).name, majority, votes
        return
    # Official layout: label.csv without a header; name, box, then 10 vote columns in this order.
    order = ["neutral", "happy", "surprised", "sad", "angry", "disgusted", "afraid", "contempt", "unknown", "nf"]
    label_csv = root / "images" / split / "label.csv"
    if not label_csv.exists():
        raise ParameterError(f"{label_csv}: not found; expected FER+'s layout images/<split>/label.csv")
    with open(label_csv, newline="") as f:
        for row in csv.reader(f):
            counts = dict(zip(order, (int(v) for v in row[2:12]), strict=True))
            top = max(counts.values())
            winners = [k for k, v in counts.items() if v == top]
            # FER+ majority rule: a unique top class with more than half of the votes.
            majority = winners[0] if len(winners) == 1 and top > sum(counts.values()) / 2 else ""
            majority = majority if majority in EMOTIONS else ""
            yield row[0], majority, {e: counts[e] for e in EMOTIONS}


def drop_duplicates_of(faces: FaceSet, reference: FaceSet) -> FaceSet:
    """Remove from ``faces`` every image whose pixels also occur in ``reference`` (and repeats within)."""
    seen = set(reference.hashes.tolist())
    keep = []
    for i, h in enumerate(faces.hashes):
        if h not in seen:
            keep.append(i)
            seen.add(h)
    return faces.subset(np.array(keep, dtype=int))


def load_cached(cache: Path, build) -> FaceSet:
    """Load a FaceSet from an .npz cache, building and saving it first when missing."""
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return FaceSet(z["images"], z["targets"], z["subjects"], z["hashes"], z["names"].tolist())
    faces = build()
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=faces.images, targets=faces.targets, subjects=faces.subjects,
             hashes=faces.hashes, names=np.array(faces.names))
    return faces
