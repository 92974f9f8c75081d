"""Knowledge distillation: training targets blended with what trained teacher models say of the same faces.

A few models averaged classify better than any one of them (on FER+ Valid two moodnets score 85.8 % and
85.7 % alone, 86.3 % together), but a shipped model has one network's time budget. Training one network on
the averaged answers of several (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network") can pass
much of the ensemble's accuracy on at a single network's cost: the teachers' probabilities say which wrong
classes are nearly right, which a vote count of ten raters says only coarsely. (With this project's
CPU-trained teachers it has not yet lifted a shipped model; README, "What has not lifted them", has the
figures. A stronger teacher, e.g. one trained on a GPU, is what it is for.)

The teachers are exported ``.onnx`` models (a shipped name or a file); each is run through its own card
(input side, colour, normalisation), on the faces and on their mirror images, averaged.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from moodtune.errors import ParameterError
from moodtune.training.datasets import FaceSet
from moodtune.training.models import weights_path


def teacher_probabilities(faces: FaceSet, teachers, *, flip: bool = True, threads: int = 1,
                          cache=None) -> np.ndarray:
    """The teachers' averaged probabilities for every face.

    Parameters
    ----------
    faces : FaceSet
        Gray crops of shape (N, S, S), as the readers give them (resized here to each teacher's side).
    teachers : list of str or path
        Exported models: shipped names ("emotion_ferplus") or ``.onnx`` files with their card beside them.
    flip : bool
        Also ask about the mirror image of each face and average both answers (faces are near-symmetric,
        so this is a free second opinion).
    threads : int
        onnxruntime intra-op threads per teacher.
    cache : path, optional
        Folder where each teacher's answers are kept, keyed by the model file's and the faces' contents, so
        a second run on the same data skips the minutes of inference.

    Returns
    -------
    np.ndarray, shape (N, 7), float32
        Rows sum to 1, columns in EMOTIONS order.
    """
    if not teachers:
        raise ParameterError("distillation needs at least one teacher model (an exported .onnx or a shipped name)")
    answers = [_one_teacher(faces, weights_path(teacher), flip=flip, threads=threads, cache=cache)
               for teacher in teachers]
    return np.mean(answers, axis=0).astype(np.float32)


def _one_teacher(faces: FaceSet, path: Path, *, flip: bool, threads: int, cache) -> np.ndarray:
    from moodtune.training.evaluate import onnx_predictor

    teacher = onnx_predictor(path, threads=threads)  # checks the file first: a missing teacher fails here
    stored = None
    if cache is not None:
        key = hashlib.md5(path.read_bytes())
        key.update("".join(faces.hashes.tolist()).encode() + bytes([flip]))
        stored = Path(cache) / f"teacher-{path.stem}-{key.hexdigest()[:12]}.npy"
        if stored.is_file():
            return np.load(stored)
    views = [faces.images, np.ascontiguousarray(faces.images[:, :, ::-1])] if flip else [faces.images]
    answer = (sum(teacher.predict(view).astype(np.float64) for view in views) / len(views)).astype(np.float32)
    if stored is not None:  # written whole, then renamed: two runs sharing the cache never read half a file
        stored.parent.mkdir(parents=True, exist_ok=True)
        partial = stored.with_name(f"{stored.stem}.{os.getpid()}.partial.npy")
        np.save(partial, answer)
        os.replace(partial, stored)
    return answer


def distilled(faces: FaceSet, teachers, *, weight: float = 0.5, class_weights=None, flip: bool = True,
              threads: int = 1, cache=None) -> FaceSet:
    """A copy of ``faces`` whose targets are ``(1 - weight) * targets + weight * teachers' probabilities``.

    ``weight`` 1 trains on the teachers alone; 0 leaves the targets as they were. Keeping part of the
    original targets (FER+'s vote distributions, KDEF's posed labels) stops the student copying the
    teachers' shared mistakes.

    ``class_weights`` (shape (7,)), when the student's loss weighs classes as the teachers' did: a network
    trained with class weights answers in proportion to weight x probability, so its answers are divided by
    the weights (and renormalised) before they become targets; otherwise the student, weighing them again,
    would lean twice as far towards the rare classes. The other arguments are those of
    :func:`teacher_probabilities`.
    """
    if not 0.0 <= weight <= 1.0:
        raise ParameterError(f"the teachers' weight must lie in [0, 1], got {weight}")
    taught = teacher_probabilities(faces, teachers, flip=flip, threads=threads, cache=cache)
    if class_weights is not None:
        taught = taught / np.asarray(class_weights, dtype=np.float32).reshape(1, -1)
        taught /= taught.sum(axis=1, keepdims=True)
    targets = ((1.0 - weight) * faces.targets + weight * taught).astype(np.float32)
    source = {**faces.source, "teachers": [str(t) for t in teachers], "teacher_weight": weight}
    return replace(faces, targets=targets, source=source)
