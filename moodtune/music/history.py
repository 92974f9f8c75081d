"""What the listener did: recommended sessions and like / skip / played feedback, kept in the library file.

Everything stays in the SQLite file on the user's machine. A *session* is one recommended playlist: when it
was made, the mood it was made for (the emotion and all 7 probabilities), the strategy and the songs. An
*event* is one piece of feedback on one song, usually within a session (so the mood it was given in is
known): ``like``, ``skip`` or ``played``.

What the feedback means to recommendations (see :mod:`moodtune.recommend.selection`): a song's latest like or
skip counts; a skipped song is left out of later playlists until it is liked again; songs of the last few
sessions (recommended or played) are not repeated. :func:`forget` erases all of it.

The functions here take an open connection; :class:`moodtune.music.Library` wraps them as methods.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: The kinds of feedback an event can carry.
KINDS: tuple[str, ...] = ("like", "skip", "played")

# Added in schema version 2. Times are UTC ISO-8601 text; ids give the order (two events can share a second).
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id    INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    emotion       TEXT NOT NULL,
    probabilities TEXT NOT NULL,
    strategy      TEXT NOT NULL,
    valence       REAL NOT NULL,
    arousal       REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS session_songs (
    session_id INTEGER NOT NULL REFERENCES sessions (session_id),
    position   INTEGER NOT NULL,
    song_id    TEXT NOT NULL,
    step       INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);
CREATE TABLE IF NOT EXISTS events (
    event_id   INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions (session_id),
    song_id    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('like', 'skip', 'played')),
    at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_song ON events (song_id);
CREATE INDEX IF NOT EXISTS session_songs_by_song ON session_songs (song_id);
"""


@dataclass(frozen=True)
class Event:
    """One piece of feedback on one song."""

    event_id: int
    session_id: int | None
    song_id: str
    kind: str
    at: str

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return {"event_id": self.event_id, "session": self.session_id, "song_id": self.song_id,
                "kind": self.kind, "at": self.at}


@dataclass(frozen=True)
class SessionRecord:
    """One recommended playlist and the feedback given in it.

    Attributes
    ----------
    songs : list of dict
        ``{"position", "song_id", "step", "reason"}`` in playlist order.
    events : list of Event
        Oldest first.
    """

    session_id: int
    started_at: str
    emotion: str
    probabilities: dict[str, float]
    strategy: str
    target: tuple[float, float]
    songs: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return {"session": self.session_id, "started_at": self.started_at, "emotion": self.emotion,
                "probabilities": self.probabilities, "strategy": self.strategy,
                "target": {"valence": self.target[0], "arousal": self.target[1]},
                "songs": self.songs, "events": [e.to_dict() for e in self.events]}


def now() -> str:
    """The current UTC time as ISO-8601 text, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def start_session(conn: sqlite3.Connection, *, emotion: str, probabilities: dict[str, float], strategy: str,
                  target: tuple[float, float], songs) -> int:
    """Store a session and its songs in one transaction; return its id.

    ``songs`` is an iterable of ``(song_id, step, reason)`` in playlist order (``step`` 1-based).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "INSERT INTO sessions (started_at, emotion, probabilities, strategy, valence, arousal)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (now(), emotion, json.dumps(probabilities), strategy, float(target[0]), float(target[1])))
        session = cursor.lastrowid
        conn.executemany(
            "INSERT INTO session_songs (session_id, position, song_id, step, reason) VALUES (?, ?, ?, ?, ?)",
            [(session, position, song_id, int(step), reason)
             for position, (song_id, step, reason) in enumerate(songs, 1)])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return session


def record(conn: sqlite3.Connection, *, song_id: str, kind: str, session: int | None) -> int:
    """Store one event (already checked by the caller); return its id."""
    cursor = conn.execute("INSERT INTO events (session_id, song_id, kind, at) VALUES (?, ?, ?, ?)",
                          (session, song_id, kind, now()))
    return cursor.lastrowid


def session_exists(conn: sqlite3.Connection, session: int) -> bool:
    return conn.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session,)).fetchone() is not None


