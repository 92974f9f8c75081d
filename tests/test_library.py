"""The SQLite music library. Every database lives under tmp_path, never in the user's data folder."""

import dataclasses
import sqlite3

import pytest

from moodtune.errors import LibraryError, ParameterError
from moodtune.music import Library, Song
from moodtune.music.catalogue import catalogue_sha256, read_catalogue
from moodtune.music.library import SCHEMA_VERSION

from .conftest import write_catalogue

SMALL = [
    ("t:1", "Glad", "A", 0.80, 0.70),
    ("t:2", "Blue", "B", 0.30, 0.35),
    ("t:3", "Middle", "C", 0.50, 0.50),
    ("t:4", "Twin", "D", 0.60, 0.50),  # same distance from (0.5, 0.5) as t:5
    ("t:5", "Twin too", "E", 0.40, 0.50),
]


@pytest.fixture
def small(tmp_path):
    with Library(tmp_path / "small.sqlite3", catalogue=write_catalogue(tmp_path / "small.csv", SMALL)) as lib:
        yield lib


def _count(path, sql):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchone()[0]


# ------------------------------------------------------------------------------------ loading


def test_new_library_loads_shipped_catalogue_once(tmp_path):
    path = tmp_path / "library.sqlite3"
    expected = len(read_catalogue())
    with Library(path) as lib:
        assert len(lib) == expected
    meta = dict(sqlite3.connect(path).execute("SELECT key, value FROM meta").fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["catalogue_sha256"] == catalogue_sha256()
    assert meta["catalogue_songs"] == str(expected)

    # Take one song out behind the library's back: a reopen that reloaded would bring it back.
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM songs WHERE song_id = 'pmemo:1'")
    with Library(path) as lib:
        assert len(lib) == expected - 1
    assert _count(path, "SELECT count(DISTINCT song_id) FROM songs") == expected - 1


def test_failed_load_leaves_nothing_behind(tmp_path):
    path = tmp_path / "library.sqlite3"
    broken = write_catalogue(tmp_path / "broken.csv", SMALL)
    broken.write_text(broken.read_text(encoding="utf-8").replace("0.5000,0.5000", "0.5000,7.0000"),
                      encoding="utf-8")
    with pytest.raises(LibraryError, match="bad row"):
        Library(path, catalogue=broken)
    # Rows were inserted before the bad one, but the whole load was rolled back.
    assert _count(path, "SELECT count(*) FROM sqlite_master") == 0
    with Library(path, catalogue=write_catalogue(tmp_path / "good.csv", SMALL)) as lib:
        assert len(lib) == len(SMALL)


def test_interrupted_load_leaves_nothing_behind(tmp_path, monkeypatch):
    import moodtune.music.library as library_module

    real_checked, calls = library_module._checked, []

    def interrupt_on_third_row(row, source):
        calls.append(row)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_checked(row, source)

    monkeypatch.setattr(library_module, "_checked", interrupt_on_third_row)
    path = tmp_path / "library.sqlite3"
    catalogue = write_catalogue(tmp_path / "small.csv", SMALL)
    with pytest.raises(KeyboardInterrupt):
        Library(path, catalogue=catalogue)
    assert _count(path, "SELECT count(*) FROM sqlite_master") == 0
    monkeypatch.undo()
    with Library(path, catalogue=catalogue) as lib:
        assert len(lib) == len(SMALL)


def test_default_path_is_in_user_data_folder(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_data_path", lambda app: tmp_path / "data" / app)
    with Library(catalogue=write_catalogue(tmp_path / "small.csv", SMALL)) as lib:
        assert lib.path == tmp_path / "data" / "moodtune" / "library.sqlite3"
        assert lib.path.is_file() and len(lib) == len(SMALL)


def test_empty_catalogue_gives_empty_library(tmp_path):
    with Library(tmp_path / "empty.sqlite3", catalogue=write_catalogue(tmp_path / "empty.csv", [])) as lib:
        assert len(lib) == 0
        assert lib.songs() == []
        assert lib.nearest((0.5, 0.5), n=3) == []


# ------------------------------------------------------------------------------------ bad files


def test_garbage_file_is_a_library_error(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"this is not a database, just some text\n" * 50)
    with pytest.raises(LibraryError) as info:
        Library(path)
    message = str(info.value)
    assert "notes.sqlite3" in message and "--db" in message and "delete" in message
    assert path.read_bytes().startswith(b"this is not")  # left untouched


def test_other_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(LibraryError, match="invoices") as info:
        Library(path)
    assert "delete" not in str(info.value)  # someone else's data: never suggest deleting it
    assert _count(path, "SELECT count(*) FROM sqlite_master") == 1


def test_folder_as_path_is_a_library_error(tmp_path):
    with pytest.raises(LibraryError, match="folder"):
        Library(tmp_path)


def test_busy_library_says_so_without_suggesting_deletion(tmp_path):
    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of loading
    try:
        with pytest.raises(LibraryError, match="busy") as info:
            Library(path, catalogue=write_catalogue(tmp_path / "small.csv", SMALL), timeout=0.1)
        assert "delete" not in str(info.value)
    finally:
        holder.close()


def test_newer_schema_is_refused(small, tmp_path):
    small.close()
    with sqlite3.connect(small.path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(LibraryError, match="newer"):
        Library(small.path)


# ------------------------------------------------------------------------------------ reading


def test_songs_are_frozen_and_ordered(small):
    songs = small.songs()
    assert [s.song_id for s in songs] == sorted(sid for sid, *_ in SMALL)
    first = songs[0]
    assert first == Song("t:1", "Glad", "A", 0.8, 0.7, None, "t", "rated", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.valence = 0.1


def test_nearest_orders_by_distance(small):
    assert [s.song_id for s in small.nearest((0.78, 0.72), n=2)] == ["t:1", "t:4"]
    assert [s.song_id for s in small.nearest((0.25, 0.30), n=1)] == ["t:2"]
    # t:4 and t:5 are equally far from the centre: ties keep song_id order, every time.
    assert [s.song_id for s in small.nearest((0.5, 0.5), n=3)] == ["t:3", "t:4", "t:5"]


def test_nearest_exclude_and_short_library(small):
    assert [s.song_id for s in small.nearest((0.5, 0.5), n=2, exclude=["t:3", "nope:1"])] == ["t:4", "t:5"]
    assert len(small.nearest((0.5, 0.5), n=100)) == len(SMALL)
    assert small.nearest((0.5, 0.5), n=100, exclude=[sid for sid, *_ in SMALL]) == []


@pytest.mark.parametrize("point, n", [((0.5,), 1), ((0.5, float("nan")), 1), ("ab", 1), ((0.5, 0.5), 0),
                                      ((0.5, 0.5), 1.5), ((0.5, 0.5), True)])
def test_nearest_rejects_bad_arguments(small, point, n):
    with pytest.raises(ParameterError):
        small.nearest(point, n=n)


def test_closed_library_says_so(tmp_path):
    with Library(tmp_path / "l.sqlite3", catalogue=write_catalogue(tmp_path / "s.csv", SMALL)) as lib:
        pass
    lib.close()  # twice is fine
    with pytest.raises(LibraryError, match="closed"):
        len(lib)
