"""Bring the user's own music into the library: song lists, playlists and folders of audio files.

What can be imported (:func:`import_path`):

* a **table**, ``.csv`` / ``.tsv`` / ``.json``: one song per row with ``title`` and ``artist`` and either
  ``valence`` and ``arousal`` on [0, 1] (optional ``dominance``), or a ``mood`` word (``happy``, ``sad``, ``fear``
  ... see :func:`moodtune.emotions.parse_emotion`), or neither (then it is placed like a file, see
  :mod:`moodtune.music.placement`); optional ``path`` to a local file. JSON is a list of such objects (or
  ``{"songs": [...]}``). The whole file is checked before anything is imported: one malformed row is a
  :class:`~moodtune.errors.LibraryError` naming the file and line (entry, for JSON), and nothing of that file
  goes in.
* a **playlist**, ``.m3u`` / ``.m3u8``: ``#EXTINF:seconds,Artist - Title`` lines and paths relative to the
  playlist; entries whose file exists are read like files in a folder (tags first, the EXTINF name as fallback).
* a **folder** (searched recursively) or a single file of audio: ``.mp3 .flac .ogg .m4a .wav``. Artist and
  title come from the tags (mutagen), else from a file name ``Artist - Title.mp3``.

Every song gets a stable id: ``user:`` + the first 16 hex digits of the SHA-1 of its normalised artist and title
(:func:`moodtune.music.catalogue.name_key`), or of its resolved path when the artist is unknown. So importing the
same thing twice adds nothing, and a song already present is skipped *before* its audio is analysed.

Interruption and resuming: songs are written in batches (default 100), one transaction each. Stopping an
import (Ctrl-C, a kill, a crash) loses at most the batch in progress, which the transaction rolls back: the
library then holds exactly what it held before that batch, never a half-written one. Running the same import
again resumes: the songs of finished batches are recognised by their ids and skipped, the rest are added.

A file that cannot be read (not audio, truncated, undecodable) is reported with its name and skipped; the
other files go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moodtune.emotions import ANCHORS, parse_emotion
from moodtune.errors import LibraryError, MoodtuneError, ParameterError
from moodtune.music.audio import AUDIO_SUFFIXES
from moodtune.music.catalogue import name_key
from moodtune.music.placement import MOOD_CONFIDENCE, Placement, Placer

TABLE_SUFFIXES = (".csv", ".tsv", ".json")
PLAYLIST_SUFFIXES = (".m3u", ".m3u8")
SOURCE = "user"
BATCH_SIZE = 100

# Column names accepted for each field (compared lower-case, trimmed).
_COLUMNS = {
    "title": ("title", "track", "song", "name", "track_name"),
    "artist": ("artist", "artist_name", "performer"),
    "valence": ("valence",),
    "arousal": ("arousal",),
    "dominance": ("dominance",),
    "mood": ("mood", "emotion"),
    "path": ("path", "file", "location"),
}


@dataclass
class Entry:
    """One song to import, as read from a file, before it is placed.

    ``where`` names its origin for messages (``songs.csv line 4``); ``placement`` is set for rows that carry
    their own position (given values or a mood word).
    """

    title: str
    artist: str
    where: str
    path: Path | None = None
    placement: Placement | None = None
    read_tags: bool = False  # a file whose tags still have to be read (folders and playlists)

    def song_id(self) -> str:
        if self.artist:
            basis = f"{name_key(self.artist)}\x1f{name_key(self.title)}"
        else:  # no artist: the title alone ("Track 01") would merge unrelated files
            basis = f"path\x1f{self.path.resolve() if self.path else self.title}"
        return f"{SOURCE}:{hashlib.sha1(basis.encode('utf-8')).hexdigest()[:16]}"


@dataclass
class ImportReport:
    """What an import did: counts, and one message per skipped item."""

    source: str
    found: int = 0
    added: int = 0
    already: int = 0
    skipped: list[str] = field(default_factory=list)
    provenance: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"source": self.source, "found": self.found, "added": self.added, "already_present": self.already,
                "skipped": self.skipped, "provenance": dict(sorted(self.provenance.items()))}

    def summary(self) -> str:
        how = ", ".join(f"{n} by {kind}" for kind, n in sorted(self.provenance.items()))
        return (f"{self.source}: {self.found} found, {self.added} added" + (f" ({how})" if how else "")
                + f", {self.already} already in the library, {len(self.skipped)} skipped")


# ------------------------------------------------------------------------------------------------ readers


def _number(value, what: str, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (0 <= number <= 1):  # also rejects NaN
        raise LibraryError(f"{where}: {what} must be a number from 0 to 1, got {value!r}; fix the row "
                           "(nothing from this file was imported)")
    return number


def _entry_from_row(row: dict, where: str, base: Path) -> Entry:
    """An Entry from one table row whose keys are already the canonical field names."""
    title = str(row.get("title") or "").strip()
    artist = str(row.get("artist") or "").strip()
    if not title or not artist:
        raise LibraryError(f"{where}: needs both a title and an artist; fix the row (nothing from this file was "
                           "imported)")
    valence = _number(row.get("valence"), "valence", where)
    arousal = _number(row.get("arousal"), "arousal", where)
    dominance = _number(row.get("dominance"), "dominance", where)
    mood = str(row.get("mood") or "").strip()
    placement = None
    if (valence is None) != (arousal is None):
        raise LibraryError(f"{where}: give both valence and arousal, or neither (nothing from this file was "
                           "imported)")
    if valence is not None:
        placement = Placement(valence, arousal, dominance, "given", 1.0)
    elif mood:
        try:
            emotion = parse_emotion(mood)
        except ParameterError as exc:
            raise LibraryError(f"{where}: {exc} (nothing from this file was imported)") from exc
        v, a, d = ANCHORS[emotion]
        placement = Placement(v, a, d, "mood", MOOD_CONFIDENCE)
    path = str(row.get("path") or "").strip()
    return Entry(title, artist, where, path=(base / path) if path else None, placement=placement)


def _canonical(keys, source: Path) -> dict[str, str]:
    """Map a table's own column names to the canonical ones; errors if title or artist is missing."""
    mapping = {}
    for key in keys:
        if key is None:
            continue
        low = str(key).strip().lower()
        for name, aliases in _COLUMNS.items():
            if low in aliases and name not in mapping.values():
                mapping[key] = name
    missing = {"title", "artist"} - set(mapping.values())
    if missing:
        raise LibraryError(f"{source}: no {' or '.join(sorted(missing))} column (columns: {', '.join(map(str, keys))}"
                           "); name them title and artist")
    return mapping


