"""Train/validation/test splits that do not leak: by subject, at random (the original work's), or official.

Every function returns index arrays into a FaceSet. Two leaks are closed here: one person on both sides
(KDEF's two sessions of an actor are near-duplicates) and pixel-identical files on both sides (FER2013 has
1,513 groups of copies, some across its official splits).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from moodtune.errors import ParameterError

# Official part names of the datasets moodtune reads, and what a manifest's split column may say.
_OFFICIAL = {
    "train": ("FER2013Train", "Training", "train", "training"),
    "valid": ("FER2013Valid", "PublicTest", "valid", "validation", "val"),
    "test": ("FER2013Test", "PrivateTest", "test"),
}


def random_split(n: int, *, test_fraction: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The original work's split: a random ``1 - test_fraction`` / ``test_fraction`` cut of the images.

    Returns
    -------
    train, test : np.ndarray of int, shapes (n - m,) and (m,), m = round(n * test_fraction), each sorted
    """
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    if n < 2:
        raise ParameterError(f"need at least 2 images to split, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    m = min(max(1, round(n * test_fraction)), n - 1)
    return np.sort(order[m:]), np.sort(order[:m])


def subject_folds(subjects, *, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) of each image, shape (N,), every subject's images in one fold.

    Subjects are shuffled with ``seed`` and dealt, largest first, to the fold with the fewest images so far,
    so folds have near-equal image counts.
    """
    subjects = np.asarray(subjects)
    names, inverse, counts = np.unique(subjects, return_inverse=True, return_counts=True)
    if not 2 <= k <= len(names):
        raise ParameterError(f"k must be from 2 to the number of subjects ({len(names)}), got {k!r}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]  # largest first, ties in random order
    fold_of_subject = np.empty(len(names), dtype=int)
    filled = np.zeros(k, dtype=int)
    for s in order:
        fold = int(np.argmin(filled))
        fold_of_subject[s] = fold
        filled[fold] += counts[s]
    return fold_of_subject[inverse]


def subject_kfold(subjects, *, k: int = 5, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train, test)`` index arrays for each of ``k`` folds; no subject is ever on both sides."""
    folds = subject_folds(subjects, k=k, seed=seed)
    for fold in range(k):
        yield np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)


def subject_split(subjects, *, k: int = 5, fold: int = 0, seed: int = 0):
    """Train, validation and test indices by subject: fold ``fold`` tests, the next fold validates.

    Early stopping looks at the validation fold only, so the test fold's score is an honest estimate.

    Returns
    -------
    train, valid, test : np.ndarray of int
    """
    if not 0 <= fold < k:
        raise ParameterError(f"fold must be from 0 to {k - 1}, got {fold!r}")
    folds = subject_folds(subjects, k=k, seed=seed)
    valid_fold = (fold + 1) % k
    return (np.flatnonzero((folds != fold) & (folds != valid_fold)), np.flatnonzero(folds == valid_fold),
            np.flatnonzero(folds == fold))


def official_split(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices from a dataset's own split names (FER+, FER2013, manifests).

    Raises
    ------
    ParameterError
        No part names, or no training or no validation images among them.
    """
    if parts is None:
        raise ParameterError("this dataset has no official split; use --split subject or --split random")
    parts = np.asarray(parts)
    found = {key: np.flatnonzero(np.isin(parts, names)) for key, names in _OFFICIAL.items()}
    if not len(found["train"]) or not len(found["valid"]):
        raise ParameterError(f"the official split needs training and validation parts, found {sorted(set(parts))}")
    return found["train"], found["valid"], found["test"]


def separate_duplicates(hashes, *parts, drop: bool = False) -> list[np.ndarray]:
    """Keep pixel-identical images off two sides of a split.

    Parameters
    ----------
    hashes : array-like of str, shape (N,)
        ``FaceSet.hashes``.
    *parts : np.ndarray of int
        Index arrays in priority order (train, then validation, then test).
    drop : bool
        False: an image whose pixels occur in an earlier part moves to that part (random and subject
        splits). True: it is dropped, leaving the earlier parts as they are (official splits, whose
        training set should stay the published one).

    Returns
    -------
    list of np.ndarray of int
        The parts, sorted, in the order given.
    """
    hashes = np.asarray(hashes)
    home: dict[str, int] = {}
    out: list[list[int]] = [[] for _ in parts]
    for p, index in enumerate(parts):
        for i in np.asarray(index, dtype=int):
            first = home.setdefault(hashes[i], p)
            if first == p:
                out[p].append(i)
            elif not drop:
                out[first].append(i)
    return [np.sort(np.array(o, dtype=int)) for o in out]
