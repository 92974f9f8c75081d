"""Turn an emotional state into a playlist.

The steps are kept apart so that later strategies (match, lift, calm, goal) only change the first one:

1. choose a target (valence, arousal) point -- today: the mood itself ("match");
2. take the library's songs nearest to the target;
3. keep a varied selection (at most ``max_per_artist`` songs per artist, no song twice) and say why each
   was picked.
"""

from __future__ import annotations

import math

from moodtune.emotions import EMOTIONS, check_probabilities, one_hot, parse_emotion, to_point
from moodtune.errors import LibraryError, ParameterError
from moodtune.music.catalogue import name_key
from moodtune.music.library import Library, Song
from moodtune.recommend.playlist import Pick, Playlist, describe, reason

__all__ = ["Pick", "Playlist", "describe", "recommend"]


def recommend(
    *,
    probabilities=None,
    emotion: str | None = None,
    n: int = 10,
    library: Library | None = None,
    max_per_artist: int | None = 2,
) -> Playlist:
    """Recommend songs that match an emotional state.

    Parameters
    ----------
    probabilities : array-like, shape (7,), optional
        Probabilities of the emotions in :data:`moodtune.emotions.EMOTIONS` order (e.g. a face model's
        output). Give this or ``emotion``, not both.
    emotion : str, optional
        An emotion word ("happy", "sadness", "fear" ...).
    n : int
        Number of songs wanted; fewer come back when the library cannot supply them.
    library : Library, optional
        Where the songs come from; None opens the default library for the duration of the call.
    max_per_artist : int or None
        At most this many songs by one artist (artist names compared ignoring case); None for no limit.

    Returns
    -------
    Playlist
        Target point, emotion, and the picks nearest first. The same inputs give the same playlist.

    Raises
    ------
    ParameterError
        If neither or both of ``probabilities`` and ``emotion`` are given, or a value is invalid.
    LibraryError
        If the library cannot be opened or holds no songs.
    """
    if (probabilities is None) == (emotion is None):
        raise ParameterError("give exactly one of probabilities (7 values) or emotion (a word)")
    _check_count("n", n)
    if max_per_artist is not None:
        _check_count("max_per_artist", max_per_artist)

    if emotion is not None:
        label = parse_emotion(emotion)
        target = to_point(one_hot(label))
    else:
        p = check_probabilities(probabilities)
        target = to_point(p)
        # The playlist is named after the strongest emotion, not the anchor nearest the blended point: a
        # 50/50 happy/neutral face lies nearer "surprised" than "happy", and nobody would call it that.
        label = EMOTIONS[max(range(len(p)), key=p.__getitem__)]
    target = (float(target[0]), float(target[1]))

    if library is None:
        with Library() as default:
            return Playlist(target, label, _pick(default, target, label, n, max_per_artist))
    return Playlist(target, label, _pick(library, target, label, n, max_per_artist))


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a whole number of at least 1, got {value!r}")


def _pick(library: Library, target: tuple[float, float], emotion: str, n: int,
          max_per_artist: int | None) -> list[Pick]:
    """The ``n`` nearest songs to ``target`` that keep the artist limit, nearest first."""
    size = len(library)
    if size == 0:
        raise LibraryError(f"music library {library.path} has no songs; delete the file to start again with "
                           "the default catalogue, or choose another --db")
    picks: list[Pick] = []
    per_artist: dict[str, int] = {}
    seen_songs: set[tuple[str, str]] = set()
    # The artist limit may skip candidates, so ask for a few times more than needed and widen the window
    # while that is not enough; it stops at the latest once the whole library has been considered.
    wanted = 4 * n
    considered = 0
    while True:
        candidates = library.nearest(target, n=min(wanted, size))
        for song in candidates[considered:]:
            if _keep(song, per_artist, seen_songs, max_per_artist):
                distance = math.hypot(song.valence - target[0], song.arousal - target[1])
                picks.append(Pick(song, distance, reason(song, distance, emotion)))
                if len(picks) == n:
                    return picks
        considered = len(candidates)
        if considered >= size:
            return picks
        wanted *= 4


def _keep(song: Song, per_artist: dict[str, int], seen_songs: set[tuple[str, str]],
          max_per_artist: int | None) -> bool:
    """Whether a candidate still fits the playlist; records it if so."""
    artist = name_key(song.artist)
    if max_per_artist is not None and per_artist.get(artist, 0) >= max_per_artist:
        return False
    # The same recording can be in the library twice (say a catalogue song and a user's own file).
    song_key = (artist, name_key(song.title))
    if song_key in seen_songs:
        return False
    per_artist[artist] = per_artist.get(artist, 0) + 1
    seen_songs.add(song_key)
    return True
