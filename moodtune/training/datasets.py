"""Face-expression datasets as plain arrays: images (N, S, S) uint8 gray and targets (N, 7) float32.

Readers return a :class:`FaceSet`; the training loop never knows which dataset it came from. Targets are
probability vectors over :data:`moodtune.emotions.EMOTIONS`: one-hot for hard labels, the crowd's vote
distribution for FER+ soft labels.

Readers: :func:`read_kdef` (original, flat or class-folder layout), :func:`read_ferplus` (official layout),
:func:`read_fer2013_csv`, :func:`read_manifest` (``path,label[,subject][,split]``), :func:`read_class_folders`;
:func:`read_any` picks one from what a path looks like. Files that cannot be used (unreadable, near-black,
misnamed) are listed in ``FaceSet.problems`` and skipped, never fatal.

How a file becomes a face crop must match inference (:class:`moodtune.faces.classify.EmotionModel`):
``crop="detector"`` runs :func:`~moodtune.faces.detect.detect_faces` on the full image and cuts the largest
face with :func:`~moodtune.faces.detect.crop_face` (the card's margin, gray), exactly as users' photos are
cut; ``crop="none"`` takes an already aligned crop as it is (centre square when it is not square).
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from moodtune.emotions import EMOTIONS, parse_emotion
from moodtune.errors import MoodtuneError, ParameterError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
CROPS = ("none", "detector", "centre")

#: Crop margin of the shipped model's card: FER+ frames are about as wide as YuNet's box, so the crop is the
#: box's square (see moodtune.training.export). KDEF crops made with the detector use the same rule.
DEFAULT_CROP_MARGIN = 0.0

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
FERPLUS_SPLITS = ("FER2013Train", "FER2013Valid", "FER2013Test")

#: FER2013's emotion index 0-6 in KDEF words.
FER2013_CLASSES = ("angry", "disgusted", "afraid", "happy", "sad", "surprised", "neutral")

#: KDEF expression codes (letters 5-6 of a file name).
KDEF_EXPRESSIONS = {"AF": "afraid", "AN": "angry", "DI": "disgusted", "HA": "happy", "NE": "neutral",
                    "SA": "sad", "SU": "surprised"}
#: KDEF camera angles (letters 7-8): full left, half left, straight, half right, full right.
KDEF_ANGLES = ("FL", "HL", "S", "HR", "FR")

# A frame whose 99th-percentile gray level is below this is a failed exposure (KDEF has a few), not a face.
_NEAR_BLACK = 24


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
    problems : list[str]
        Files skipped or used with a fallback, one line each (empty when all went well).
    parts : np.ndarray, shape (N,), str, or None
        The dataset's own split of each image ("FER2013Train", "PublicTest", a manifest's ``split`` column).
    source : dict
        How the set was read: reader, root, crop, margin, size, whether subjects are known.
    """

    images: np.ndarray
    targets: np.ndarray
    subjects: np.ndarray
    hashes: np.ndarray
    names: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    parts: np.ndarray | None = None
    source: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labels(self) -> np.ndarray:
        """Hard label index per image, shape (N,): the most probable class."""
        return self.targets.argmax(axis=1)

    @property
    def subjects_known(self) -> bool:
        return bool(self.source.get("subjects_known", False))

    def subset(self, index) -> FaceSet:
        index = np.asarray(index)
        if index.dtype != bool:
            index = index.astype(int)
        names = [self.names[i] for i in np.arange(len(self))[index]] if self.names else []
        parts = self.parts[index] if self.parts is not None else None
        return FaceSet(self.images[index], self.targets[index], self.subjects[index], self.hashes[index], names,
                       list(self.problems), parts, dict(self.source))


def pixel_hash(image: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(image).tobytes()).hexdigest()


