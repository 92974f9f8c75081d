"""What the library holds: songs per emotion and per provenance, and a scatter of it in the circumplex.

Each song counts for the emotion whose anchor lies nearest to it (:func:`moodtune.emotions.nearest_emotion`).
The figure (the original report's library scatter) is drawn with OpenCV: valence across, arousal up, one dot
per song coloured by its emotion, the 7 anchors marked and named, and a legend with the counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtune.emotions import _ANCHOR_MATRIX, ANCHORS, EMOTIONS
from moodtune.errors import LibraryError

# One colour per emotion (RGB), far apart and readable on white.
COLOURS: dict[str, tuple[int, int, int]] = {
    "afraid": (148, 103, 189), "angry": (214, 39, 40), "disgusted": (140, 86, 75), "happy": (255, 165, 0),
    "neutral": (127, 127, 127), "sad": (31, 119, 180), "surprised": (44, 160, 44),
}


@dataclass(frozen=True)
class LibraryStats:
    """Counts over a library's songs.

    Attributes
    ----------
    total : int
    by_emotion : dict of str to int
        Songs nearest to each emotion's anchor, in :data:`EMOTIONS` order (zeros included).
    by_provenance : dict of str to int
        Songs per provenance (``rated``, ``tags``, ``given``, ``mood``, ``catalogue``, ``lyrics``, ``audio``,
        ``artist_mean``), most first.
    mean_confidence : dict of str to float or None
        Mean confidence per provenance, None where no song of it records one.
    """

    total: int
    by_emotion: dict[str, int]
    by_provenance: dict[str, int]
    mean_confidence: dict[str, float | None]

    def to_dict(self) -> dict:
        return {"songs": self.total, "by_emotion": self.by_emotion, "by_provenance": self.by_provenance,
                "mean_confidence": self.mean_confidence}

    def lines(self) -> list[str]:
        width = max(map(len, [*self.by_emotion, *self.by_provenance, "provenance"]))
        out = [f"{self.total:,} songs", "", "nearest emotion:"]
        out += [f"  {e:<{width}} {n:>8,}  {n / max(self.total, 1):6.1%}" for e, n in self.by_emotion.items()]
        out += ["", "provenance:"]
        for kind, n in self.by_provenance.items():
            conf = self.mean_confidence.get(kind)
            out.append(f"  {kind:<{width}} {n:>8,}  {n / max(self.total, 1):6.1%}"
                       + (f"  mean confidence {conf:.2f}" if conf is not None else ""))
        return out


def nearest_emotions(points: np.ndarray) -> np.ndarray:
    """Index into :data:`EMOTIONS` of the nearest anchor for each point; points (N, 2) → (N,) ints.

    The vectorised form of :func:`moodtune.emotions.nearest_emotion` (same anchors, same ties: lowest index).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    distances = np.linalg.norm(points[:, None, :] - _ANCHOR_MATRIX[None, :, :2], axis=2)  # (N, 7)
    return np.argmin(distances, axis=1)


def compute(details: list[tuple[float, float, str, float | None]]) -> tuple[LibraryStats, np.ndarray, np.ndarray]:
    """Statistics from ``Library.song_details()`` rows.

    Returns
    -------
    stats : LibraryStats
    points : np.ndarray, shape (N, 2)
        Valence, arousal.
    emotion : np.ndarray of int, shape (N,)
        Nearest emotion of each point.
    """
    points = np.array([(v, a) for v, a, _, _ in details], dtype=np.float64).reshape(-1, 2)
    emotion = nearest_emotions(points)
    counts = np.bincount(emotion, minlength=len(EMOTIONS))
    by_provenance = Counter(p for _, _, p, _ in details)
    confidence: dict[str, list[float]] = {}
    for _, _, p, c in details:
        if c is not None:
            confidence.setdefault(p, []).append(c)
    stats = LibraryStats(
        total=len(details),
        by_emotion={e: int(n) for e, n in zip(EMOTIONS, counts, strict=True)},
        by_provenance=dict(sorted(by_provenance.items(), key=lambda item: (-item[1], item[0]))),
        mean_confidence={p: (round(float(np.mean(confidence[p])), 3) if p in confidence else None)
                         for p in sorted(by_provenance)},
    )
    return stats, points, emotion


def library_stats(library) -> tuple[LibraryStats, np.ndarray, np.ndarray]:
    """:func:`compute` for a :class:`moodtune.music.Library`."""
    return compute(library.song_details())


