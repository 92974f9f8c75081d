"""History and feedback: sessions, like / skip / played, and what they do to the next playlist.

Every database lives under tmp_path, never in the user's data folder.
"""

import sqlite3

import pytest

from moodtune.emotions import EMOTIONS, one_hot, to_point
from moodtune.errors import LibraryError, ParameterError
from moodtune.music import Library
from moodtune.music.library import SCHEMA_VERSION
from moodtune.recommend import recommend

from .test_recommend import small_library

SAD = to_point(one_hot("sad"))


@pytest.fixture
def library(fresh_db):
    with Library(fresh_db) as lib:
        yield lib


def ids(playlist):
    return [pick.song.song_id for pick in playlist.picks]


def near(point, *songs):
    """Songs (id, artist, dv, da) placed around ``point``."""
    return [(sid, f"Title {sid}", artist, point[0] + dv, point[1] + da) for sid, artist, dv, da in songs]


# ------------------------------------------------------------------------------------ the store


def test_new_library_has_history_tables(library):
    tables = {row[0] for row in library._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "session_songs", "events"} <= tables
    assert library._meta("schema_version") == str(SCHEMA_VERSION) == "2"
    assert library.history() == [] and library.events() == [] and library.preferences() == {}


def test_version_1_library_is_migrated_and_keeps_its_songs(tmp_path):
    songs = near(SAD, ("t:1", "A", 0, 0), ("t:2", "B", 0.1, 0.1))
    with small_library(tmp_path, songs) as lib:
        path = lib.path
    with sqlite3.connect(path) as conn:  # turn it into the version-1 layout: meta and songs only
        for table in ("events", "session_songs", "sessions"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Library(path) as lib:
        assert lib._meta("schema_version") == "2"
        assert [s.song_id for s in lib.songs()] == ["t:1", "t:2"]
        session = recommend(emotion="sad", n=1, library=lib, record=True).session
        lib.record("t:2", "like", session=session)
    with Library(path) as lib:  # opening again finds version 2 and leaves everything as it is
        assert lib.preferences() == {"t:2": "like"}


def test_record_checks_kind_song_and_session(library):
    with pytest.raises(ParameterError, match="like, skip, played"):
        library.record("pmemo:1", "love")
    with pytest.raises(ParameterError, match="no song 'nope:1'"):
        library.record("nope:1", "like")
    with pytest.raises(ParameterError, match="no session 5"):
        library.record("pmemo:1", "like", session=5)
    assert library.events() == []


def test_feedback_survives_a_restart(library):
    playlist = recommend(emotion="sad", n=5, library=library, record=True)
    first, second = ids(playlist)[:2]
    library.record(first, "like", session=playlist.session)
    library.record(second, "skip", session=playlist.session)
    library.record(second, "played")
    path = library.path
    library.close()
    with Library(path) as reopened:
        assert reopened.preferences() == {first: "like", second: "skip"}
        (session,) = reopened.history()
        assert session.session_id == playlist.session
        assert session.emotion == "sad" and session.strategy == "match"
        assert session.probabilities == dict.fromkeys(EMOTIONS, 0.0) | {"sad": 1.0}
        assert session.target == pytest.approx(playlist.target)
        assert [s["song_id"] for s in session.songs] == ids(playlist)
        assert [s["reason"] for s in session.songs] == [p.reason for p in playlist.picks]
        assert [(e.song_id, e.kind) for e in session.events] == [(first, "like"), (second, "skip")]
        assert [(e.song_id, e.kind, e.session_id) for e in reopened.events(session=None)] == [
            (second, "played", None)]


def test_latest_like_or_skip_counts(library):
    library.record("pmemo:1", "skip")
    library.record("pmemo:1", "like")
    library.record("pmemo:4", "like")
    library.record("pmemo:4", "played")  # played is neither
    library.record("pmemo:4", "skip")
    assert library.preferences() == {"pmemo:1": "like", "pmemo:4": "skip"}


def test_history_is_newest_first_with_a_limit(library):
    sessions = [recommend(emotion=e, n=2, library=library, strategy="lift", record=True).session
                for e in ("sad", "angry", "happy")]
    assert [s.session_id for s in library.history()] == sessions[::-1]
    assert [s.emotion for s in library.history(limit=2)] == ["happy", "angry"]
    assert library.history()[0].strategy == "lift"
    assert library.latest_session_with(library.history()[0].songs[0]["song_id"]) == sessions[-1]
    assert library.latest_session_with("pmemo:999999") is None


def test_forget_erases_everything_recorded_and_keeps_the_songs(library):
    fresh = recommend(emotion="sad", n=5, library=library)
    playlist = recommend(emotion="sad", n=5, library=library, record=True)
    library.record(ids(playlist)[0], "skip", session=playlist.session)
    library.record("pmemo:1", "like")
    songs = len(library)
    assert b'"afraid": 0.0' in library.path.read_bytes()  # the session's probabilities
    assert library.forget() == (1, 2)
    assert library.history() == [] and library.events() == [] and library.preferences() == {}
    assert len(library) == songs
    assert recommend(emotion="sad", n=5, library=library).to_dict() == fresh.to_dict()
    assert b'"afraid": 0.0' not in library.path.read_bytes()  # vacuumed: not even in free pages
    assert library.forget() == (0, 0)


# ------------------------------------------------------------------------------------ effect on playlists


def test_a_skipped_song_does_not_come_back(library):
    first = recommend(emotion="sad", n=10, library=library, record=True)
    skipped = ids(first)[0]
    library.record(skipped, "skip", session=first.session)
    # Even with recent sessions allowed back, the skipped song stays out; the others may return.
    again = recommend(emotion="sad", n=10, library=library, avoid_recent=0)
    assert skipped not in ids(again) and len(again) == 10
    assert skipped not in ids(recommend(emotion="sad", n=10, library=library, strategy="lift"))
    library.record(skipped, "like")  # a later like brings it back
    assert skipped in ids(recommend(emotion="sad", n=10, library=library, avoid_recent=0))


def test_skip_outside_a_session_works_too(library):
    best = ids(recommend(emotion="happy", n=1, library=library))[0]
    library.record(best, "skip")
    assert best not in ids(recommend(emotion="happy", n=10, library=library))


def test_songs_of_recent_sessions_are_not_repeated(library):
    first = recommend(emotion="neutral", n=10, library=library, record=True)
    second = recommend(emotion="neutral", n=10, library=library, record=True)
    assert not set(ids(first)) & set(ids(second))
    third = recommend(emotion="neutral", n=10, library=library, avoid_recent=1)
    assert not set(ids(second)) & set(ids(third)) and set(ids(first)) & set(ids(third))
    assert recommend(emotion="neutral", n=10, library=library, avoid_recent=0).to_dict()["picks"] == \
        first.to_dict()["picks"]
    library.record(ids(recommend(emotion="neutral", n=1, library=library))[0], "played")
    played = library.events()[-1].song_id
    assert played not in ids(recommend(emotion="neutral", n=10, library=library))


def test_likes_pull_similar_songs_in(tmp_path):
    point = SAD
    songs = near(point, ("t:1", "A", 0.02, 0), ("t:2", "B", -0.03, 0), ("t:3", "C", -0.06, -0.01),
                 ("t:4", "D", 0.5, 0.5), ("t:5", "B", 0.4, -0.2))
    with small_library(tmp_path, songs) as lib:
        assert ids(recommend(emotion="sad", n=1, library=lib)) == ["t:1"]
        lib.record("t:3", "like")  # next to t:2
        lib.record("t:3", "played")  # so it is not picked itself
        playlist = recommend(emotion="sad", n=1, library=lib, familiar_share=0)
        assert ids(playlist) == ["t:2"]
        assert playlist.picks[0].reason.endswith("near songs you liked")


def test_liked_artist_is_pulled_in(tmp_path):
    songs = near(SAD, ("t:1", "A", 0.02, 0), ("t:2", "Liked Band", 0.035, 0), ("t:3", "liked band", 0.6, 0.5))
    with small_library(tmp_path, songs) as lib:
        lib.record("t:3", "like")
        assert ids(recommend(emotion="sad", n=1, library=lib, familiar_share=0)) == ["t:2"]


def test_skips_push_similar_songs_out(tmp_path):
    songs = near(SAD, ("t:1", "A", 0.02, 0), ("t:2", "B", -0.03, 0), ("t:3", "C", 0.04, 0.01),
                 ("t:4", "D", 0.5, 0.5))
    with small_library(tmp_path, songs) as lib:
        lib.record("t:3", "skip")  # next to t:1
        assert ids(recommend(emotion="sad", n=1, library=lib)) == ["t:2"]
        assert ids(recommend(emotion="sad", n=2, library=lib)) == ["t:1", "t:2"]  # match lists nearest first


def test_a_share_of_familiar_songs(library):
    first = recommend(emotion="sad", n=10, library=library, strategy="lift", record=True)
    liked = ids(first)[3]
    library.record(liked, "like", session=first.session)
    second = recommend(emotion="sad", n=10, library=library, strategy="lift", record=True)
    (familiar,) = [pick for pick in second.picks if pick.familiar]
    assert familiar.song.song_id == liked and familiar.reason.endswith("; you liked it")
    assert familiar.step == 4 and familiar.distance <= 0.1
    assert len(set(ids(first)) & set(ids(second))) == 1  # the liked song and nothing else from last time
    assert liked not in ids(recommend(emotion="sad", n=10, library=library, strategy="lift", familiar_share=0))


# ------------------------------------------------------------------------------------ small libraries


def test_empty_library_is_a_clear_error(tmp_path):
    with small_library(tmp_path, []) as lib, pytest.raises(LibraryError, match="has no songs"):
        recommend(emotion="sad", strategy="lift", library=lib, record=True)
    with Library(tmp_path / "small.sqlite3") as lib:
        assert lib.history() == []  # nothing recorded for a failed playlist


def test_tiny_library_says_why_the_playlist_is_short(tmp_path):
    songs = near(SAD, ("t:1", "A", 0, 0), ("t:2", "A", 0.3, 0.3), ("t:3", "A", 0.5, 0.4))
    with small_library(tmp_path, songs) as lib:
        playlist = recommend(emotion="sad", n=10, library=lib, strategy="lift")
        assert ids(playlist) == ["t:1", "t:2"]  # at most 2 per artist
        (note,) = playlist.notes
        assert note.startswith("only 2 of 10 songs: the library holds only 3 songs") and "2 per artist" in note


def test_tiny_library_repeats_recent_songs_rather_than_nothing(tmp_path):
    songs = near(SAD, ("t:1", "A", 0, 0), ("t:2", "B", 0.1, 0), ("t:3", "C", 0.2, 0))
    with small_library(tmp_path, songs) as lib:
        first = recommend(emotion="sad", n=2, library=lib, record=True)
        assert ids(first) == ["t:1", "t:2"] and first.notes == ()
        second = recommend(emotion="sad", n=2, library=lib, record=True)
        assert ids(second) == ["t:1", "t:3"]  # t:3 first chosen, t:1 repeated; match lists nearest first
        assert "played recently" in second.picks[0].reason and "played recently" not in second.picks[1].reason
        assert second.notes == ("1 song comes from your last sessions: the library has too few others",)
        lib.record("t:1", "skip")
        lib.record("t:2", "skip")
        lib.record("t:3", "skip")
        nothing = recommend(emotion="sad", n=2, library=lib)
        assert nothing.picks == [] and "3 skipped songs are left out" in nothing.notes[0]


def test_busy_library_is_a_library_error_not_a_traceback(library):
    library.table()  # songs already read: the lock only stops the history
    library._conn.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(library.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program writing
    try:
        with pytest.raises(LibraryError, match="locked"):
            recommend(emotion="sad", library=library, record=True)
        with pytest.raises(LibraryError, match="locked"):
            library.forget()
    finally:
        holder.close()
    assert recommend(emotion="sad", n=2, library=library, record=True).session == 1
