"""What a recommendation returns: a playlist of picks, each with a reason a person can read."""

from __future__ import annotations

from dataclasses import dataclass, field

from moodtune.music.library import Song

# Each axis is split at 0.4 and 0.6 so that the emotion anchors read as expected: neutral (0.50, 0.50) is
# "mixed and moderate", happy (0.85, 0.66) "bright and energetic", sad (0.31, 0.38) "dark and calm".
_LOW, _HIGH = 0.4, 0.6
_VALENCE_WORDS = ("dark", "mixed", "bright")
_AROUSAL_WORDS = ("calm", "moderate", "energetic")

#: Up to this distance a song is described as close to the mood; beyond it, honestly, as the nearest we have.
CLOSE = 0.1


def _band(value: float) -> int:
    return 0 if value < _LOW else 2 if value > _HIGH else 1


def describe(valence: float, arousal: float) -> str:
    """Two words for a position, e.g. ``"bright and energetic"``."""
    return f"{_VALENCE_WORDS[_band(valence)]} and {_AROUSAL_WORDS[_band(arousal)]}"


def reason(song: Song, distance: float, emotion: str) -> str:
    """Why a song was picked, as one sentence.

    Examples
    --------
    >>> reason(Song("x:1", "T", "A", 0.81, 0.70, None, "x", "rated", None), 0.05, "happy")
    'bright and energetic (valence 0.81, arousal 0.70) — close to your happy mood'
    """
    fit = "close to" if distance <= CLOSE else "the nearest we have to"
    where = f"valence {song.valence:.2f}, arousal {song.arousal:.2f}"
    return f"{describe(song.valence, song.arousal)} ({where}) — {fit} your {emotion} mood"


@dataclass(frozen=True)
class Pick:
    """One recommended song, how far it lies from the target, and why it was chosen."""

    song: Song
    distance: float
    reason: str

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return {"song": self.song.to_dict(), "distance": round(float(self.distance), 4),
                "reason": self.reason}


@dataclass(frozen=True)
class Playlist:
    """Songs chosen for a mood.

    Attributes
    ----------
    target : tuple of float
        The (valence, arousal) point the songs were chosen around.
    emotion : str
        The emotion the playlist is for: the word asked for, or the most probable one.
    picks : list of Pick
        Nearest first.
    """

    target: tuple[float, float]
    emotion: str
    picks: list[Pick] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.picks)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return {
            "emotion": self.emotion,
            "target": {"valence": round(float(self.target[0]), 4),
                       "arousal": round(float(self.target[1]), 4)},
            "picks": [pick.to_dict() for pick in self.picks],
        }
