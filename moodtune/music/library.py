"""The music library: an SQLite store of songs with their valence/arousal positions.

A new library is filled with the shipped catalogue (``moodtune/data/catalogue.csv``) on first open. The
schema leaves room for what comes later (user imports with a file ``path``, per-song ``confidence`` and
``dominance``, feedback and history tables): ``meta.schema_version`` says which layout a file has.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import platformdirs

from moodtune.errors import LibraryError, ParameterError
from moodtune.music import catalogue

#: Layout version written to ``meta``; bump it (and add a migration) whenever the tables change.
SCHEMA_VERSION = 1

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


def default_path() -> Path:
    """Where the library lives unless told otherwise: the user's data folder for moodtune."""
    return platformdirs.user_data_path("moodtune") / "library.sqlite3"


class Library:
    """The SQLite store of songs.

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
        self._cache: tuple[list[Song], np.ndarray, dict[str, int]] | None = None
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
            # One statement at a time: executescript() would commit the open transaction first.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
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

    def _meta(self, key: str) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LibraryError(f"music library {self.path} is closed; open it again")
        return self._conn

    # ------------------------------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self._connection().execute("SELECT count(*) FROM songs").fetchone()[0]

    def songs(self) -> list[Song]:
        """All songs, ordered by ``song_id``.

        Returns
        -------
        list of Song
        """
        return list(self._arrays()[0])

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
        songs, positions, index = self._arrays()
        distance = np.linalg.norm(positions - target, axis=1)
        skip = [index[song_id] for song_id in exclude if song_id in index]
        distance[skip] = np.inf
        order = np.argsort(distance, kind="stable")[:n]  # stable sort: ties stay in song_id order
        return [songs[i] for i in order if math.isfinite(distance[i])]

    def _arrays(self) -> tuple[list[Song], np.ndarray, dict[str, int]]:
        # Songs are read once and kept: at ~20k songs a numpy scan beats any SQL query. Whatever writes to
        # the library later (imports, edits) must reset self._cache.
        if self._cache is None:
            query = f"SELECT {_SONG_COLUMNS} FROM songs ORDER BY song_id"
            songs = [Song(*row) for row in self._connection().execute(query)]
            positions = np.array([(s.valence, s.arousal) for s in songs], dtype=np.float64).reshape(-1, 2)
            self._cache = songs, positions, {s.song_id: i for i, s in enumerate(songs)}
        return self._cache

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
