"""The original work's song placement (threshold rules on PMEmo) and the improved nearest-anchor placement.

Original rules
--------------
The original work mapped each PMEmo song's (valence, arousal), on a scale centred at 0, to 6 emotions by
thresholds; its code is not available, so the rules are restated here as a table (:data:`RULES`), read top to
bottom, first match wins. ``v`` and ``a`` are centred and stretched to [-1, 1]: ``v = 2 (valence - centre)``.

==========  =====================================  ==================================================
emotion     condition                              why
==========  =====================================  ==================================================
neutral     v² + a² < 0.25²                        near the circumplex's origin
happy       v >= 0, a >= 0, a < v                  pleasant, more pleased than excited
surprised   v >= 0, a >= 0, a >= v                 pleasant and more excited than pleased
angry       v < 0, a >= 0, a >= 0.75 |v|           unpleasant and aroused, arousal the larger part
afraid      v < 0, a >= 0, a < 0.75 |v|            unpleasant and aroused, displeasure the larger part
sad         v < 0, a < 0                           unpleasant and calm
neutral     v >= 0, a < 0                          pleasant and calm: the original's "calm" is neutral
==========  =====================================  ==================================================

The 0.75 split lies between the angles of the angry (139°) and afraid (151°) anchors of
:data:`moodtune.emotions.ANCHORS` (afraid is the more unpleasant, less aroused of the two); the diagonal splits
happy (25°) from surprised (51°). ``disgusted`` gets no rule, as in the original work. A point on a boundary
goes where the table's ``>=`` puts it: (0, 0.5) is surprised, (-0.5, 0.375) angry, and a point exactly 0.25 from
the origin is outside neutral.

Centring PMEmo
--------------
PMEmo's ratings are on [0, 1]; the rules assumed a centred scale. The default subtracts 0.5, the middle of the
raters' scale, which is also how PMEmo's own overview and the lyrics datasets split quadrants (Q1 505, Q2 73,
Q3 132, Q4 57). Centring on the medians (0.625, 0.65) instead would force half the songs to be unpleasant and
half calm: PMEmo is mostly upbeat chart music, and that skew is a fact about the songs, not an offset of the scale.
``centre="median"`` is offered for comparison.

Improved placement
------------------
Every one of the 7 emotions is a target point (its anchor); songs are ranked by distance to it, so no emotion is
ever empty. Angry, afraid and disgusted lie within 0.09 of each other in valence/arousal and differ in dominance
(0.57 vs 0.32 and 0.34). Where a song carries a dominance (here: from the NRC-VAD lexicon over its lyrics, for the
PMEmo songs whose lyrics are in ``lyrics_4q_genius``), it decides among those three (:func:`nearest_emotions`)
and counts in their rankings; a song without one is charged the typical mismatch, so it is neither favoured
nor ruled out. PMEmo has no tags; its lyrics are the only source of dominance.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtune.emotions import ANCHORS, EMOTIONS
from moodtune.errors import LibraryError, ParameterError

#: Radius of "near the centre" on the [-1, 1] scale (0.125 on [0, 1]).
NEUTRAL_RADIUS = 0.25
#: In the unpleasant-aroused quadrant, arousal at least this share of |valence| is angry, less is afraid.
ANGRY_SLOPE = 0.75

# (emotion, condition in words, predicate on centred v, a); first match wins.
RULES: tuple[tuple[str, str, Callable[[float, float], bool]], ...] = (
    ("neutral", "v² + a² < 0.25²", lambda v, a: v * v + a * a < NEUTRAL_RADIUS ** 2),
    ("happy", "v >= 0, a >= 0, a < v", lambda v, a: v >= 0 and a >= 0 and a < v),
    ("surprised", "v >= 0, a >= 0, a >= v", lambda v, a: v >= 0 and a >= 0),
    ("angry", "v < 0, a >= 0, a >= 0.75 |v|", lambda v, a: v < 0 and a >= ANGRY_SLOPE * -v),
    ("afraid", "v < 0, a >= 0, a < 0.75 |v|", lambda v, a: v < 0 and a >= 0),
    ("sad", "v < 0, a < 0", lambda v, a: v < 0 and a < 0),
    ("neutral", "v >= 0, a < 0", lambda v, a: True),
)

#: The emotions the original rules can give (no disgusted), in :data:`EMOTIONS` order.
RULE_EMOTIONS: tuple[str, ...] = tuple(e for e in EMOTIONS if e != "disgusted")

CENTRES = ("half", "median")


def rule_emotion(v: float, a: float) -> str:
    """The original rules' emotion for centred valence ``v`` and arousal ``a`` (each on [-1, 1])."""
    if not (math.isfinite(v) and math.isfinite(a)):
        raise ParameterError(f"valence and arousal must be finite numbers, got {v!r}, {a!r}")
    for emotion, _, test in RULES:
        if test(v, a):
            return emotion
    raise AssertionError("the last rule matches everything")  # pragma: no cover


