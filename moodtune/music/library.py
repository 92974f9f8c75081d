"""The music library: an SQLite store of songs with their valence/arousal positions, and the listener's history.

A new library is filled with the shipped catalogue (``moodtune/data/catalogue.csv``) on first open. User
imports (:mod:`moodtune.music.importer`) add songs with ``source`` ``user``, a file ``path`` where there is one,
their ``provenance`` and ``confidence`` (and ``dominance`` where known) through :meth:`Library.add_songs`, one
transaction per batch; the layout already had those columns, so they need no new schema version.
``meta.schema_version`` says which layout a file has.

Schema versions: 1 = ``meta`` and ``songs``; 2 adds the history tables of :mod:`moodtune.music.history`
(sessions, their songs, like/skip/played events). A version-1 file is migrated in place on open, keeping
its songs.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import platformdirs

from moodtune.emotions import EMOTIONS, check_probabilities
from moodtune.errors import LibraryError, ParameterError
from moodtune.music import catalogue, history
from moodtune.music.catalogue import name_key
from moodtune.music.history import Event, SessionRecord
from moodtune.music.index import GridIndex

#: Layout version written to ``meta``; bump it (and add a migration) whenever the tables change.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS songs (
    song_id    TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    artist     TEXT NOT NULL,
    valence    REAL NOT NULL CHECK (valence BETWEEN 0 AND 1),
    arousal    REAL NOT NULL CHECK (arousal BETWEEN 0 AND 1),
    dominance  REAL CHECK (dominance BETWEEN 0 AND 1),
    source     TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    provenance TEXT NOT NULL,
    confidence REAL CHECK (confidence BETWEEN 0 AND 1),
    path       TEXT
);
"""

_SONG_COLUMNS = "song_id, title, artist, valence, arousal, dominance, source, provenance, path"


@dataclass(frozen=True)
class Song:
    """One song and where it sits in the circumplex (all positions on [0, 1]).

    ``dominance`` is None where the source has none; ``path`` is a local audio file for user-imported songs
    and None for catalogue songs.
    """

    song_id: str
    title: str
    artist: str
    valence: float
    arousal: float
    dominance: float | None
    source: str
    provenance: str
    path: str | None

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class SongTable:
    """All songs of a library as arrays; row ``i`` of every array describes ``songs[i]`` (``song_id`` order).

    Attributes
    ----------
    songs : list of Song, length N
    positions : np.ndarray, shape (N, 2)
        Valence and arousal.
    dominance : np.ndarray, shape (N,)
        NaN where a song has none.
    artists : np.ndarray of int, shape (N,)
        Equal codes for artist names that are equal ignoring case, Unicode form and spacing.
    recordings : np.ndarray of int, shape (N,)
        Equal codes for the same artist and title compared the same way: one recording held twice.
    rows : dict of str to int
        Row of each ``song_id``.
    grid : GridIndex
        Spatial index over ``positions``.
    has_dominance : bool
        Whether any song carries a dominance.
    """

    songs: list[Song]
    positions: np.ndarray
    dominance: np.ndarray
    artists: np.ndarray
    recordings: np.ndarray
    rows: dict[str, int]
    grid: GridIndex
    has_dominance: bool

    @classmethod
    def build(cls, songs: list[Song]) -> SongTable:
        """Arrays and index for ``songs`` (already in ``song_id`` order)."""
        positions = np.array([(s.valence, s.arousal) for s in songs], dtype=np.float64).reshape(-1, 2)
        dominance = np.array([math.nan if s.dominance is None else s.dominance for s in songs], dtype=np.float64)
        artist_keys = [name_key(s.artist) for s in songs]
        return cls(songs, positions, dominance, _codes(artist_keys),
                   _codes(list(zip(artist_keys, (name_key(s.title) for s in songs), strict=True))),
                   {s.song_id: i for i, s in enumerate(songs)}, GridIndex(positions),
                   bool(np.isfinite(dominance).any()))

    def __len__(self) -> int:
        return len(self.songs)


def _codes(keys: list) -> np.ndarray:
    """Small integers standing for the distinct ``keys``, in order of first appearance."""
    seen: dict = {}
    return np.array([seen.setdefault(key, len(seen)) for key in keys], dtype=np.int64)


def default_path() -> Path:
    """Where the library lives unless told otherwise: the user's data folder for moodtune."""
    return platformdirs.user_data_path("moodtune") / "library.sqlite3"