def latest_session_with(conn: sqlite3.Connection, song_id: str) -> int | None:
    """The newest session whose playlist holds ``song_id``, or None."""
    row = conn.execute("SELECT max(session_id) FROM session_songs WHERE song_id = ?", (song_id,)).fetchone()
    return row[0]


def history(conn: sqlite3.Connection, *, limit: int | None = None) -> list[SessionRecord]:
    """Sessions newest first, each with its songs and events."""
    query = ("SELECT session_id, started_at, emotion, probabilities, strategy, valence, arousal FROM sessions"
             " ORDER BY session_id DESC")
    params: tuple = ()
    if limit is not None:
        query += " LIMIT ?"
        params = (limit,)
    sessions = []
    for sid, started, emotion, probabilities, strategy, valence, arousal in conn.execute(query, params).fetchall():
        songs = [{"position": pos, "song_id": song, "step": step, "reason": reason}
                 for pos, song, step, reason in conn.execute(
                     "SELECT position, song_id, step, reason FROM session_songs WHERE session_id = ?"
                     " ORDER BY position", (sid,))]
        sessions.append(SessionRecord(sid, started, emotion, json.loads(probabilities), strategy,
                                      (valence, arousal), songs, events(conn, session=sid)))
    return sessions


def events(conn: sqlite3.Connection, *, session: int | None | str = "all") -> list[Event]:
    """Events oldest first: all of them, those of one session, or (``session=None``) those outside sessions."""
    query = "SELECT event_id, session_id, song_id, kind, at FROM events"
    if session is None:
        rows = conn.execute(query + " WHERE session_id IS NULL ORDER BY event_id")
    elif session == "all":
        rows = conn.execute(query + " ORDER BY event_id")
    else:
        rows = conn.execute(query + " WHERE session_id = ? ORDER BY event_id", (session,))
    return [Event(*row) for row in rows]


def preferences(conn: sqlite3.Connection) -> dict[str, str]:
    """Each song's latest like or skip: ``{song_id: "like" | "skip"}``. A later like undoes a skip."""
    return dict(conn.execute(
        "SELECT song_id, kind FROM events WHERE event_id IN ("
        " SELECT max(event_id) FROM events WHERE kind IN ('like', 'skip') GROUP BY song_id)"))


def recent_songs(conn: sqlite3.Connection, *, sessions: int) -> set[str]:
    """Songs recommended or played in the last ``sessions`` sessions (or played outside a session since then)."""
    if sessions <= 0:
        return set()
    ids = [row[0] for row in conn.execute(
        "SELECT session_id FROM sessions ORDER BY session_id DESC LIMIT ?", (sessions,))]
    if not ids:
        # No sessions yet: only songs reported as played count.
        return {row[0] for row in conn.execute("SELECT song_id FROM events WHERE kind = 'played'")}
    oldest = min(ids)
    since = conn.execute("SELECT started_at FROM sessions WHERE session_id = ?", (oldest,)).fetchone()[0]
    rows = conn.execute(
        "SELECT song_id FROM session_songs WHERE session_id >= ?"
        " UNION SELECT song_id FROM events WHERE kind = 'played'"
        "  AND (session_id >= ? OR (session_id IS NULL AND at >= ?))",
        (oldest, oldest, since))
    return {row[0] for row in rows}


def forget(conn: sqlite3.Connection) -> tuple[int, int]:
    """Erase every session and event; return how many of each there were.

    ``secure_delete`` overwrites the erased rows with zeros, so they do not linger in the file's free pages;
    the file is then vacuumed to give the space back (skipped if another program is reading it).
    """
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("BEGIN IMMEDIATE")
    try:
        counts = (conn.execute("SELECT count(*) FROM sessions").fetchone()[0],
                  conn.execute("SELECT count(*) FROM events").fetchone()[0])
        for table in ("events", "session_songs", "sessions"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("VACUUM")
    except sqlite3.OperationalError:
        pass  # only space is lost: the rows are gone and overwritten already
    return counts