def draw_scatter(points: np.ndarray, emotion: np.ndarray, *, counts: dict[str, int] | None = None,
                 size: int = 900, title: str = "moodtune library") -> np.ndarray:
    """The library scatter as an RGB image.

    Parameters
    ----------
    points : np.ndarray, shape (N, 2)
        Valence, arousal on [0, 1].
    emotion : np.ndarray of int, shape (N,)
        Index into :data:`EMOTIONS` for each point's colour.
    counts : dict, optional
        Songs per emotion, shown in the legend.
    size : int
        Side of the plot square in pixels (the image adds margins and a legend).

    Returns
    -------
    np.ndarray, shape (H, W, 3), uint8
    """
    import cv2

    left, top, bottom, legend = 80, 50, 70, 230
    height, width = top + size + bottom, left + size + legend
    image = np.full((height, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def xy(v, a):
        return int(round(left + v * size)), int(round(top + (1 - a) * size))

    # Grid every 0.1, the quadrant lines through the centre darker.
    for k in range(11):
        shade = (150, 150, 150) if k == 5 else (228, 228, 228)
        cv2.line(image, xy(k / 10, 0), xy(k / 10, 1), shade, 1)
        cv2.line(image, xy(0, k / 10), xy(1, k / 10), shade, 1)
        cv2.putText(image, f"{k / 10:.1f}", (xy(k / 10, 0)[0] - 12, top + size + 20), font, 0.4, (60, 60, 60), 1,
                    cv2.LINE_AA)
        cv2.putText(image, f"{k / 10:.1f}", (left - 34, xy(0, k / 10)[1] + 4), font, 0.4, (60, 60, 60), 1,
                    cv2.LINE_AA)
    cv2.rectangle(image, xy(0, 1), xy(1, 0), (0, 0, 0), 1)
    cv2.putText(image, "valence (unpleasant -> pleasant)", (left + size // 2 - 150, height - 18), font, 0.6,
                (0, 0, 0), 1, cv2.LINE_AA)
    label = np.full((30, 320, 3), 255, np.uint8)
    cv2.putText(label, "arousal (calm -> excited)", (10, 21), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    label = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)  # (320, 30)
    y0 = top + size // 2 - 160
    image[y0:y0 + 320, 4:34] = np.minimum(image[y0:y0 + 320, 4:34], label)
    cv2.putText(image, f"{title}: {len(points):,} songs", (left, 32), font, 0.7, (0, 0, 0), 1, cv2.LINE_AA)

    # Dots: blend each colour in with some transparency so dense regions show as denser.
    radius = 2 if len(points) > 2000 else 4
    layer = image.copy()
    for index in np.argsort(np.bincount(emotion, minlength=7)[emotion] * -1, kind="stable"):
        v, a = np.clip(points[index], 0, 1)
        cv2.circle(layer, xy(v, a), radius, COLOURS[EMOTIONS[emotion[index]]], -1, cv2.LINE_AA)
    image = cv2.addWeighted(layer, 0.75, image, 0.25, 0)

    # Anchors: a black-ringed diamond in the emotion's colour, and its name.
    for name in EMOTIONS:
        cx, cy = xy(*ANCHORS[name][:2])
        diamond = np.array([(cx, cy - 9), (cx + 9, cy), (cx, cy + 9), (cx - 9, cy)], np.int32)
        cv2.fillPoly(image, [diamond], COLOURS[name], cv2.LINE_AA)
        cv2.polylines(image, [diamond], True, (0, 0, 0), 2, cv2.LINE_AA)
        offset = (12, -10) if name not in ("afraid", "disgusted") else ((-80, 22) if name == "afraid" else (12, 20))
        cv2.putText(image, name, (cx + offset[0], cy + offset[1]), font, 0.55, (0, 0, 0), 2, cv2.LINE_AA)

    # Legend.
    lx = left + size + 25
    cv2.putText(image, "nearest emotion", (lx, top + 15), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i, name in enumerate(EMOTIONS):
        ly = top + 45 + 28 * i
        cv2.circle(image, (lx + 8, ly - 5), 7, COLOURS[name], -1, cv2.LINE_AA)
        text = name if counts is None else f"{name} {counts.get(name, 0):,}"
        cv2.putText(image, text, (lx + 24, ly), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ly = top + 45 + 28 * len(EMOTIONS) + 10
    diamond = np.array([(lx + 8, ly - 14), (lx + 16, ly - 6), (lx + 8, ly + 2), (lx, ly - 6)], np.int32)
    cv2.polylines(image, [diamond], True, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(image, "emotion anchor", (lx + 24, ly), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def save_scatter(path: str | Path, points: np.ndarray, emotion: np.ndarray, **kwargs) -> Path:
    """Draw :func:`draw_scatter` and write it as a PNG; returns the path."""
    import cv2

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise LibraryError(f"{path}: the scatter is written as PNG; give a file name ending in .png")
    if not path.parent.is_dir():
        raise LibraryError(f"{path}: folder {path.parent} does not exist; create it or choose another --png")
    image = draw_scatter(points, emotion, **kwargs)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise LibraryError(f"{path}: could not write the PNG (permissions? disk full?)")
    return path
