"""Classification metrics on plain label arrays (no torch), shared by training and evaluation."""

from __future__ import annotations

import numpy as np

from moodtune.emotions import EMOTIONS


def confusion_matrix(y_true, y_pred, *, num_classes: int = len(EMOTIONS)) -> np.ndarray:
    """Counts of shape (num_classes, num_classes): rows are true classes, columns predictions."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def summarize(y_true, y_pred, *, labels=EMOTIONS) -> dict:
    """Accuracy, macro-F1 over classes present in ``y_true``, per-class recall and the confusion matrix."""
    matrix = confusion_matrix(y_true, y_pred, num_classes=len(labels))
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    hits = np.diag(matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, hits / support, np.nan)
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0
    return {
        "n": int(support.sum()),
        "accuracy": float(hits.sum() / max(support.sum(), 1)),
        "macro_f1": float(np.mean(f1[present])) if present.any() else 0.0,
        "recall": {label: (None if np.isnan(r) else float(r)) for label, r in zip(labels, recall, strict=True)},
        "confusion": matrix.tolist(),
        "labels": list(labels),
    }
