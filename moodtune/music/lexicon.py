"""Word-level affect lexicons: valence, arousal and dominance of text with no training.

The run-time scorer uses only the NRC-VAD lexicon (Mohammad, ACL 2018), shipped as ``moodtune/data/nrc_vad.csv``
(see ``nrc_vad_ATTRIBUTION.md``; free for research and non-commercial use). NRC EmoLex (via the ``nrclex`` wheel)
and VADER (``vaderSentiment``) are optional: they add features for the lyrics benchmark and need the ``lyrics``
extra.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from moodtune.errors import MoodtuneError

LYRICS_EXTRA = "pip install -e '.[lyrics]'"

# Words that flip the valence of the next few words. Kept short on purpose: a long list (e.g. "hardly", "without")
# flips as many words wrongly as rightly in song lyrics.
NEGATIONS = frozenset({"not", "no", "never", "nothing", "nobody", "nowhere", "neither", "nor", "cannot",
                       "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "weren't", "won't", "wouldn't",
                       "can't", "couldn't", "shouldn't", "ain't", "dont", "cant", "wont", "aint", "didnt", "isnt"})
#: How many words after a negation have their valence flipped (v -> 1 - v).
NEGATION_WINDOW = 3

#: EmoLex categories, in the order :func:`emolex_proportions` returns them.
EMOLEX_CATEGORIES = ("anger", "anticipation", "disgust", "fear", "joy", "negative", "positive", "sadness",
                     "surprise", "trust")


@lru_cache(maxsize=1)
def nrc_vad() -> dict[str, tuple[float, float, float]]:
    """The NRC-VAD lexicon: word -> (valence, arousal, dominance), each on [0, 1]. Single words only."""
    text = resources.files("moodtune").joinpath("data/nrc_vad.csv").read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    # Multi-word entries ("apple juice") can never match a whitespace token, so they are left out.
    return {word: (float(v), float(a), float(d)) for word, v, a, d in reader if " " not in word}


@dataclass(frozen=True)
class VadStats:
    """Mean NRC-VAD scores of the words of a text that the lexicon knows.

    ``matched`` counts the words found in the lexicon, ``words`` all words. With no match the means are 0.5
    (the middle of each scale).
    """

    valence: float
    arousal: float
    dominance: float
    matched: int
    words: int


def vad_stats(tokens: list[str]) -> VadStats:
    """Mean valence, arousal and dominance of ``tokens`` (lower-case words), with simple negation.

    A word within :data:`NEGATION_WINDOW` words after a negation gets valence ``1 - v``: "not happy" reads as
    unpleasant. Arousal and dominance are left as they are, since "not angry" is not calm.
    """
    lexicon = nrc_vad()
    total = np.zeros(3)
    matched = 0
    negated_until = -1
    for i, token in enumerate(tokens):
        if token in NEGATIONS:
            negated_until = i + NEGATION_WINDOW
            continue
        scores = lexicon.get(token)
        if scores is None:
            continue
        v, a, d = scores
        total += (1.0 - v if i <= negated_until else v, a, d)
        matched += 1
    if matched == 0:
        return VadStats(0.5, 0.5, 0.5, 0, len(tokens))
    v, a, d = (total / matched).tolist()
    return VadStats(v, a, d, matched, len(tokens))


def coverage_confidence(matched: int, *, half: float = 20.0) -> float:
    """Confidence in [0, 1) from the number of matched words: ``matched / (matched + half)``.

    A mean of n noisy word scores steadies as n grows; with ``half`` = 20, twenty matched words give 0.5 and a
    typical song (about 80 matched words) about 0.8.
    """
    return 0.0 if matched <= 0 else matched / (matched + half)


# ------------------------------------------------------------------------------ optional lexicons (lyrics extra)


@lru_cache(maxsize=1)
def _emolex() -> dict[str, list[str]]:
    try:
        from nrclex import NRCLex
    except ImportError:
        raise MoodtuneError(f"NRC EmoLex needs the nrclex package: {LYRICS_EXTRA}") from None
    # load_token_list reads the JSON lexicon inside the wheel; nothing is downloaded (no NLTK/TextBlob corpora).
    probe = NRCLex()
    probe.load_token_list([])
    return probe.__lexicon__


def emolex_proportions(tokens: list[str]) -> np.ndarray:
    """Share of ``tokens`` tagged with each EmoLex category, in :data:`EMOLEX_CATEGORIES` order, shape (10,)."""
    lexicon = _emolex()
    counts = dict.fromkeys(EMOLEX_CATEGORIES, 0)
    for token in tokens:
        for category in lexicon.get(token, ()):
            if category in counts:
                counts[category] += 1
    n = max(len(tokens), 1)
    return np.array([counts[c] / n for c in EMOLEX_CATEGORIES])


@lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise MoodtuneError(f"VADER needs the vaderSentiment package: {LYRICS_EXTRA}") from None
    return SentimentIntensityAnalyzer()


def vader_scores(text: str) -> np.ndarray:
    """VADER's (neg, neu, pos, compound) for ``text``, shape (4,). Long texts are scored in 400-word pieces
    and averaged, since VADER's compound saturates at +-1 on whole songs."""
    words = text.split()
    pieces = [" ".join(words[i:i + 400]) for i in range(0, len(words), 400)] or [""]
    analyzer = _vader()
    scores = [analyzer.polarity_scores(p) for p in pieces]
    return np.array([[s["neg"], s["neu"], s["pos"], s["compound"]] for s in scores]).mean(axis=0)


def lexicon_features(tokens: list[str], text: str) -> np.ndarray:
    """All lexicon features of one text for the benchmark: NRC-VAD (3), log matched count, EmoLex (10),
    VADER (4). Needs the ``lyrics`` extra."""
    s = vad_stats(tokens)
    return np.concatenate([[s.valence, s.arousal, s.dominance, math.log1p(s.matched)],
                           emolex_proportions(tokens), vader_scores(text)])
