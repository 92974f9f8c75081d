"""Lyrics -> valence, arousal, dominance, with no training data at run time.

:func:`score_lyrics` is what the library importer calls for ``.lrc``/``.txt`` lyrics found beside audio files.
It cleans the text (LRC timestamps, ``[Chorus]`` markers, punctuation), averages the NRC-VAD scores of the
words it knows (:mod:`moodtune.music.lexicon`) and puts the means on the song scale. Nothing here needs sklearn,
nrclex or VADER.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from moodtune.errors import ParameterError
from moodtune.music.lexicon import coverage_confidence, vad_stats

#: The four quadrants of the circumplex as lyrics datasets name them, in label order.
QUADRANTS: tuple[str, ...] = ("angry", "happy", "relaxed", "sad")

# Means of words are squeezed toward the lexicon's middle (a song mixes pleasant and unpleasant words), so raw
# means of different songs differ by a few hundredths. Each axis is put on the song scale per source, as the
# catalogue does for Deezer: 0.5 + SPREAD * (mean - centre) / scale, clipped to [0, 1]. Centre and scale are the
# median and robust standard deviation (IQR / 1.349) of the raw means over the 1,369 training lyrics of
# lyrics_4q_genius (labels not used); SPREAD 0.15 is about the standard deviation of PMEmo's listener ratings.
_CALIBRATION = {  # axis: (centre, scale)
    "valence": (0.5702, 0.0680),
    "arousal": (0.4437, 0.0501),
    "dominance": (0.4960, 0.0412),
}
_SPREAD = 0.15

_LRC_TAG = re.compile(r"\[(?:\d{1,3}:\d{2}(?:[.:]\d{1,3})?|[a-z]{2,8}:[^\]]*)\]", re.IGNORECASE)  # [01:02.03] [ar:x]
_SECTION = re.compile(r"\[[^\]]*\]")  # [Chorus], [Verse 1: Artist]
_NON_WORD = re.compile(r"[^a-z' ]+")
_QUOTES = re.compile(r"(?<![a-z])'|'(?![a-z])")  # apostrophes not inside a word


@dataclass(frozen=True)
class LyricsScore:
    """Where a song's words place it, each on [0, 1]; ``confidence`` 0 means the text gave nothing to go on."""

    valence: float
    arousal: float
    dominance: float
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def strip_lrc(text: str) -> str:
    """Remove LRC time stamps (``[01:02.50]``) and header tags (``[ar:Artist]``), keeping the sung words."""
    return _LRC_TAG.sub(" ", text)


def clean_lyrics(text: str) -> str:
    """The original pipeline's regex cleaning: drop LRC tags and ``[Section]`` markers, lower-case, keep letters
    and in-word apostrophes, collapse whitespace."""
    text = _SECTION.sub(" ", strip_lrc(text)).lower().replace("\u2019", "'")
    text = _QUOTES.sub(" ", _NON_WORD.sub(" ", text))
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """Whitespace tokens of already cleaned text (the original pipeline's tokenisation)."""
    return text.split()


def _calibrate(axis: str, raw: float) -> float:
    centre, scale = _CALIBRATION[axis]
    return min(1.0, max(0.0, 0.5 + _SPREAD * (raw - centre) / scale))


def score_lyrics(text: str) -> LyricsScore:
    """Valence, arousal and dominance of a song from its lyrics, with a confidence from word coverage.

    Parameters
    ----------
    text : str
        Lyrics as plain text or LRC (time stamps are ignored).

    Returns
    -------
    LyricsScore
        With no known word (empty text, another language) every axis is 0.5 and ``confidence`` is 0.

    Raises
    ------
    ParameterError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ParameterError(f"lyrics must be text (str), got {type(text).__name__}")
    stats = vad_stats(tokenize(clean_lyrics(text)))
    if stats.matched == 0:
        return LyricsScore(0.5, 0.5, 0.5, 0.0)
    return LyricsScore(_calibrate("valence", stats.valence), _calibrate("arousal", stats.arousal),
                       _calibrate("dominance", stats.dominance), coverage_confidence(stats.matched))


def quadrant(valence: float, arousal: float) -> str:
    """The circumplex quadrant of a point on [0, 1] scales, split at 0.5 (the lyrics datasets' own rule)."""
    if valence >= 0.5:
        return "happy" if arousal >= 0.5 else "relaxed"
    return "angry" if arousal >= 0.5 else "sad"
