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


def reason(song: Song, distance: float, emotion: str, *, step: int | None = None, steps: int | None = None,
           toward: str | None = None, familiar: bool = False, liked_nearby: bool = False,
           repeated: bool = False) -> str:
    """Why a song was picked, as one sentence.

    Parameters
    ----------
    song : Song
    distance : float
        From the song to the target point of its step.
    emotion : str
        The listener's emotion, where the playlist starts.
    step, steps : int, optional
        1-based step and number of steps, for playlists that move (``toward`` given).
    toward : str, optional
        Where the playlist goes ("calm"); None for a playlist that stays with the mood.
    familiar : bool
        The listener liked this very song.
    liked_nearby : bool
        Songs the listener liked lie close to it, which helped it in.
    repeated : bool
        It was played in a recent session, and nothing else was left to choose.

    Examples
    --------
    >>> reason(Song("x:1", "T", "A", 0.81, 0.70, None, "x", "rated", None), 0.05, "happy")
    'bright and energetic (valence 0.81, arousal 0.70) — close to your happy mood'
    >>> reason(Song("x:2", "T", "A", 0.62, 0.33, None, "x", "rated", None), 0.02, "sad",
    ...        step=3, steps=10, toward="calm")
    'bright and calm (valence 0.62, arousal 0.33) — step 3 of 10 from sad toward calm'
    """
    where = f"valence {song.valence:.2f}, arousal {song.arousal:.2f}"
    text = f"{describe(song.valence, song.arousal)} ({where}) — "
    if toward is None:
        text += f"{'close to' if distance <= CLOSE else 'the nearest we have to'} your {emotion} mood"
    else:
        text += f"step {step} of {steps} from {emotion} toward {toward}"
        if distance > CLOSE:
            text += " (the nearest we have to this step)"
    if familiar:
        text += "; you liked it"
    elif liked_nearby:
        text += "; near songs you liked"
    if repeated:
        text += "; played recently, but nothing else was left"
    return text


@dataclass(frozen=True)
class Pick:
    """One recommended song, how far it lies from its target point, and why it was chosen.

    Attributes
    ----------
    song : Song
    distance : float
        Distance from the song to ``point`` in (valence, arousal); where the song carries a dominance, the
        gap to the mood's dominance counts too (fully at the first step, fading to nothing at the last).
    reason : str
    step : int
        1-based step of the playlist's path the song was chosen for.
    point : tuple of float, optional
        That step's target (valence, arousal).
    familiar : bool
        A song the listener liked, brought back on purpose.
    """

    song: Song
    distance: float
    reason: str
    step: int = 1
    point: tuple[float, float] | None = None
    familiar: bool = False

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        data = {"song": self.song.to_dict(), "distance": round(float(self.distance), 4), "reason": self.reason,
                "step": self.step, "familiar": self.familiar}
        if self.point is not None:
            data["point"] = _point(self.point)
        return data


def _point(point) -> dict:
    return {"valence": round(float(point[0]), 4), "arousal": round(float(point[1]), 4)}


@dataclass(frozen=True)
class Playlist:
    """Songs chosen for a mood.

    Attributes
    ----------
    target : tuple of float
        The mood's (valence, arousal): where the path starts, and for ``match`` where every song is chosen.
    emotion : str
        The emotion the playlist is for: the word asked for, or the most probable one.
    picks : list of Pick
        In playing order (for ``match``, nearest first).
    strategy : str
        The strategy, as :func:`moodtune.recommend.strategies.get_strategy` reads it.
    path : tuple of (float, float)
        Target point of each step, shape (n, 2) as nested tuples.
    session : int, optional
        The history session it was recorded as; None when not recorded.
    notes : tuple of str
        Things the listener should know, e.g. why fewer songs came back than were asked for.
    """

    target: tuple[float, float]
    emotion: str
    picks: list[Pick] = field(default_factory=list)
    strategy: str = "match"
    path: tuple[tuple[float, float], ...] = ()
    session: int | None = None
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.picks)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return {
            "emotion": self.emotion,
            "target": _point(self.target),
            "strategy": self.strategy,
            "path": [_point(p) for p in self.path],
            "session": self.session,
            "notes": list(self.notes),
            "picks": [pick.to_dict() for pick in self.picks],
        }