def read_table(path: str | Path) -> list[Entry]:
    """Every row of a CSV, TSV or JSON song list, checked; see the module docstring for the columns.

    Raises
    ------
    LibraryError
        On the first malformed row (file and line named), or an unreadable file.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"{path}: cannot read it as UTF-8 text ({exc})") from exc
    base = path.parent
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LibraryError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}); nothing was imported") from exc
        if isinstance(data, dict):
            data = data.get("songs")
        if not isinstance(data, list):
            raise LibraryError(f"{path}: expected a list of songs (or {{\"songs\": [...]}}); nothing was imported")
        entries = []
        for i, item in enumerate(data, 1):
            if not isinstance(item, dict):
                raise LibraryError(f"{path} entry {i}: expected an object with title and artist, got "
                                   f"{type(item).__name__}; nothing from this file was imported")
            try:
                mapping = _canonical(item.keys(), path)
            except LibraryError:
                raise LibraryError(f"{path} entry {i}: needs both a title and an artist; nothing from this file "
                                   "was imported") from None
            entries.append(_entry_from_row({mapping[k]: v for k, v in item.items() if k in mapping},
                                           f"{path} entry {i}", base))
        return entries
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise LibraryError(f"{path}: empty file; expected a header row with title and artist")
    mapping = _canonical(header, path)
    columns = [mapping.get(h) for h in header]
    entries, line = [], reader.line_num
    for row in reader:
        start, line = line + 1, reader.line_num
        where = f"{path} line {start}"
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not songs
        if len(row) != len(header):
            raise LibraryError(f"{where}: {len(row)} fields where the header has {len(header)}; fix the row "
                               "(nothing from this file was imported)")
        entries.append(_entry_from_row({c: v for c, v in zip(columns, row, strict=True) if c}, where, base))
    return entries


def _split_name(text: str) -> tuple[str, str]:
    """``"Artist - Title"`` → (artist, title); anything else → ("", text)."""
    artist, sep, title = text.partition(" - ")
    if sep and artist.strip() and title.strip():
        return artist.strip(), title.strip()
    return "", text.strip()


def read_playlist(path: str | Path) -> list[Entry]:
    """The entries of an M3U/M3U8 playlist; files that exist are marked to have their tags read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LibraryError(f"{path}: cannot read the playlist ({exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # old .m3u files are often in the system's 8-bit encoding
    entries, extinf = [], None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.upper().startswith("#EXTINF:") and "," in line:
                extinf = line.split(",", 1)[1].strip()
            continue
        where = f"{path} line {number}"
        is_url = "://" in line and not line.lower().startswith("file://")
        target = None if is_url else (path.parent / line.removeprefix("file://"))
        artist, title = _split_name(extinf) if extinf else ("", "")
        if not title:
            artist, title = _split_name(Path(line).stem if not is_url else line.rsplit("/", 1)[-1])
        exists = target is not None and target.is_file()
        entries.append(Entry(title, artist, where, path=target if exists else None, read_tags=exists))
        extinf = None
    return entries


def audio_files(folder: str | Path) -> list[Path]:
    """Audio files under ``folder`` (recursively), sorted by path."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def read_tags(path: str | Path) -> tuple[str, str]:
    """(artist, title) from an audio file's tags; empty strings where a tag is missing.

    Raises
    ------
    LibraryError
        If mutagen cannot parse the file (not audio, or damaged).
    """
    import mutagen

    path = Path(path)
    try:
        audio = mutagen.File(path, easy=True)
    except Exception as exc:  # mutagen raises its own errors, but also struct/EOF errors on damaged files
        raise LibraryError(f"{path}: cannot read it as audio ({type(exc).__name__}: {exc})") from exc
    if audio is None:
        raise LibraryError(f"{path}: not a recognised audio file")
    tags = audio.tags or {}

    def first(*keys) -> str:
        for key in keys:
            try:
                value = tags.get(key)
            except (KeyError, ValueError):
                value = None
            if value is None:
                continue
            value = getattr(value, "text", value)  # an ID3 frame holds its strings in .text
            if isinstance(value, list | tuple):
                value = value[0] if value else ""
            if str(value).strip():
                return str(value).strip()
        return ""

    # Easy keys (ID3 via EasyID3, MP4 via EasyMP4, Vorbis comments); raw ID3 frames for WAV/AIFF.
    return first("artist", "TPE1", "albumartist", "TPE2"), first("title", "TIT2")


def _file_entry(path: Path, where: str, fallback: tuple[str, str] = ("", "")) -> Entry:
    """Tags of a file, else the fallback name (playlist EXTINF), else its file name."""
    artist, title = read_tags(path)
    if not artist or not title:
        f_artist, f_title = fallback if fallback[1] else _split_name(path.stem)
        artist, title = artist or f_artist, title or f_title
    return Entry(title or path.stem, artist, where, path=path)


# ------------------------------------------------------------------------------------------------ import


def read_entries(path: str | Path) -> list[Entry]:
    """What ``path`` holds, as entries (files still to have their tags read are marked ``read_tags``)."""
    path = Path(path)
    if not path.exists():
        raise LibraryError(f"{path}: no such file or folder")
    if path.is_dir():
        return [Entry("", "", str(p), path=p, read_tags=True) for p in audio_files(path)]
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return read_table(path)
    if suffix in PLAYLIST_SUFFIXES:
        return read_playlist(path)
    if suffix in AUDIO_SUFFIXES:
        return [Entry("", "", str(path), path=path, read_tags=True)]
    raise LibraryError(f"{path}: cannot import a {suffix or 'suffix-less'} file; give a .csv, .tsv, .json, "
                       f".m3u/.m3u8, an audio file ({', '.join(AUDIO_SUFFIXES)}) or a folder of them")


def import_path(library, path: str | Path, *, batch_size: int = BATCH_SIZE, use_audio: bool = True,
                progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import a table, playlist, audio file or folder into ``library``.

    Parameters
    ----------
    library : moodtune.music.Library
    path : str or Path
    batch_size : int
        Songs per transaction (see the module docstring on interruption).
    use_audio : bool
        Place songs by the audio model when nothing earlier places them.
    progress : callable(done, total), optional
        Called after each entry.

    Returns
    -------
    ImportReport

    Raises
    ------
    LibraryError
        If ``path`` cannot be imported at all (missing, unknown kind, malformed table: nothing imported).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    entries = read_entries(path)  # a malformed table stops here, before anything is written
    report = ImportReport(str(path), found=len(entries))
    placer = Placer(library.placements(), use_audio=use_audio)
    seen: set[str] = set()
    for start in range(0, len(entries), batch_size):
        rows = []
        for i, entry in enumerate(entries[start:start + batch_size], start + 1):
            row = _prepare(entry, library, placer, seen, report)
            if row is not None:
                rows.append(row)
            if progress:
                progress(i, len(entries))
        if rows:
            report.added += library.add_songs(rows)
    return report


def _prepare(entry: Entry, library, placer: Placer, seen: set[str], report: ImportReport) -> dict | None:
    """The library row for one entry, or None (already present, duplicate, unreadable, unplaceable)."""
    try:
        if entry.read_tags:
            entry = _file_entry(entry.path, entry.where, (entry.artist, entry.title))
        song_id = entry.song_id()
        if song_id in seen or library.existing([song_id]):
            report.already += 1  # imported before (or twice in this source): nothing to do, no audio to read
            return None
        seen.add(song_id)
        placement = entry.placement or placer.place(artist=entry.artist, title=entry.title, path=entry.path)
    except MoodtuneError as exc:
        report.skipped.append(str(exc))
        return None
    if placement is None:
        report.skipped.append(f"{entry.where}: cannot place {entry.artist or '(unknown artist)'} — {entry.title}: "
                              "not in the catalogues, no lyrics or readable audio beside it, and no other songs by "
                              "this artist; add it to a CSV with a mood word or valence/arousal")
        return None
    placer.remember(entry.artist, entry.title, placement.valence, placement.arousal, placement.provenance)
    report.provenance[placement.provenance] += 1
    return {"song_id": song_id, "title": entry.title, "artist": entry.artist or "Unknown artist",
            "valence": round(placement.valence, 4), "arousal": round(placement.arousal, 4),
            "dominance": None if placement.dominance is None else round(placement.dominance, 4),
            "source": SOURCE, "source_id": song_id.split(":", 1)[1], "provenance": placement.provenance,
            "confidence": placement.confidence,
            "path": str(entry.path.resolve()) if entry.path is not None else None}