def centre_values(values: np.ndarray, *, centre: float) -> np.ndarray:
    """[0, 1] ratings -> the rules' [-1, 1] scale with ``centre`` at 0."""
    return 2.0 * (np.asarray(values, dtype=np.float64) - centre)


def apply_rules(valence, arousal, *, centre: str = "half") -> tuple[list[str], tuple[float, float]]:
    """Original-rule emotion of each song, and the (valence, arousal) centre used.

    Parameters
    ----------
    valence, arousal : array-like, shape (N,)
        Ratings on [0, 1].
    centre : {"half", "median"}
        Subtract 0.5 (default, the scale's middle) or each axis's median.
    """
    valence = np.asarray(valence, dtype=np.float64)
    arousal = np.asarray(arousal, dtype=np.float64)
    if centre == "half":
        cv = ca = 0.5
    elif centre == "median":
        cv, ca = float(np.median(valence)), float(np.median(arousal))
    else:
        raise ParameterError(f"centre must be one of {', '.join(CENTRES)}, got {centre!r}")
    v, a = centre_values(valence, centre=cv), centre_values(arousal, centre=ca)
    return [rule_emotion(float(x), float(y)) for x, y in zip(v, a, strict=True)], (cv, ca)


#: The emotions that sit together in valence/arousal and differ in dominance (see moodtune.emotions.ANCHORS).
DOMINANCE_SPLIT = ("afraid", "angry", "disgusted")


def anchor_distances(points: np.ndarray, dominance: np.ndarray) -> np.ndarray:
    """Distance of each song to each emotion's anchor, shape (N, 7) in :data:`EMOTIONS` order.

    Valence/arousal distance, plus for :data:`DOMINANCE_SPLIT` the dominance mismatch. A song with no dominance
    is charged the mean mismatch of the songs that carry one (per anchor), so within one emotion's ranking it is
    neither favoured nor ruled out; with no dominance anywhere all distances are plain valence/arousal.

    Parameters
    ----------
    points : np.ndarray, shape (N, 2)
        Valence, arousal on [0, 1].
    dominance : np.ndarray, shape (N,)
        On [0, 1]; NaN where unknown.
    """
    anchors = np.array([ANCHORS[e] for e in EMOTIONS])
    squared = ((points[:, None, :] - anchors[None, :, :2]) ** 2).sum(axis=2)
    known = np.isfinite(dominance)
    if known.any():
        gap = (dominance[:, None] - anchors[None, :, 2]) ** 2  # NaN rows where unknown
        gap = np.where(known[:, None], gap, gap[known].mean(axis=0)[None, :])
        split = [EMOTIONS.index(e) for e in DOMINANCE_SPLIT]
        squared[:, split] += gap[:, split]
    return np.sqrt(squared)


def nearest_emotions(points: np.ndarray, dominance: np.ndarray) -> list[str]:
    """Each song's emotion under the improved placement: the nearest anchor in valence/arousal, and where that
    is one of :data:`DOMINANCE_SPLIT` and the song carries a dominance, the nearest of those three with dominance
    counted."""
    va = anchor_distances(points, np.full(len(points), math.nan))
    vad = anchor_distances(points, dominance)
    split = [EMOTIONS.index(e) for e in DOMINANCE_SPLIT]
    out = []
    for i, k in enumerate(va.argmin(axis=1)):
        if k in split and math.isfinite(dominance[i]):
            k = split[int(np.argmin(vad[i, split]))]
        out.append(EMOTIONS[k])
    return out


# ---------------------------------------------------------------------------------------------------- PMEmo


@dataclass(frozen=True)
class PmemoSong:
    """One annotated PMEmo song; ``dominance`` is NaN unless its lyrics were found."""

    music_id: str
    title: str
    artist: str
    valence: float
    arousal: float
    dominance: float


