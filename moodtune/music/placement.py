"""Where an imported song sits in the circumplex, and how we know.

A song the user brings is placed by the first of these that works, in this order (the issue's):

1. ``catalogue``: its normalised artist + title (:func:`moodtune.music.catalogue.name_key`) matches a song already
   in the library from a known catalogue (PMEmo listener ratings, Deezer tag projections): that song's position.
2. ``lyrics``: a ``.lrc`` or ``.txt`` file beside the audio file with the same stem, scored by
   :func:`moodtune.music.lyrics.score_lyrics` (imported lazily: the importer works without it).
3. ``audio``: the shipped audio model on the file's middle 30 s (:mod:`moodtune.music.audio`; needs librosa).
4. ``artist_mean``: the mean position of the library's other songs by the same artist (not themselves placed by
   an artist mean, so a guess is never averaged into another guess).

Rows of a CSV/JSON file that carry valence and arousal are ``given``; rows with a mood word get the emotion's
anchor (:data:`moodtune.emotions.ANCHORS`, with its dominance) as ``mood``. A song none of these can place is
reported and not imported, rather than parked at the centre where it would pass for a neutral song.

Confidence on [0, 1] says how far to trust the position: ``given`` 1; ``catalogue`` 0.9 for listener ratings and
0.6 for tag projections; ``mood`` 0.5 (a word names a region, not a point); ``lyrics`` the lyrics model's own;
``audio`` the audio model's (how far its probabilities are from 0.5); ``artist_mean`` 0.3 · n / (n + 2) for
n songs by the artist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtune.errors import MoodtuneError
from moodtune.music.catalogue import name_key

#: Provenance values this module writes, in placement order (``given`` and ``mood`` come from import files).
PROVENANCES: tuple[str, ...] = ("given", "mood", "catalogue", "lyrics", "audio", "artist_mean")

CATALOGUE_CONFIDENCE = {"rated": 0.9, "tags": 0.6}
MOOD_CONFIDENCE = 0.5
LYRICS_SUFFIXES = (".lrc", ".txt")

# LRC lines carry [mm:ss.xx] time stamps and [ar:...] header tags; neither is lyrics.
_LRC_TAG = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class Placement:
    """A position and where it came from; all numbers on [0, 1], ``dominance`` None where unknown."""

    valence: float
    arousal: float
    dominance: float | None
    provenance: str
    confidence: float


@dataclass
class Placer:
    """Places songs against a snapshot of the library (its known-catalogue songs and artists' songs).

    Parameters
    ----------
    songs : iterable of (artist, title, valence, arousal, provenance)
        The library's songs. Those with provenance ``rated`` or ``tags`` (the catalogues) can be matched by name;
        all but ``artist_mean`` ones count toward artist means.
    use_audio : bool
        Run the audio model (slow: about a second a song); False skips step 3.
    """

    songs: Iterable[tuple[str, str, float, float, str]] = ()
    use_audio: bool = True
    _known: dict = field(default_factory=dict, init=False)
    _by_artist: dict = field(default_factory=dict, init=False)
    notes: list[str] = field(default_factory=list, init=False)

    def __post_init__(self):
        for artist, title, valence, arousal, provenance in self.songs:
            self.remember(artist, title, valence, arousal, provenance)
        self.songs = ()

    def remember(self, artist: str, title: str, valence: float, arousal: float, provenance: str) -> None:
        """Add a placed song to what later placements can use."""
        key = (name_key(artist), name_key(title))
        if provenance in CATALOGUE_CONFIDENCE:
            # The first (lowest song_id) wins, as the catalogue's own deduplication keeps one row per name.
            self._known.setdefault(key, (valence, arousal, provenance))
        if provenance != "artist_mean" and key[0]:
            self._by_artist.setdefault(key[0], []).append((valence, arousal))

    def place(self, *, artist: str, title: str, path: str | Path | None = None) -> Placement | None:
        """Place one song by catalogue, lyrics, audio, artist mean, in that order; None if none works.

        Raises
        ------
        MoodtuneError
            Only when the audio file is needed and cannot be decoded (the caller reports and skips it).
        """
        key = (name_key(artist), name_key(title))
        known = self._known.get(key)
        if known is not None:
            valence, arousal, kind = known
            return Placement(valence, arousal, None, "catalogue", CATALOGUE_CONFIDENCE[kind])
        audio_error = None
        if path is not None:
            lyrics = self._lyrics(Path(path))
            if lyrics is not None:
                return lyrics
            if self.use_audio:
                try:
                    from moodtune.music.audio import place_audio

                    valence, arousal, confidence = place_audio(path)
                    return Placement(valence, arousal, None, "audio", round(confidence, 4))
                except MoodtuneError as exc:
                    audio_error = exc  # the artist mean may still place it; reported only if nothing does
        points = self._by_artist.get(key[0])
        if points:
            valence, arousal = np.mean(np.asarray(points), axis=0).tolist()
            return Placement(valence, arousal, None, "artist_mean", round(0.3 * len(points) / (len(points) + 2), 4))
        if audio_error is not None:
            raise audio_error
        return None

    def _lyrics(self, path: Path) -> Placement | None:
        text = read_lyrics_beside(path)
        if text is None:
            return None
        try:
            from moodtune.music.lyrics import score_lyrics
        except ImportError:  # the lyrics model is another module's; without it this step is skipped
            return None
        try:
            score = score_lyrics(text)
        except (MoodtuneError, ValueError):  # e.g. no scorable words: fall through to the audio model
            return None
        valence, arousal = float(score.valence), float(score.arousal)
        confidence = float(getattr(score, "confidence", 0.0))
        if not (0 <= valence <= 1 and 0 <= arousal <= 1) or confidence <= 0:
            return None
        dominance = getattr(score, "dominance", None)
        dominance = float(dominance) if dominance is not None and 0 <= dominance <= 1 else None
        return Placement(valence, arousal, dominance, "lyrics", round(min(confidence, 1.0), 4))


def read_lyrics_beside(path: Path) -> str | None:
    """Text of ``song.lrc`` or ``song.txt`` next to ``song.mp3`` (LRC time stamps removed), or None."""
    for suffix in LYRICS_SUFFIXES:
        candidate = path.with_suffix(suffix)
        if candidate != path and candidate.is_file():
            try:
                raw = candidate.read_bytes()
            except OSError:
                continue
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            if suffix == ".lrc":
                text = "\n".join(_LRC_TAG.sub("", line).strip() for line in text.splitlines())
            text = text.strip()
            if text:
                return text
    return None
