"""Turn an emotional state into a playlist that matches, lifts or calms it.

1. The mood's position: the probability-weighted mean of the 7 emotions' anchors in valence/arousal (and
   dominance, used where songs carry it).
2. A strategy (:mod:`moodtune.recommend.strategies`) turns it into a path: one target point per song, from
   the mood toward where the listener wants to be.
3. A song is chosen for every step (:mod:`moodtune.recommend.selection`): close to the step, varied (artist
   cap, no recording twice, MMR), nothing from the last sessions, nothing skipped, pulled toward what the
   listener liked, with a share of liked songs. Each pick says why it was chosen.
4. Optionally the playlist is recorded as a session, so feedback can refer to it; :mod:`.export` writes it
   as M3U8, XSPF, JSON or CSV.
"""

from __future__ import annotations

import numpy as np

from moodtune.emotions import EMOTIONS, check_probabilities, one_hot, parse_emotion, to_point
from moodtune.errors import LibraryError, ParameterError
from moodtune.music.library import Library, SongTable
from moodtune.recommend.playlist import Pick, Playlist, describe, reason
from moodtune.recommend.selection import Choice, Feedback, select
from moodtune.recommend.strategies import Strategy, get_strategy

__all__ = ["Pick", "Playlist", "Strategy", "describe", "get_strategy", "recommend"]


