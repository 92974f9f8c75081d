"""Choosing a song for every step of a path: close to the step, varied, and shaped by the listener's feedback.

Steps are filled in order. For each, the :data:`POOL` allowed songs nearest to the step's point are found
through the grid index (no scan of the library, no full sort), and of those the song with the highest MMR
score (maximal marginal relevance, Carbonell & Goldstein 1998) is taken::

    score = LAMBDA * (-distance + feedback + jitter) + (1 - LAMBDA) * novelty

* ``distance``: from the song to the step's point in (valence, arousal); where both the song and the mood
  carry a dominance, their difference counts too, with a weight that fades from 1 at the first step to 0 at
  the last (the path's destination says nothing about dominance).
* ``novelty``: distance to the nearest song already picked, capped at :data:`NOVELTY_CAP`, so near-copies
  of a pick lose out but far-away songs gain nothing for being far.
* ``feedback``: songs near a liked song (within :data:`FEEDBACK_RADIUS`, fading with distance) or by a liked
  artist are pulled in; near a skipped song or by a skipped artist, pushed out.
* ``jitter``: only with a seed, a fixed pseudo-random bonus below :data:`JITTER` per (seed, step, song), so
  different seeds give different, equally fitting playlists and the same seed the same one.

Hard rules: at most ``max_per_artist`` songs per artist; one recording once; skipped songs never; songs of
recent sessions only when nothing else at all is left. With a ``familiar_share``, that share of the steps
first goes to liked songs that lie close to a step (recent or not: hearing them again is the point).

Feedback, novelty and jitter reorder the pool; they do not reach beyond it. In a small library the pool is
a wide neighbourhood, so a liked song pulls in songs noticeably farther away; in a library of a million songs
hundreds of songs fit each step almost exactly, and feedback decides among those. Either way one step costs
about the same: scoring a million songs with feedback would take seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from moodtune.music.index import WHOLE_SQUARE
from moodtune.music.library import SongTable
from moodtune.recommend.playlist import CLOSE

#: Candidates per step: the allowed songs nearest to the step's point, re-ranked by MMR.
POOL = 200
#: Weight of fit against novelty in the MMR score.
LAMBDA = 0.75
#: Beyond this distance from every pick a song counts as entirely new.
NOVELTY_CAP = 0.05
#: Largest random bonus with a seed: enough to reorder songs about equally close, not to pull in far ones.
JITTER = 0.01
#: Reach of a liked or skipped song in (valence, arousal); its pull or push fades linearly to 0 there.
FEEDBACK_RADIUS = 0.08
#: Bonus next to a liked song, and for any song by a liked artist (in distance units: "this much closer").
LIKE_PULL, LIKE_ARTIST = 0.03, 0.02
#: Penalty next to a skipped song, and for any song by a skipped artist.
SKIP_PUSH, SKIP_ARTIST = 0.05, 0.03


@dataclass(frozen=True)
class Feedback:
    """What the history says, as rows of a :class:`SongTable`.

    Attributes
    ----------
    liked, skipped : np.ndarray of int
        Songs whose latest like-or-skip is a like, or a skip.
    recent : np.ndarray of int
        Songs recommended or played in the last sessions.
    """

    liked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


@dataclass(frozen=True)
class Choice:
    """The song chosen for one step.

    Attributes
    ----------
    row : int
        Row in the SongTable.
    step : int
        0-based step.
    distance : float
        Distance to the step's point in (valence, arousal), with the weighted dominance gap where the song
        and the mood both carry a dominance.
    familiar : bool
        A song the listener liked.
    liked_nearby : bool
        Feedback pulled it in (near a liked song or by a liked artist).
    repeated : bool
        From a recent session, taken because nothing else was left.
    """

    row: int
    step: int
    distance: float
    familiar: bool = False
    liked_nearby: bool = False
    repeated: bool = False


def select(table: SongTable, path, *, max_per_artist: int | None = 2, feedback: Feedback | None = None,
           familiar_share: float = 0.0, seed: int | None = None, dominance: float | None = None) -> list[Choice]:
    """Choose one song per step of ``path``.

    Parameters
    ----------
    table : SongTable
        The library's songs.
    path : array-like, shape (n, 2)
        Target (valence, arousal) of each step.
    max_per_artist : int or None
        At most this many songs by one artist; None for no limit.
    feedback : Feedback, optional
        Liked, skipped and recent songs; None for none.
    familiar_share : float
        Share of the steps (rounded) to give to liked songs close to a step.
    seed : int, optional
        Seed of the jitter; None for none, so ties go to the lower row (``song_id`` order).
    dominance : float, optional
        The mood's dominance, compared with songs that carry one.

    Returns
    -------
    list of Choice
        In step order. Shorter than ``path`` when the rules leave no song for the remaining steps.
    """
    path = np.asarray(path, dtype=np.float64).reshape(-1, 2)
    chooser = _Chooser(table, path, max_per_artist, feedback or Feedback(), seed, dominance)
    choices = {c.step: c for c in chooser.familiar(math.floor(familiar_share * len(path) + 0.5))}
    for step in range(len(path)):
        if step not in choices:
            choice = chooser.best(step)
            if choice is None:  # nothing left that the rules allow; later steps would find nothing either
                break
            choices[step] = choice
    return [choices[step] for step in sorted(choices)]


class _Chooser:
    """The state of one selection: what is taken, which artists are full, and the score's parts."""

    def __init__(self, table: SongTable, path: np.ndarray, max_per_artist: int | None, feedback: Feedback,
                 seed: int | None, dominance: float | None):
        self.table, self.path, self.cap = table, path, max_per_artist
        size = len(table)
        self.banned = np.zeros(size, dtype=bool)  # taken or skipped: never
        self.banned[feedback.skipped] = True
        self.recent = np.zeros(size, dtype=bool)
        self.recent[feedback.recent] = True
        self.blocked = self.banned | self.recent  # not in the first search of a step
        self.liked = np.zeros(size, dtype=bool)
        self.liked[feedback.liked] = True
        self.liked_rows = np.asarray(feedback.liked, dtype=np.intp)
        self.liked_points = table.positions[feedback.liked]
        self.skipped_points = table.positions[feedback.skipped]
        # Artist and recording codes are below the number of songs, so a boolean array of that size looks any
        # code up in one step (np.isin would sort on every query).
        self.liked_artists = np.zeros(size, dtype=bool)
        self.liked_artists[table.artists[feedback.liked]] = True
        self.skipped_artists = np.zeros(size, dtype=bool)
        self.skipped_artists[table.artists[feedback.skipped]] = True
        self.full_artists = np.zeros(size, dtype=bool)
        self.used_recordings = np.zeros(size, dtype=bool)
        self.per_artist: dict[int, int] = {}
        self.picked: list[np.ndarray] = []
        self.key = None if seed is None else int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])
        # Dominance counts fully at the first step and not at all at the last: the destination has none.
        self.dominance = dominance if dominance is not None and table.has_dominance else None
        span = np.linalg.norm(path - path[0], axis=1)
        self.dominance_weight = 1 - span / span.max() if span.max() > 0 else np.ones(len(path))
        # The radius that would hold the pool if songs were spread evenly; the search doubles it as needed.
        self.first_radius = min(math.sqrt(POOL / (math.pi * max(size, 1))), WHOLE_SQUARE)

    # ------------------------------------------------------------------------------------------ rules

    def _allowed(self, rows: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        keep = ~blocked[rows]
        if self.picked:
            keep &= ~self.full_artists[self.table.artists[rows]]
            keep &= ~self.used_recordings[self.table.recordings[rows]]
        return keep

    def _take(self, row: int) -> None:
        self.banned[row] = self.blocked[row] = True
        artist = int(self.table.artists[row])
        self.per_artist[artist] = self.per_artist.get(artist, 0) + 1
        if self.cap is not None and self.per_artist[artist] >= self.cap:
            self.full_artists[artist] = True
        self.used_recordings[self.table.recordings[row]] = True
        self.picked.append(self.table.positions[row])

    # ------------------------------------------------------------------------------------------ familiar songs

    def familiar(self, count: int) -> list[Choice]:
        """Up to ``count`` liked songs, each at the free step it lies closest to (within CLOSE)."""
        if count <= 0 or not self.liked_rows.size:
            return []
        # (liked song, step) pairs, closest first; ties by row, then step, so the result is deterministic.
        distances = np.linalg.norm(self.liked_points[:, None, :] - self.path[None, :, :], axis=2)  # (L, n)
        songs, steps = np.meshgrid(np.arange(len(self.liked_rows)), np.arange(len(self.path)), indexing="ij")
        order = np.lexsort((steps.ravel(), self.liked_rows[songs.ravel()], distances.ravel()))
        chosen: list[Choice] = []
        used_steps: set[int] = set()
        for flat in order:
            song, step = divmod(int(flat), len(self.path))
            distance, row = float(distances[song, step]), int(self.liked_rows[song])
            if distance > CLOSE or len(chosen) == count:
                break
            if step in used_steps or not self._allowed(np.array([row]), self.banned)[0]:
                continue
            self._take(row)
            used_steps.add(step)
            chosen.append(Choice(row, step, distance, familiar=True, liked_nearby=True))
        return chosen

    # ------------------------------------------------------------------------------------------ the best song

    def best(self, step: int) -> Choice | None:
        """The best allowed song for ``step``; songs of recent sessions only if no other is left."""
        found = self._search(step, self.blocked)
        repeated = False
        if found is None and self.recent.any():
            found, repeated = self._search(step, self.banned), True
        if found is None:
            return None
        row, distance, liked_nearby = found
        self._take(row)
        return Choice(row, step, distance, familiar=bool(self.liked[row]), liked_nearby=liked_nearby,
                      repeated=repeated and bool(self.recent[row]))

    def pool(self, point: np.ndarray, blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (at most) POOL allowed songs nearest to ``point``: (rows, distances), nearest first, equal
        distances in row order."""
        radius = self.first_radius
        while True:
            rows, distances = self.table.grid.within(point, radius)
            keep = self._allowed(rows, blocked)
            # Once the disc holds a full pool, no allowed song outside it is nearer than those inside.
            if keep.sum() >= POOL or radius >= WHOLE_SQUARE:
                break
            radius = min(2 * radius, WHOLE_SQUARE)
        rows, distances = rows[keep], distances[keep]
        nearest = np.lexsort((rows, distances))[:POOL]
        return rows[nearest], distances[nearest]

    def _search(self, step: int, blocked: np.ndarray) -> tuple[int, float, bool] | None:
        """(row, distance, pulled in by feedback) of the best song in the step's pool; None if none is allowed."""
        rows, distances = self.pool(self.path[step], blocked)
        if not rows.size:
            return None
        scores, fit, liked_nearby = self._score(step, rows, distances, float(distances[-1]))
        best = int(np.argmax(scores))  # the first of equal scores: the nearer, or the lower row
        return int(rows[best]), float(fit[best]), bool(liked_nearby[best])

    def _score(self, step: int, rows: np.ndarray, distances: np.ndarray,
               radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """MMR scores of the candidate ``rows`` (all within ``radius`` of the step's point), their distances
        with dominance, and whether feedback pulled each in; each of shape (M,)."""
        fit = distances
        weight = self.dominance_weight[step]
        if self.dominance is not None and weight > 0:
            gap = self.table.dominance[rows] - self.dominance
            fit = np.where(np.isnan(gap), distances, np.sqrt(distances**2 + weight * np.nan_to_num(gap) ** 2))
        pull, liked_nearby = self._feedback(rows, self.path[step], radius)
        jitter = 0.0 if self.key is None else JITTER * _uniform(self.key, step, rows)
        if self.picked:
            picked = np.array(self.picked)  # (k, 2)
            gaps = np.linalg.norm(self.table.positions[rows][:, None, :] - picked[None, :, :], axis=2)
            novelty = np.minimum(gaps.min(axis=1), NOVELTY_CAP)
        else:
            novelty = NOVELTY_CAP
        return LAMBDA * (-fit + pull + jitter) + (1 - LAMBDA) * novelty, fit, liked_nearby

    def _feedback(self, rows: np.ndarray, point: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Pull of liked and push of skipped songs on ``rows``: (bonus, pulled-in flags), shape (M,) each."""
        pull = self._effect(rows, point, radius, self.liked_points, self.liked_artists, LIKE_PULL, LIKE_ARTIST)
        push = self._effect(rows, point, radius, self.skipped_points, self.skipped_artists, SKIP_PUSH, SKIP_ARTIST)
        return pull - push, pull > 0

    def _effect(self, rows, point, radius, points, artists, near: float, same_artist: float) -> np.ndarray:
        """``near`` times closeness to the nearest of ``points``, plus ``same_artist`` for their artists."""
        effect = np.zeros(len(rows))
        if not len(points):  # no feedback of this kind: no artists either
            return effect
        # Only feedback songs that can reach a candidate: within radius + FEEDBACK_RADIUS of the point.
        points = points[np.hypot(points[:, 0] - point[0], points[:, 1] - point[1]) <= radius + FEEDBACK_RADIUS]
        if len(points):
            songs = self.table.positions[rows]
            gaps = np.hypot(songs[:, 0, None] - points[None, :, 0], songs[:, 1, None] - points[None, :, 1])  # (M, F)
            effect += near * np.clip(1 - gaps.min(axis=1) / FEEDBACK_RADIUS, 0, None)
        return effect + same_artist * artists[self.table.artists[rows]]


_MASK64 = (1 << 64) - 1


def _uniform(key: int, step: int, rows: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per (key, step, row): splitmix64 of the three.

    Unlike drawing from a generator, a song's number does not depend on which other songs were looked at,
    so widening the search never changes the answer.
    """
    salt = np.uint64((key + (step + 1) * 0xD1B54A32D192ED03) & _MASK64)
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + salt
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