def _read_gray(path: Path, size: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ParameterError(f"{path}: cannot be read as an image; check the file or remove it from the dataset")
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Gray uint8 (N, H, W) -> (N, size, size), by crop_face's rule (INTER_AREA shrinking, INTER_LINEAR growing)."""
    if images.shape[1:] == (size, size):
        return images
    shrink = images.shape[1] > size
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = np.empty((len(images), size, size), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = cv2.resize(image, (size, size), interpolation=interpolation)
    return out


# ---------------------------------------------------------------------------------------------------------
# One file -> one face crop, by the same rules as inference


def _check_crop(crop: str, size: int) -> None:
    if crop not in CROPS:
        raise ParameterError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 8:
        raise ParameterError(f"size must be an int of at least 8 pixels, got {size!r}")


def face_crop(image: np.ndarray, *, name: str, size: int, crop: str = "none", margin: float = DEFAULT_CROP_MARGIN,
              detector: str = "auto", problems: list[str] | None = None) -> np.ndarray | None:
    """The gray face crop, shape (size, size) uint8, of one picture; None (and a problem noted) when unusable.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3) RGB or (H, W) gray, uint8
    name : str
        Used in problem lines.
    crop : {"none", "detector", "centre"}
        "none": the picture is already a face crop; "detector": find the largest face and cut it as
        inference does (centre square when no face is found, noted); "centre": the centre square.
    margin : float
        Crop margin around the detector box (the model card's ``crop_margin``).
    problems : list of str, optional
        Receives one line per fallback or skip.
    """
    from moodtune.faces.detect import crop_face, detect_faces

    problems = problems if problems is not None else []
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if np.percentile(gray, 99) < _NEAR_BLACK:
        problems.append(f"{name}: near-black frame (99th percentile gray level < {_NEAR_BLACK}); skipped")
        return None
    height, width = gray.shape
    side = min(height, width)
    box = ((width - side) // 2, (height - side) // 2, side, side)
    if crop == "detector":
        faces = detect_faces(image, detector=detector)
        if faces:
            return crop_face(image, faces[0], margin=margin, size=size, grayscale=True)
        problems.append(f"{name}: no face found; centre square used")
    elif crop == "none" and height != width:
        problems.append(f"{name}: odd size {width}x{height} for a face crop; centre square used")
    # crop_face with margin 0 around the centre square: the same resize rule as detector crops.
    return crop_face(gray, box, margin=0.0, size=size, grayscale=True)


def _load_face(path: Path, *, name: str, size: int, crop: str, margin: float, detector: str,
               problems: list[str]) -> np.ndarray | None:
    from moodtune.faces.image import load_image

    try:
        image = load_image(path)
    except MoodtuneError as err:
        problems.append(f"{name}: unreadable ({err}); skipped")
        return None
    return face_crop(image, name=name, size=size, crop=crop, margin=margin, detector=detector, problems=problems)


def _faceset(images, targets, subjects, names, problems, *, parts=None, source=None) -> FaceSet:
    """Stack per-image lists into a FaceSet; a clear error when nothing usable was found."""
    if not images:
        where = (source or {}).get("root", "the data")
        first = f"; first problem: {problems[0]}" if problems else ""
        raise ParameterError(f"{where}: no usable labelled images found{first}")
    images = np.stack(images)
    hashes = np.array([pixel_hash(im) for im in images])
    parts = np.array(parts) if parts is not None else None
    return FaceSet(images, np.stack(targets).astype(np.float32), np.array(subjects), hashes, list(names),
                   list(problems), parts, dict(source or {}))


def _one_hot(label: str) -> np.ndarray:
    return np.eye(len(EMOTIONS), dtype=np.float32)[EMOTIONS.index(label)]


def _image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# ---------------------------------------------------------------------------------------------------------
# KDEF


@dataclass(frozen=True)
class KdefName:
    """What a KDEF file name says.

    Attributes
    ----------
    session : {"A", "B"}
    gender : {"F", "M"}
    identity : int
        1-35 within a gender.
    subject : str
        Gender + identity ("F01"): the person, the same in both sessions.
    expression : str
        KDEF word (moodtune.emotions.EMOTIONS).
    angle : {"FL", "HL", "S", "HR", "FR"}
    quirks : tuple of str
        What was unusual about the name (angle missing, odd extension), for reports.
    """

    session: str
    gender: str
    identity: int
    subject: str
    expression: str
    angle: str
    quirks: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The canonical stem, e.g. ``AF01ANS``."""
        expression = next(k for k, v in KDEF_EXPRESSIONS.items() if v == self.expression)
        return f"{self.session}{self.gender}{self.identity:02d}{expression}{self.angle}"


# Positions, not searches: "AF" is both session A + female and the code for afraid (AF01AFFL).
_KDEF_STEM = re.compile(r"([AB])([FM])(\d{2})(AF|AN|DI|HA|NE|SA|SU)(FL|FR|HL|HR|S)?")


def parse_kdef_name(name) -> KdefName | None:
    """Parse a KDEF file name (``AF01ANS.JPG``, ``AM12HAFL.JPG``); None when it is not one.

    Tolerated, and listed in ``quirks``: lower or mixed case, any image extension (``.jpeg``, ``.png``) or
    none, surrounding spaces, and copies that drop the angle letters (``AF01AN.JPG``; straight assumed, as
    such copies hold the frontal pictures only). Straight is one letter (``S``), the others two.
    """
    path = Path(str(name).strip())
    stem, suffix = path.stem.strip(), path.suffix.lower()
    if suffix and suffix not in IMAGE_SUFFIXES:
        stem, suffix = path.name.strip(), ""  # "AF01ANS" with no extension, or a dot inside the name
    match = _KDEF_STEM.fullmatch(stem.upper())
    if match is None:
        return None
    session, gender, identity, expression, angle = match.groups()
    if not 1 <= int(identity) <= 35:
        return None
    quirks = []
    if stem != stem.upper():
        quirks.append("lower-case name")
    if suffix not in (".jpg", ""):
        quirks.append(f"extension {suffix}")
    if angle is None:
        angle = "S"
        quirks.append("angle letters missing; straight (S) assumed")
    return KdefName(session, gender, int(identity), f"{gender}{identity}", KDEF_EXPRESSIONS[expression], angle,
                    tuple(quirks))


def read_kdef(root, *, angles=("S",), size: int = 48, crop: str = "none", margin: float = DEFAULT_CROP_MARGIN,
              detector: str = "auto") -> FaceSet:
    """Read KDEF from its owners' layout (``KDEF/AF01/AF01AFFL.JPG``), a flat folder, or class folders.

    Labels, subjects and angles come from the file names (:func:`parse_kdef_name`); folders only serve to
    cross-check (a file in ``AF01/`` whose name says BM05, or in ``happy/`` whose name says SA, is reported
    and read by its name). Subject = gender + identity, so both sessions of an actor share it.

    Parameters
    ----------
    root : path
        Folder searched recursively for image files.
    angles : tuple of str or None
        Camera angles to keep (``("S",)`` frontal only, the default; None keeps all five).
    size : int
        Side of the gray crops returned.
    crop : {"none", "detector", "centre"}
        "none" for already-cropped faces (kdef_front); "detector" for the original 562x762 frames, cut as
        inference cuts users' photos. See :func:`face_crop`.
    margin, detector
        Crop margin (the model card's) and face detector for ``crop="detector"``.

    Returns
    -------
    FaceSet
        Images (N, size, size), one-hot targets, subjects like "F01", ``problems`` listing what was skipped.
    """
    root = Path(root)
    _check_crop(crop, size)
    if not root.is_dir():
        raise ParameterError(f"{root}: not a folder; give the folder that holds the KDEF images")
    if angles is not None:
        angles = tuple(a.upper() for a in ([angles] if isinstance(angles, str) else angles))
        unknown = set(angles) - set(KDEF_ANGLES)
        if unknown:
            raise ParameterError(f"unknown KDEF angle(s) {sorted(unknown)}: use {', '.join(KDEF_ANGLES)}")
    problems: list[str] = []
    images, targets, subjects, names = [], [], [], []
    seen: dict[str, str] = {}
    for path in _image_files(root):
        rel = path.relative_to(root).as_posix()
        parsed = parse_kdef_name(path.name)
        if parsed is None:
            problems.append(f"{rel}: not a KDEF file name (like AF01ANS.JPG); skipped")
            continue
        if parsed.quirks and "angle letters missing; straight (S) assumed" in parsed.quirks:
            problems.append(f"{rel}: angle letters missing; straight (S) assumed")
        if angles is not None and parsed.angle not in angles:
            continue
        folder = path.parent.name
        if re.fullmatch(r"[AB][FM]\d{2}", folder.upper()) and folder.upper() != parsed.code[:4]:
            problems.append(f"{rel}: misnamed (in folder {folder}, name says {parsed.code[:4]}); read by its name")
        else:
            try:
                folder_label = parse_emotion(folder)
            except ParameterError:
                folder_label = None
            if folder_label is not None and folder_label != parsed.expression:
                problems.append(f"{rel}: in folder {folder} but the name says {parsed.expression}; read by its name")
        if parsed.code in seen:
            problems.append(f"{rel}: second copy of {parsed.code} (first {seen[parsed.code]}); skipped")
            continue
        face = _load_face(path, name=rel, size=size, crop=crop, margin=margin, detector=detector, problems=problems)
        if face is None:
            continue
        seen[parsed.code] = rel
        images.append(face)
        targets.append(_one_hot(parsed.expression))
        subjects.append(parsed.subject)
        names.append(rel)
    source = {"reader": "kdef", "root": str(root), "size": size, "crop": crop, "margin": margin,
              "angles": list(angles) if angles is not None else None, "subjects_known": True}
    return _faceset(images, targets, subjects, names, problems, source=source)


# ---------------------------------------------------------------------------------------------------------
# FER+ and FER2013


def read_ferplus(root, *, split: str, label_mode: str = "soft", min_votes: int = 1, size: int = 48,
                 crop: str = "none", margin: float = DEFAULT_CROP_MARGIN, detector: str = "auto") -> FaceSet:
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
    size, crop, margin, detector
        Crop side and rule, see :func:`face_crop`; the default reads the 48x48 aligned crops as they are.
    """
    if label_mode not in ("soft", "majority"):
        raise ParameterError(f"label_mode must be 'soft' or 'majority', got {label_mode!r}")
    _check_crop(crop, size)
    root = Path(root)
    rows = _ferplus_rows(root, split)
    images, targets, names, problems = [], [], [], []
    for name, majority, votes in rows:
        if majority not in EMOTIONS:
            continue
        vote_vector = np.array([votes[e] for e in EMOTIONS], dtype=np.float32)
        if vote_vector.sum() < min_votes:
            continue
        if label_mode == "soft":
            target = vote_vector / vote_vector.sum()
        else:
            target = _one_hot(majority)
        path = root / "images" / split / name
        if crop == "none":
            image = _read_gray(path, size)  # aligned 48x48 crops: the fast path the shipped model was trained on
        else:
            image = _load_face(path, name=f"{split}/{name}", size=size, crop=crop, margin=margin, detector=detector,
                               problems=problems)
            if image is None:
                continue
        images.append(image)
        targets.append(target)
        names.append(f"{split}/{name}")
    if not images:
        raise ParameterError(f"{root}: no FER+ images found for split {split!r}")
    source = {"reader": "ferplus", "root": str(root), "size": size, "crop": crop, "margin": margin,
              "label_mode": label_mode, "subjects_known": False}
    return _faceset(images, targets, names, names, problems, parts=[split] * len(images), source=source)


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


def ferplus_splits(root) -> list[str]:
    """The FER+ splits present under ``root`` (label files found), in Train, Valid, Test order."""
    root = Path(root)
    present = set()
    flat = root / "labels_majority.csv"
    if flat.exists():
        with open(flat, newline="") as f:
            present = {row["split"] for row in csv.DictReader(f)}
    present |= {s for s in FERPLUS_SPLITS if (root / "images" / s / "label.csv").exists()}
    return [s for s in FERPLUS_SPLITS if s in present]


def read_ferplus_all(root, *, train_labels: str = "soft", **options) -> FaceSet:
    """Every FER+ split present, ``parts`` naming each image's split.

    The Train split gets ``train_labels`` targets; Valid and Test get majority one-hots (what is scored).
    """
    sets = [read_ferplus(root, split=s, label_mode=train_labels if s == "FER2013Train" else "majority", **options)
            for s in ferplus_splits(root)]
    if not sets:
        raise ParameterError(f"{root}: no FER+ split found (images/<split>/label.csv or labels_majority.csv)")
    return concatenate(sets)


def read_fer2013_csv(path, *, size: int = 48, crop: str = "none", margin: float = DEFAULT_CROP_MARGIN,
                     detector: str = "auto") -> FaceSet:
    """Read the FER2013 CSV (``emotion,pixels,Usage``): 48x48 gray faces as 2,304 space-separated numbers.

    ``emotion`` 0-6 is angry, disgust, fear, happy, sad, surprise, neutral (mapped to KDEF words);
    ``Usage`` (Training, PublicTest, PrivateTest) becomes ``parts``. Blank frames (FER2013 has a few) and
    malformed rows are reported and skipped.
    """
    path = Path(path)
    _check_crop(crop, size)
    images, targets, names, parts, problems = [], [], [], [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or [])
        if not {"emotion", "pixels"} <= columns:
            raise ParameterError(f"{path}: a FER2013 CSV needs 'emotion' and 'pixels' columns, found "
                                 f"{sorted(columns)}")
        for line, row in enumerate(reader, start=2):
            name = f"{path.name}:{line}"
            try:
                label = FER2013_CLASSES[int(row["emotion"])]
                pixels = np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48)
            except (ValueError, IndexError, TypeError):
                problems.append(f"{name}: malformed row (emotion {row.get('emotion')!r}, "
                                f"{len((row.get('pixels') or '').split())} pixels); skipped")
                continue
            face = face_crop(pixels if crop == "none" else cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB), name=name,
                             size=size, crop=crop, margin=margin, detector=detector, problems=problems)
            if face is None:
                continue
            images.append(face)
            targets.append(_one_hot(label))
            names.append(name)
            parts.append(row.get("Usage") or "")
    source = {"reader": "fer2013", "root": str(path), "size": size, "crop": crop, "margin": margin,
              "subjects_known": False}
    return _faceset(images, targets, names, names, problems, parts=parts, source=source)


# ---------------------------------------------------------------------------------------------------------
# Generic: manifest CSV and class folders


def read_manifest(path, *, size: int = 48, crop: str = "none", margin: float = DEFAULT_CROP_MARGIN,
                  detector: str = "auto") -> FaceSet:
    """Read a CSV with columns ``path,label`` and optional ``subject`` and ``split`` (other columns ignored).

    Paths are relative to the CSV's folder (absolute ones are kept). Labels are emotion words in any common
    vocabulary ("fear", "happiness", "sad" ...); rows with other labels are reported and skipped. Without a
    subject column every image is its own subject; with one, splits keep each subject on one side.
    """
    path = Path(path)
    _check_crop(crop, size)
    images, targets, subjects, names, parts, problems = [], [], [], [], [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or [])
        if not {"path", "label"} <= columns:
            raise ParameterError(f"{path}: a manifest needs 'path' and 'label' columns (optional 'subject', "
                                 f"'split'), found {sorted(columns)}")
        has_subject, has_split = "subject" in columns, "split" in columns
        for line, row in enumerate(reader, start=2):
            rel = (row["path"] or "").strip()
            try:
                label = parse_emotion(row["label"])
            except ParameterError:
                problems.append(f"{path.name}:{line}: label {row['label']!r} is none of {', '.join(EMOTIONS)}; "
                                "skipped")
                continue
            face = _load_face(path.parent / rel, name=rel, size=size, crop=crop, margin=margin, detector=detector,
                              problems=problems)
            if face is None:
                continue
            images.append(face)
            targets.append(_one_hot(label))
            subject = (row.get("subject") or "").strip() if has_subject else ""
            subjects.append(subject or rel)
            names.append(rel)
            parts.append((row.get("split") or "").strip())
    source = {"reader": "manifest", "root": str(path), "size": size, "crop": crop, "margin": margin,
              "subjects_known": has_subject}
    return _faceset(images, targets, subjects, names, problems, parts=parts if has_split else None, source=source)


def read_class_folders(root, *, size: int = 48, crop: str = "none", margin: float = DEFAULT_CROP_MARGIN,
                       detector: str = "auto") -> FaceSet:
    """Read ``root/<emotion>/*.png``: one folder per class, named in any common vocabulary ("fear", "happy").

    Folders that name no emotion are reported and skipped. Subjects are known only where file names are
    KDEF names (then the KDEF subject is used); otherwise each image is its own subject.
    """
    root = Path(root)
    _check_crop(crop, size)
    if not root.is_dir():
        raise ParameterError(f"{root}: not a folder; give the folder that holds one sub-folder per emotion")
    images, targets, subjects, names, problems = [], [], [], [], []
    all_kdef = True
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            label = parse_emotion(folder.name)
        except ParameterError:
            problems.append(f"{folder.name}/: names no emotion; skipped")
            continue
        for path in _image_files(folder):
            rel = path.relative_to(root).as_posix()
            face = _load_face(path, name=rel, size=size, crop=crop, margin=margin, detector=detector,
                              problems=problems)
            if face is None:
                continue
            kdef = parse_kdef_name(path.name)
            all_kdef &= kdef is not None
            images.append(face)
            targets.append(_one_hot(label))
            subjects.append(kdef.subject if kdef else rel)
            names.append(rel)
    source = {"reader": "class_folders", "root": str(root), "size": size, "crop": crop, "margin": margin,
              "subjects_known": bool(images) and all_kdef}
    return _faceset(images, targets, subjects, names, problems, source=source)


# ---------------------------------------------------------------------------------------------------------
# Picking a reader


def detect_format(path) -> str:
    """Which reader fits ``path``: "ferplus", "fer2013", "manifest", "kdef" or "class_folders".

    Raises
    ------
    ParameterError
        The path is missing or looks like none of them.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ParameterError(f"{path}: give a folder of images or a CSV (FER2013 or path,label manifest)")
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = {h.strip() for h in next(csv.reader(f), [])}
        if {"emotion", "pixels"} <= header:
            return "fer2013"
        if {"path", "label"} <= header:
            return "manifest"
        raise ParameterError(f"{path}: CSV header {sorted(header)} is neither FER2013 (emotion,pixels,Usage) nor a "
                             "manifest (path,label[,subject][,split])")
    if not path.is_dir():
        raise ParameterError(f"{path}: no such file or folder")
    if ferplus_splits(path):
        return "ferplus"
    files = _image_files(path)
    # Most files named like KDEF: the owners' layout, a flat copy, or class folders of KDEF files.
    if files and sum(parse_kdef_name(p.name) is not None for p in files) > 0.5 * len(files):
        return "kdef"
    for folder in (p for p in path.iterdir() if p.is_dir()):
        try:
            parse_emotion(folder.name)
            return "class_folders"
        except ParameterError:
            continue
    raise ParameterError(f"{path}: not a dataset moodtune knows (FER+ layout images/<split>/label.csv, KDEF "
                         "file names, one folder per emotion, or a CSV); write a path,label manifest for it")


def read_any(path, *, size: int = 48, crop: str = "none", margin: float = DEFAULT_CROP_MARGIN,
             detector: str = "auto", angles=("S",), train_labels: str = "soft") -> FaceSet:
    """Read ``path`` with the reader :func:`detect_format` picks; options go to it where they apply.

    ``angles`` applies to KDEF, ``train_labels`` ("soft" or "majority") to the FER+ Train split.
    """
    kind = detect_format(path)
    options = {"size": size, "crop": crop, "margin": margin, "detector": detector}
    if kind == "ferplus":
        return read_ferplus_all(path, train_labels=train_labels, **options)
    if kind == "fer2013":
        return read_fer2013_csv(path, **options)
    if kind == "manifest":
        return read_manifest(path, **options)
    if kind == "kdef":
        return read_kdef(path, angles=angles, **options)
    return read_class_folders(path, **options)


def concatenate(sets: list[FaceSet]) -> FaceSet:
    """One FaceSet holding all of ``sets`` in order (same image size required)."""
    parts = None
    if any(s.parts is not None for s in sets):
        parts = np.concatenate([s.parts if s.parts is not None else np.full(len(s), "") for s in sets])
    return FaceSet(np.concatenate([s.images for s in sets]), np.concatenate([s.targets for s in sets]),
                   np.concatenate([s.subjects for s in sets]), np.concatenate([s.hashes for s in sets]),
                   [n for s in sets for n in s.names], [p for s in sets for p in s.problems], parts,
                   dict(sets[0].source))


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
    import json

    cache = Path(cache)
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        extra = json.loads(str(z["extra"])) if "extra" in z else {}
        parts = z["parts"] if "parts" in z else None
        return FaceSet(z["images"], z["targets"], z["subjects"], z["hashes"], z["names"].tolist(),
                       extra.get("problems", []), parts, extra.get("source", {}))
    faces = build()
    cache.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"images": faces.images, "targets": faces.targets, "subjects": faces.subjects, "hashes": faces.hashes,
              "names": np.array(faces.names),
              "extra": np.array(json.dumps({"problems": faces.problems, "source": faces.source}))}
    if faces.parts is not None:
        arrays["parts"] = faces.parts
    np.savez(cache, **arrays)
    return faces