def _rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 26)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_pmemo(data: str | Path, *, lyrics: str | Path | None = None) -> list[PmemoSong]:
    """PMEmo's static annotations with titles, plus a lyrics dominance where lyrics are available.

    Parameters
    ----------
    data : str or Path
        The ``pmemo`` folder (``static_annotations.csv``, ``metadata.csv``).
    lyrics : str or Path, optional
        ``lyrics_4q_genius/filtered_dataset_with_lyrics.csv``; its PMEmo rows give dominance via
        :func:`moodtune.music.lyrics.score_lyrics`. None or a missing file: no dominance.

    Raises
    ------
    LibraryError
        If the folder or its files are missing.
    """
    from moodtune.music.lyrics import score_lyrics

    data = Path(data)
    annotations, metadata = data / "static_annotations.csv", data / "metadata.csv"
    for path in (annotations, metadata):
        if not path.is_file():
            raise LibraryError(f"missing {path}: PMEmo is read from ../shared/data/music/pmemo; "
                               "pass --data pointing at that folder")
    names = {r["musicId"]: (r["title"], r["artist"]) for r in _rows(metadata)}
    dominance: dict[str, float] = {}
    if lyrics is not None and Path(lyrics).is_file():
        for r in _rows(Path(lyrics)):
            if r.get("dataset") == "PMEmo2019" and r.get("lyrics"):
                score = score_lyrics(r["lyrics"])
                if score.confidence > 0:
                    dominance[r["song_id_from_src"]] = score.dominance
    songs = []
    for r in _rows(annotations):
        mid = r["musicId"]
        title, artist = names.get(mid, ("?", "?"))
        songs.append(PmemoSong(mid, title, artist, float(r["Valence(mean)"]), float(r["Arousal(mean)"]),
                               dominance.get(mid, math.nan)))
    return songs


@dataclass
class PlacementReport:
    """Songs per emotion under the original rules and under the nearest-anchor placement."""

    centre: tuple[float, float]
    rules: dict[str, int]
    nearest_va: dict[str, int]
    nearest_vad: dict[str, int]
    with_dominance: int
    top: dict[str, list[tuple[PmemoSong, float]]]

    def lines(self) -> list[str]:
        n = sum(self.rules.values())
        out = [f"PMEmo: {n} songs; centre valence {self.centre[0]:.3f}, arousal {self.centre[1]:.3f}; "
               f"{self.with_dominance} with a lyrics dominance",
               "", f"{'emotion':<10} {'rules':>6} {'nearest VA':>11} {'nearest VAD':>12}"]
        for e in EMOTIONS:
            rule = str(self.rules[e]) if e in RULE_EMOTIONS else "-"
            out.append(f"{e:<10} {rule:>6} {self.nearest_va[e]:>11} {self.nearest_vad[e]:>12}")
        out += ["", "Closest songs to each emotion's anchor (ranked by distance; no emotion is empty):"]
        for e in EMOTIONS:
            picks = "; ".join(f"{s.title} — {s.artist} ({d:.3f}{', D' if not math.isnan(s.dominance) else ''})"
                              for s, d in self.top[e])
            out.append(f"  {e:<10} {picks}")
        return out


def place_songs(songs: list[PmemoSong], *, centre: str = "half", top: int = 3) -> PlacementReport:
    """Count songs per emotion under the original rules and the improved placement, and list the closest songs."""
    if not songs:
        raise ParameterError("no songs to place")
    valence = np.array([s.valence for s in songs])
    arousal = np.array([s.arousal for s in songs])
    labels, (cv, ca) = apply_rules(valence, arousal, centre=centre)
    # The anchors are on the raters' scale with neutral at 0.5: shift by the same centre as the rules.
    points = np.column_stack([valence - cv + 0.5, arousal - ca + 0.5])
    dominance = np.array([s.dominance for s in songs])
    d_vad = anchor_distances(points, dominance)

    def counts(names) -> dict[str, int]:
        names = list(names)
        return {e: names.count(e) for e in EMOTIONS}

    ranked = {e: [(songs[i], float(d_vad[i, k])) for i in np.argsort(d_vad[:, k], kind="stable")[:top]]
              for k, e in enumerate(EMOTIONS)}
    return PlacementReport((cv, ca), counts(labels), counts(nearest_emotions(points, np.full(len(songs), math.nan))),
                           counts(nearest_emotions(points, dominance)),
                           int(np.isfinite(dominance).sum()), ranked)