class Library:
    """The SQLite store of songs, and of the listener's history.

    Songs are read with :meth:`songs`, :meth:`get`, :meth:`nearest` and :meth:`table`. History: a recommended
    playlist becomes a session (:meth:`start_session`), feedback an event (:meth:`record`); :meth:`history`,
    :meth:`preferences` and :meth:`recent_songs` read them back and :meth:`forget` erases them. Everything
    is in the one file, so it survives restarts.

    Parameters
    ----------
    path : str or Path, optional
        The database file; created when missing. None uses :func:`default_path`.
    catalogue : str or Path, optional
        CSV in the catalogue format to fill a *new* library with; None uses the shipped catalogue. Ignored
        when the library already exists.
    timeout : float
        Seconds to wait while another program is writing to the library (e.g. loading it).

    Raises
    ------
    LibraryError
        If the file cannot be opened or is not a moodtune library.

    Examples
    --------
    >>> with Library(tmp_dir / "songs.sqlite3") as lib:  # doctest: +SKIP
    ...     lib.nearest((0.8, 0.7), n=3)
    """

    def __init__(self, path: str | Path | None = None, *, catalogue: str | Path | None = None,
                 timeout: float = 5.0):
        self.path = Path(path) if path is not None else default_path()
        self._cache: SongTable | None = None
        self._conn = None
        if self.path.is_dir():
            raise LibraryError(f"music library {self.path} is a folder; give a file name for --db instead")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so schema and catalogue go in together.
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(f"cannot open it ({exc})") from exc
        try:
            self._setup(catalogue)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise self._error(f"is busy ({exc})", "close other programs using it and try again") from exc
            raise self._error(f"is not a usable SQLite database ({exc})") from exc
        except BaseException:
            self._conn.close()
            raise

    def _error(self, problem: str, fix: str = "") -> LibraryError:
        fix = fix or ("choose another --db file, or delete this one to start a fresh library with the default "
                      "catalogue")
        return LibraryError(f"music library {self.path}: {problem}; {fix}")

    def _setup(self, catalogue_path: str | Path | None) -> None:
        conn = self._conn
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            names = ", ".join(sorted(tables))
            raise self._error(f"is an SQLite database of something else (tables: {names})",
                              "choose another --db file")
        if "meta" in tables:
            version = self._meta("schema_version")
            if version is None or not version.isdigit():
                raise self._error("has no schema version (a load was never finished)")
            if int(version) > SCHEMA_VERSION:
                raise self._error(f"was written by a newer moodtune (schema {version}, this one reads "
                                  f"{SCHEMA_VERSION})", "upgrade moodtune or choose another --db file")
            if int(version) < SCHEMA_VERSION:
                self._migrate()
            return
        # A new library. BEGIN IMMEDIATE takes the write lock first, so two processes opening the same new
        # file do not both load; and if the load is interrupted, the rollback leaves an empty file behind,
        # which the next open simply loads again.
        rows = catalogue.read_catalogue(catalogue_path)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
                conn.execute("ROLLBACK")  # someone else loaded it while we waited for the lock
                return
            _create(conn, _SCHEMA + history.SCHEMA)
            conn.executemany(
                "INSERT INTO songs (song_id, title, artist, valence, arousal, source, source_id, provenance)"
                " VALUES (:song_id, :title, :artist, :valence, :arousal, :source, :source_id, :provenance)",
                (_checked(row, catalogue_path) for row in rows),
            )
            digest = catalogue.catalogue_sha256(catalogue_path)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)),
                 ("catalogue", "shipped" if catalogue_path is None else str(catalogue_path)),
                 ("catalogue_sha256", digest),
                 ("catalogue_songs", str(len(rows)))],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        """Bring an older file up to :data:`SCHEMA_VERSION` in one transaction; songs are left as they are."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(self._meta("schema_version"))  # again, under the lock: another process may have done it
            if version < 2:
                _create(conn, history.SCHEMA)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _meta(self, key: str) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LibraryError(f"music library {self.path} is closed; open it again")
        return self._conn

    @contextmanager
    def _sql(self) -> Iterator[sqlite3.Connection]:
        """The connection, with SQLite's errors (busy, read-only file, full disk) turned into LibraryErrors."""
        try:
            yield self._connection()
        except sqlite3.Error as exc:
            raise self._error(f"cannot be read or written ({exc})", "close other programs using it, check that "
                              "you may write to it, or choose another --db file") from exc

    # ------------------------------------------------------------------------------------------ reading

    def __len__(self) -> int:
        if self._cache is not None:  # count(*) reads the whole table: slow at a million songs
            return len(self._cache)
        return self._connection().execute("SELECT count(*) FROM songs").fetchone()[0]

    def songs(self) -> list[Song]:
        """All songs, ordered by ``song_id``.

        Returns
        -------
        list of Song
        """
        return list(self.table().songs)

    def get(self, song_id: str) -> Song | None:
        """The song with this ``song_id``, or None (one SQL lookup: no need to read the whole library)."""
        with self._sql() as conn:
            row = conn.execute(f"SELECT {_SONG_COLUMNS} FROM songs WHERE song_id = ?", (song_id,)).fetchone()
        return None if row is None else Song(*row)

    def nearest(self, point, *, n: int, exclude: Iterable[str] = ()) -> list[Song]:
        """The ``n`` songs closest to a (valence, arousal) point, nearest first.

        Parameters
        ----------
        point : array-like, shape (2,)
            Valence and arousal on [0, 1].
        n : int
            How many songs at most; fewer when the library holds fewer.
        exclude : iterable of str
            ``song_id`` values to leave out (unknown ids are ignored).

        Returns
        -------
        list of Song
            Ordered by Euclidean distance in (valence, arousal); ties keep ``song_id`` order, so the result
            is deterministic.
        """
        try:
            target = np.asarray(point, dtype=np.float64)
        except (TypeError, ValueError):
            target = np.full(0, np.nan)  # reported just below
        if target.shape != (2,) or not np.all(np.isfinite(target)):
            raise ParameterError(f"point must be two finite numbers (valence, arousal), got {point!r}")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ParameterError(f"n must be a whole number of at least 1, got {n!r}")
        table = self.table()
        skip = {table.rows[song_id] for song_id in exclude if song_id in table.rows}
        rows, _ = table.grid.nearest(target, n + len(skip))  # ties in row order, which is song_id order
        return [table.songs[i] for i in rows if i not in skip][:n]

    def table(self) -> SongTable:
        """All songs as arrays with a spatial index, read once and kept (see :class:`SongTable`)."""
        # Whatever writes songs later (imports, edits) must reset self._cache.
        if self._cache is None:
            with self._sql() as conn:
                songs = [Song(*row) for row in conn.execute(f"SELECT {_SONG_COLUMNS} FROM songs ORDER BY song_id")]
            self._cache = SongTable.build(songs)
        return self._cache

    # ------------------------------------------------------------------------------------------ imports

    def existing(self, song_ids: Iterable[str]) -> set[str]:
        """Which of ``song_ids`` the library already holds (one indexed lookup per id, no full read)."""
        with self._sql() as conn:
            return {sid for sid in song_ids
                    if conn.execute("SELECT 1 FROM songs WHERE song_id = ?", (sid,)).fetchone()}

    def placements(self) -> list[tuple[str, str, float, float, str]]:
        """(artist, title, valence, arousal, provenance) of every song, in ``song_id`` order."""
        with self._sql() as conn:
            return conn.execute("SELECT artist, title, valence, arousal, provenance FROM songs "
                                "ORDER BY song_id").fetchall()

    def add_songs(self, rows: list[dict]) -> int:
        """Insert songs in one transaction: all of them or, if anything fails or interrupts it, none.

        Parameters
        ----------
        rows : list of dict
            Keys ``song_id, title, artist, valence, arousal, dominance, source, source_id, provenance,
            confidence, path``. A ``song_id`` already present is left as it is (so importing twice adds nothing).

        Returns
        -------
        int
            How many were new.
        """
        with self._sql() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany(
                    # ON CONFLICT, not INSERT OR IGNORE: that would also drop rows that break a CHECK silently.
                    "INSERT INTO songs (song_id, title, artist, valence, arousal, dominance, source, "
                    "source_id, provenance, confidence, path) VALUES (:song_id, :title, :artist, :valence, "
                    ":arousal, :dominance, :source, :source_id, :provenance, :confidence, :path) "
                    "ON CONFLICT (song_id) DO NOTHING", rows)
                added = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if added:
            self._cache = None
        return added

    def song_details(self) -> list[tuple[float, float, str, float | None]]:
        """(valence, arousal, provenance, confidence) of every song, for statistics."""
        with self._sql() as conn:
            return conn.execute("SELECT valence, arousal, provenance, confidence FROM songs").fetchall()

    # ------------------------------------------------------------------------------------------ history

    def start_session(self, *, emotion: str, probabilities, strategy: str, target,
                      songs: Iterable[tuple[str, int, str]] = ()) -> int:
        """Record a recommended playlist as a new session.

        Parameters
        ----------
        emotion : str
            The emotion the playlist was made for.
        probabilities : array-like, shape (7,)
            The mood in :data:`moodtune.emotions.EMOTIONS` order.
        strategy : str
            The strategy, as :func:`moodtune.recommend.strategies.get_strategy` reads it (e.g. ``"goal 0.8,0.3"``).
        target : array-like, shape (2,)
            Where the mood sits in (valence, arousal).
        songs : iterable of (song_id, step, reason)
            The playlist in order.

        Returns
        -------
        int
            The session id, for :meth:`record`.
        """
        p = check_probabilities(probabilities)
        with self._sql() as conn:
            return history.start_session(
                conn, emotion=emotion, strategy=strategy,
                probabilities={e: round(float(x), 4) for e, x in zip(EMOTIONS, p, strict=True)},
                target=(float(target[0]), float(target[1])), songs=songs)

    def record(self, song_id: str, kind: str, *, session: int | None = None) -> int:
        """Record feedback on a song: ``"like"``, ``"skip"`` or ``"played"``.

        Parameters
        ----------
        song_id : str
            A song of this library.
        kind : {"like", "skip", "played"}
        session : int, optional
            The session it belongs to (which gives the mood it was given in); None for none.

        Returns
        -------
        int
            The event id.

        Raises
        ------
        ParameterError
            If the kind, song or session is unknown.
        """
        if kind not in history.KINDS:
            raise ParameterError(f"feedback must be one of {', '.join(history.KINDS)}, got {kind!r}")
        if self.get(song_id) is None:
            raise ParameterError(f"no song {song_id!r} in music library {self.path}; song ids look like "
                                 "deezer:123456 (see moodtune recommend --json or moodtune history)")
        with self._sql() as conn:
            if session is not None and not history.session_exists(conn, session):
                raise ParameterError(f"no session {session} in music library {self.path}; see moodtune history")
            return history.record(conn, song_id=song_id, kind=kind, session=session)

    def latest_session_with(self, song_id: str) -> int | None:
        """The newest session whose playlist holds ``song_id``, or None."""
        with self._sql() as conn:
            return history.latest_session_with(conn, song_id)

    def history(self, *, limit: int | None = None) -> list[SessionRecord]:
        """Recorded sessions, newest first, each with its songs and feedback events."""
        with self._sql() as conn:
            return history.history(conn, limit=limit)

    def events(self, *, session: int | None | str = "all") -> list[Event]:
        """Feedback events oldest first: all, one session's, or (``session=None``) those outside any session."""
        with self._sql() as conn:
            return history.events(conn, session=session)

    def preferences(self) -> dict[str, str]:
        """Each song's latest like or skip, ``{song_id: "like" | "skip"}``."""
        with self._sql() as conn:
            return history.preferences(conn)

    def recent_songs(self, *, sessions: int) -> set[str]:
        """Song ids recommended or played in the last ``sessions`` sessions."""
        with self._sql() as conn:
            return history.recent_songs(conn, sessions=sessions)

    def forget(self) -> tuple[int, int]:
        """Erase all recorded sessions and feedback (the songs stay); return (sessions, events) erased."""
        with self._sql() as conn:
            return history.forget(conn)

    # ------------------------------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the database; safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._cache = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"


def _create(conn: sqlite3.Connection, schema: str) -> None:
    # One statement at a time: executescript() would commit the open transaction first.
    for statement in schema.split(";"):
        if statement.strip():
            conn.execute(statement)


def _checked(row: dict[str, str], source) -> dict:
    """A catalogue row with numbers parsed and checked, ready to insert."""
    try:
        valence, arousal = float(row["valence"]), float(row["arousal"])
    except ValueError:
        valence = arousal = math.nan
    named = all(row[k] for k in ("song_id", "title", "artist"))
    if not (named and 0 <= valence <= 1 and 0 <= arousal <= 1):
        raise LibraryError(f"catalogue {source or 'shipped'}: bad row {row}; rebuild it with "
                           "scripts/build_catalogue.py")
    return {**row, "valence": valence, "arousal": arousal}
