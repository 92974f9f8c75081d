"""The 7 KDEF expressions, words that mean them, and where each sits in valence/arousal space.

All positions are on [0, 1] scales: valence 0 = most unpleasant, 1 = most pleasant; arousal 0 = calmest,
1 = most excited; dominance 0 = most controlled, 1 = most in control (used only where songs carry it).
"""

from __future__ import annotations

import numpy as np

from moodtune.errors import ParameterError

#: Label order used everywhere: model outputs, JSON, CSV columns. Alphabetical, as KDEF lists them.
EMOTIONS: tuple[str, ...] = ("afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised")

# Words from other vocabularies (FER2013/FER+, AffectNet, everyday speech) mapped one to one onto KDEF's.
_SYNONYMS = {
    "fear": "afraid", "fearful": "afraid", "scared": "afraid", "anxious": "afraid",
    "anger": "angry", "mad": "angry",
    "disgust": "disgusted",
    "happiness": "happy", "joy": "happy", "joyful": "happy",
    "calm": "neutral",
    "sadness": "sad", "unhappy": "sad",
    "surprise": "surprised",
}

# Anchor of each emotion: the NRC-VAD lexicon's (Mohammad 2018) valence, arousal, dominance of the emotion
# word itself, pulled 30 % toward the centre (x -> 0.5 + 0.7 (x - 0.5)) because whole songs are rated less
# extremely than single words. "neutral" is the circumplex's origin (Russell 1980), not the word's own score
# (0.47, 0.18), which describes the word "neutral" rather than a neutral state.
# Columns: valence, arousal, dominance. Angry, afraid and disgusted differ mostly in dominance.
ANCHORS: dict[str, tuple[float, float, float]] = {
    "afraid": (0.157, 0.693, 0.322),
    "angry": (0.235, 0.731, 0.573),
    "disgusted": (0.186, 0.691, 0.342),
    "happy": (0.850, 0.664, 0.690),
    "neutral": (0.500, 0.500, 0.500),
    "sad": (0.307, 0.383, 0.254),
    "surprised": (0.699, 0.748, 0.527),
}

_ANCHOR_MATRIX = np.array([ANCHORS[e] for e in EMOTIONS], dtype=np.float64)  # (7, 3)


def parse_emotion(word: str) -> str:
    """Return the KDEF label for ``word`` ("Happiness", "fear", "sad" ...).

    Raises
    ------
    ParameterError
        If the word names none of the 7 emotions.
    """
    key = str(word).strip().lower()
    key = _SYNONYMS.get(key, key)
    if key not in EMOTIONS:
        raise ParameterError(
            f"unknown emotion {word!r}: use one of {', '.join(EMOTIONS)}"
        )
    return key


def check_probabilities(probabilities) -> np.ndarray:
    """Validate 7 probabilities in :data:`EMOTIONS` order and return them as a float array of shape (7,).

    Non-negative values that do not sum to 1 are rescaled; anything else is a :class:`ParameterError`.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (len(EMOTIONS),):
        raise ParameterError(f"expected {len(EMOTIONS)} probabilities in the order {EMOTIONS}, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ParameterError(f"probabilities must be finite, non-negative and not all zero, got {p.tolist()}")
    return p / p.sum()


def one_hot(emotion: str) -> np.ndarray:
    """Probabilities of shape (7,) that put all weight on ``emotion``."""
    p = np.zeros(len(EMOTIONS))
    p[EMOTIONS.index(parse_emotion(emotion))] = 1.0
    return p


def to_point(probabilities, *, dims: int = 2) -> np.ndarray:
    """Probability-weighted position of an emotional state in the circumplex.

    Parameters
    ----------
    probabilities : array-like, shape (7,)
        Probabilities in :data:`EMOTIONS` order.
    dims : {2, 3}
        2 gives (valence, arousal); 3 adds dominance.

    Returns
    -------
    np.ndarray, shape (dims,)
        Each coordinate on [0, 1].
    """
    if dims not in (2, 3):
        raise ParameterError(f"dims must be 2 or 3, got {dims!r}")
    return check_probabilities(probabilities) @ _ANCHOR_MATRIX[:, :dims]


def nearest_emotion(point) -> str:
    """The emotion whose anchor lies closest to a (valence, arousal) point."""
    va = np.asarray(point, dtype=np.float64)[:2]
    return EMOTIONS[int(np.argmin(np.linalg.norm(_ANCHOR_MATRIX[:, :2] - va, axis=1)))]