def recommend(
    *,
    probabilities=None,
    emotion: str | None = None,
    n: int = 10,
    library: Library | None = None,
    max_per_artist: int | None = 2,
    strategy: str | Strategy = "match",
    goal=None,
    seed: int | None = None,
    avoid_recent: int = 3,
    familiar_share: float = 0.2,
    record: bool = False,
) -> Playlist:
    """Recommend a playlist for an emotional state.

    Parameters
    ----------
    probabilities : array-like, shape (7,), optional
        Probabilities of the emotions in :data:`moodtune.emotions.EMOTIONS` order (e.g. a face model's
        output). Give this or ``emotion``, not both.
    emotion : str, optional
        An emotion word ("happy", "sadness", "fear" ...).
    n : int
        Number of songs wanted; fewer come back when the library cannot supply them (``notes`` says why).
    library : Library, optional
        Where the songs and the listener's history come from; None opens the default library for the call.
    max_per_artist : int or None
        At most this many songs by one artist (names compared ignoring case); None for no limit.
    strategy : str or Strategy
        ``"match"``, ``"lift"``, ``"calm"``, ``"goal"`` (with ``goal``) or ``"goal V,A"``; see
        :mod:`moodtune.recommend.strategies`.
    goal : str or array-like of 2 floats, optional
        The (valence, arousal) point for ``strategy="goal"``, e.g. ``"0.8,0.3"``.
    seed : int, optional
        Varies the choice among about equally fitting songs; the same seed gives the same playlist. None
        (default) adds no randomness: closest first, ties in ``song_id`` order.
    avoid_recent : int
        Leave out songs recommended or played in this many of the latest sessions (0: none), unless nothing
        else is left.
    familiar_share : float
        Share of the playlist, on [0, 1], for songs the listener liked that fit a step.
    record : bool
        Record the playlist as a new session in the library's history (``Playlist.session`` gives its id).

    Returns
    -------
    Playlist
        The mood, the path and the picks in playing order (for ``match``: nearest first). The same inputs,
        seed and history give the same playlist.

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
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ParameterError(f"seed must be a whole number of 0 or more, or None, got {seed!r}")
    if isinstance(avoid_recent, bool) or not isinstance(avoid_recent, int) or avoid_recent < 0:
        raise ParameterError(f"avoid_recent must be a whole number of 0 or more, got {avoid_recent!r}")
    if isinstance(familiar_share, bool) or not isinstance(familiar_share, int | float) or not (
            0 <= familiar_share <= 1):
        raise ParameterError(f"familiar_share must be a number from 0 to 1, got {familiar_share!r}")
    plan = get_strategy(strategy, goal=goal)

    if emotion is not None:
        label = parse_emotion(emotion)
        p = one_hot(label)
    else:
        p = check_probabilities(probabilities)
        # The playlist is named after the strongest emotion, not the anchor nearest the blended point: a
        # 50/50 happy/neutral face lies nearer "surprised" than "happy", and nobody would call it that.
        label = EMOTIONS[max(range(len(p)), key=p.__getitem__)]
    valence, arousal, dominance = (float(x) for x in to_point(p, dims=3))
    path = plan.path((valence, arousal), n=n)

    settings = dict(label=label, p=p, plan=plan, path=path, dominance=dominance, max_per_artist=max_per_artist,
                    seed=seed, avoid_recent=avoid_recent, familiar_share=familiar_share, record=record)
    if library is None:
        with Library() as default:
            return _playlist(default, **settings)
    return _playlist(library, **settings)


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a whole number of at least 1, got {value!r}")


def _playlist(library: Library, *, label: str, p: np.ndarray, plan: Strategy, path: np.ndarray, dominance: float,
              max_per_artist: int | None, seed: int | None, avoid_recent: int, familiar_share: float,
              record: bool) -> Playlist:
    table = library.table()
    if len(table) == 0:
        raise LibraryError(f"music library {library.path} has no songs; delete the file to start again with "
                           "the default catalogue, or choose another --db")
    feedback = _feedback(library, table, avoid_recent=avoid_recent)
    choices = select(table, path, max_per_artist=max_per_artist, feedback=feedback, familiar_share=familiar_share,
                     seed=seed, dominance=dominance)
    moves = bool(np.any(path != path[0]))
    if not moves:
        # Every step has the same target, so playing order is free: nearest first reads best.
        choices = sorted(choices, key=lambda c: (c.distance, c.row))
    picks = []
    for position, choice in enumerate(choices):
        step = choice.step + 1 if moves else position + 1
        song = table.songs[choice.row]
        why = reason(song, choice.distance, label, step=step, steps=len(path), toward=plan.toward if moves else None,
                     familiar=choice.familiar, liked_nearby=choice.liked_nearby, repeated=choice.repeated)
        point = path[choice.step]
        picks.append(Pick(song, choice.distance, why, step, (float(point[0]), float(point[1])), choice.familiar))

    session = None
    if record:
        session = library.start_session(emotion=label, probabilities=p, strategy=plan.spec, target=path[0],
                                        songs=[(pick.song.song_id, pick.step, pick.reason) for pick in picks])
    return Playlist(
        target=(float(path[0][0]), float(path[0][1])), emotion=label, picks=picks, strategy=plan.spec,
        path=tuple((float(v), float(a)) for v, a in path), session=session,
        notes=_notes(len(path), choices, table, feedback, max_per_artist))


def _feedback(library: Library, table: SongTable, *, avoid_recent: int) -> Feedback:
    """The library's history as table rows (songs no longer in the library are ignored)."""
    preferences = library.preferences()

    def rows(song_ids) -> np.ndarray:
        return np.array(sorted(table.rows[s] for s in song_ids if s in table.rows), dtype=np.intp)

    return Feedback(liked=rows(s for s, kind in preferences.items() if kind == "like"),
                    skipped=rows(s for s, kind in preferences.items() if kind == "skip"),
                    recent=rows(library.recent_songs(sessions=avoid_recent)))


def _notes(wanted: int, choices: list[Choice], table: SongTable, feedback: Feedback,
           max_per_artist: int | None) -> tuple[str, ...]:
    """What the listener should know about a playlist: why it is short, why songs repeat."""
    notes = []
    if len(choices) < wanted:
        why = []
        if len(table) < wanted:
            why.append(f"the library holds only {len(table)} song{'s' if len(table) != 1 else ''}")
        if feedback.skipped.size:
            why.append(f"{feedback.skipped.size} skipped song{'s are' if feedback.skipped.size != 1 else ' is'} "
                       "left out")
        if max_per_artist is not None:
            why.append(f"at most {max_per_artist} per artist")
        why.append("each recording once")
        fix = "add songs to the library" + (", or allow more songs per artist" if max_per_artist is not None else "")
        notes.append(f"only {len(choices)} of {wanted} songs: {', '.join(why)}; {fix}")
    repeated = sum(c.repeated for c in choices)
    if repeated:
        notes.append(f"{repeated} song{'s come' if repeated != 1 else ' comes'} from your last sessions: the library "
                     "has too few others")
    return tuple(notes)
