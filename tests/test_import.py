"""Importing the user's songs: tables, playlists, audio folders, placement order, idempotence, interruption.

Every input is made here (WAV/FLAC written with numpy + soundfile, tags with mutagen); libraries are small
catalogues under tmp_path.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from moodtune.emotions import ANCHORS
from moodtune.errors import LibraryError
from moodtune.music import Library
from moodtune.music.importer import Entry, import_path, read_table, read_tags
from moodtune.music.placement import Placer

from .conftest import ROOT, write_catalogue

CATALOGUE = [
    ("t:1", "Glad Song", "Known Band", 0.80, 0.70),
    ("t:2", "Blue Song", "Known Band", 0.30, 0.35),
    ("t:3", "Other", "Someone", 0.50, 0.50),
]


@pytest.fixture
def library(tmp_path):
    with Library(tmp_path / "lib.sqlite3", catalogue=write_catalogue(tmp_path / "cat.csv", CATALOGUE)) as lib:
        yield lib


def _dump(path) -> list:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT * FROM songs").fetchall())


def _user_songs(lib) -> dict:
    return {s.title: s for s in lib.songs() if s.source == "user"}


def _provenance(lib) -> dict:
    with sqlite3.connect(lib.path) as conn:
        return dict(conn.execute("SELECT title, provenance FROM songs WHERE source = 'user'").fetchall())


def _wav(path, *, seconds=1.0, freq=440.0, tags=None):
    """A mono 22.05 kHz sine WAV, with ID3 artist/title tags when ``tags`` = (artist, title)."""
    sf = pytest.importorskip("soundfile")
    t = np.arange(int(22050 * seconds)) / 22050
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), 22050)
    if tags:
        from mutagen.id3 import TIT2, TPE1
        from mutagen.wave import WAVE

        audio = WAVE(path)
        audio.add_tags()
        audio.tags.add(TPE1(encoding=3, text=tags[0]))
        audio.tags.add(TIT2(encoding=3, text=tags[1]))
        audio.save()
    return path


# ------------------------------------------------------------------------------------------------ tables


def test_csv_given_mood_catalogue_and_artist_mean(library, tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("Title,Artist,Valence,Arousal,Mood\n"
                   "Mine,Me,0.2,0.9,\n"
                   "Cheer,Me,,,joy\n"
                   "glad  SONG,KNOWN band,,,\n"  # same song as the catalogue's t:1, written differently
                   "New One,Known Band,,,\n", encoding="utf-8")
    report = import_path(library, csv)
    assert (report.found, report.added, report.already, report.skipped) == (4, 4, 0, [])
    songs = _user_songs(library)
    assert (songs["Mine"].valence, songs["Mine"].arousal) == (0.2, 0.9)
    assert songs["Cheer"].dominance == pytest.approx(ANCHORS["happy"][2])
    assert (songs["glad  SONG"].valence, songs["glad  SONG"].arousal) == (0.8, 0.7)
    # The artist mean uses the catalogue's songs by the band and the one just matched (0.8/0.7 twice, 0.3/0.35).
    assert songs["New One"].valence == pytest.approx((0.8 + 0.3 + 0.8) / 3, abs=1e-4)
    assert _provenance(library) == {"Mine": "given", "Cheer": "mood", "glad  SONG": "catalogue",
                                    "New One": "artist_mean"}


def test_unplaceable_song_is_reported_not_parked(library, tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("title,artist\nNowhere,Nobody Known\n", encoding="utf-8")
    report = import_path(library, csv)
    assert report.added == 0 and "Nowhere" in report.skipped[0]


@pytest.mark.parametrize("row, problem", [
    ("Two,Artist,1.5,0.5", "valence"),
    ("Two,Artist,0.5,", "both valence and arousal"),
    (",Artist,0.5,0.5", "title and an artist"),
    ("Two,Artist,abc,0.5", "valence"),
    ("Two,Artist,0.5,0.5,extra", "fields"),
])
def test_malformed_csv_row_names_line_and_imports_nothing(library, tmp_path, row, problem):
    csv = tmp_path / "bad.csv"
    csv.write_text(f"title,artist,valence,arousal\nOne,Artist,0.5,0.5\n\n{row}\nThree,Artist,0.1,0.1\n",
                   encoding="utf-8")
    before = _dump(library.path)
    with pytest.raises(LibraryError, match=rf"bad\.csv line 4: .*{problem}"):
        import_path(library, csv)
    assert _dump(library.path) == before


def test_unknown_mood_word_and_missing_columns(library, tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("title,artist,mood\nA,B,happy\nC,D,grumpy\n", encoding="utf-8")
    with pytest.raises(LibraryError, match=r"m\.csv line 3: unknown emotion 'grumpy'"):
        read_table(csv)
    (tmp_path / "n.csv").write_text("name,who\nA,B\n", encoding="utf-8")
    with pytest.raises(LibraryError, match="no artist column"):
        read_table(tmp_path / "n.csv")


def test_tsv_and_json(library, tmp_path):
    (tmp_path / "a.tsv").write_text("artist\ttitle\tvalence\tarousal\nX\tTabbed\t0.1\t0.2\n", encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"songs": [{"title": "Jay", "artist": "X", "mood": "sad"}]}),
                                     encoding="utf-8")
    assert import_path(library, tmp_path / "a.tsv").added == 1
    assert import_path(library, tmp_path / "b.json").added == 1
    assert _provenance(library) == {"Tabbed": "given", "Jay": "mood"}
    (tmp_path / "c.json").write_text('[{"title": "ok", "artist": "x"}, 3]', encoding="utf-8")
    with pytest.raises(LibraryError, match=r"c\.json entry 2"):
        import_path(library, tmp_path / "c.json")


def test_importing_twice_adds_nothing(library, tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("title,artist,valence,arousal\nA,B,0.5,0.5\nC,D,0.1,0.9\nA,B,0.5,0.5\n", encoding="utf-8")
    first = import_path(library, csv)
    assert (first.added, first.already) == (2, 1)  # the repeated row is the same song
    before = _dump(library.path)
    second = import_path(library, csv)
    assert (second.added, second.already) == (0, 3)
    assert _dump(library.path) == before


# ------------------------------------------------------------------------------------------------ files


def test_tags_read_back_from_generated_files(tmp_path):
    pytest.importorskip("mutagen")
    sf = pytest.importorskip("soundfile")
    wav = _wav(tmp_path / "t.wav", tags=("Tag Artist", "Tag Title"))
    assert read_tags(wav) == ("Tag Artist", "Tag Title")
    flac = tmp_path / "t.flac"
    sf.write(flac, np.zeros(2205), 22050)
    from mutagen.flac import FLAC

    audio = FLAC(flac)
    audio["artist"], audio["title"] = "Flac Artist", "Flac Title"
    audio.save()
    assert read_tags(flac) == ("Flac Artist", "Flac Title")


def test_folder_import_tags_filename_and_bad_file(library, tmp_path):
    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    _wav(folder / "a.wav", tags=("Known Band", "Blue Song"))  # catalogue match by tags
    _wav(folder / "sub" / "Known Band - Unheard.wav")  # name from the file name, placed by artist mean
    (folder / "broken.mp3").write_bytes(b"this is not an mp3" * 10)
    (folder / "notes.pdf").write_bytes(b"ignored")
    report = import_path(library, folder, use_audio=False)
    assert report.found == 3 and report.added == 2
    assert len(report.skipped) == 1 and "broken.mp3" in report.skipped[0]
    songs = _user_songs(library)
    assert songs["Blue Song"].path == str((folder / "a.wav").resolve())
    assert _provenance(library) == {"Blue Song": "catalogue", "Unheard": "artist_mean"}


def test_lyrics_beside_the_file_come_before_audio(library, tmp_path, monkeypatch):
    seen = {}

    def score_lyrics(text):
        seen["text"] = text
        return types.SimpleNamespace(valence=0.25, arousal=0.3, dominance=0.4, confidence=0.6)

    monkeypatch.setitem(sys.modules, "moodtune.music.lyrics", types.SimpleNamespace(score_lyrics=score_lyrics))
    wav = _wav(tmp_path / "Stranger - Words.wav")
    (tmp_path / "Stranger - Words.lrc").write_text("[ar:Stranger]\n[00:01.00]hello darkness\n", encoding="utf-8")
    assert import_path(library, wav).added == 1
    assert seen["text"] == "hello darkness"
    song = _user_songs(library)["Words"]
    assert (song.valence, song.arousal, song.dominance, song.provenance) == (0.25, 0.3, 0.4, "lyrics")


def test_audio_model_places_an_unknown_song(library, tmp_path):
    pytest.importorskip("librosa")
    wav = _wav(tmp_path / "Nobody - Tone.wav", seconds=2.0)
    report = import_path(library, wav)
    assert report.provenance == {"audio": 1}
    song = _user_songs(library)["Tone"]
    assert 0 <= song.valence <= 1 and 0 <= song.arousal <= 1


def test_m3u_playlist(library, tmp_path):
    _wav(tmp_path / "one.wav", tags=("Known Band", "Glad Song"))
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:123,Someone - Other\nmissing/other.mp3\n"
                        "#EXTINF:10,Ignored - Because Tags Win\none.wav\n"
                        "http://example.invalid/stream.mp3\n", encoding="utf-8")
    report = import_path(library, playlist, use_audio=False)
    assert report.found == 3 and report.added == 2
    assert "stream" in report.skipped[0]  # a bare URL with an unknown name cannot be placed
    assert _provenance(library) == {"Other": "catalogue", "Glad Song": "catalogue"}
    assert _user_songs(library)["Other"].path is None


def test_song_ids_are_stable():
    a = Entry("Glad  Song", "known band", "x").song_id()
    assert a == Entry("glad song", "Known Band", "y").song_id() and a.startswith("user:")
    assert Entry("Track 01", "", "x", path=None).song_id() != Entry("Track 02", "", "x").song_id()


def test_placer_never_averages_guesses():
    placer = Placer([("A", "one", 0.2, 0.2, "rated"), ("A", "two", 0.9, 0.9, "artist_mean")], use_audio=False)
    assert placer.place(artist="a", title="three").valence == pytest.approx(0.2)


# ------------------------------------------------------------------------------------------------ interruption


def test_interrupt_keeps_finished_batches_and_resumes(library, tmp_path, monkeypatch):
    csv = tmp_path / "many.csv"
    csv.write_text("title,artist,valence,arousal\n" + "".join(f"S{i},A,0.5,0.5\n" for i in range(7)),
                   encoding="utf-8")
    calls = {"n": 0}

    def stop(done, total):
        calls["n"] += 1
        if calls["n"] == 5:  # in the third batch of 2
            raise KeyboardInterrupt

    before = len(_dump(library.path))
    with pytest.raises(KeyboardInterrupt):
        import_path(library, csv, batch_size=2, progress=stop)
    assert len(_dump(library.path)) == before + 4  # two whole batches, nothing of the third
    report = import_path(library, csv, batch_size=2)
    assert (report.added, report.already) == (3, 4)
    assert len(_dump(library.path)) == before + 7


def test_failed_batch_is_rolled_back(library):
    before = _dump(library.path)
    good = {"song_id": "user:1", "title": "T", "artist": "A", "valence": 0.5, "arousal": 0.5, "dominance": None,
            "source": "user", "source_id": "1", "provenance": "given", "confidence": 1.0, "path": None}
    with pytest.raises(LibraryError):
        library.add_songs([good, {**good, "song_id": "user:2", "valence": 7.0}])  # CHECK constraint fails
    assert _dump(library.path) == before


_KILLED_IMPORT = textwrap.dedent("""
    import sys, time
    from moodtune.music import Library
    from moodtune.music.importer import import_path

    class Slow:
        # Delegates to the real connection, but stops for good in the middle of inserting a batch.
        def __init__(self, conn):
            self.conn = conn
        def __getattr__(self, name):
            return getattr(self.conn, name)
        def executemany(self, sql, rows):
            def rows_then_wait():
                for i, row in enumerate(rows):
                    if i == 3:
                        print("inside the transaction", flush=True)
                        time.sleep(120)
                    yield row
            return self.conn.executemany(sql, rows_then_wait())

    library = Library(sys.argv[1])
    library._conn = Slow(library._conn)
    import_path(library, sys.argv[2], batch_size=50)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_import_leaves_library_unchanged(library, tmp_path):
    csv = tmp_path / "many.csv"
    csv.write_text("title,artist,valence,arousal\n" + "".join(f"S{i},A,0.5,0.5\n" for i in range(20)),
                   encoding="utf-8")
    library.close()
    before = _dump(library.path)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_IMPORT, str(library.path), str(csv)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "inside the transaction"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert _dump(library.path) == before  # the open transaction died with the process
    with Library(library.path) as again:  # and the library opens and imports normally afterwards
        assert import_path(again, csv).added == 20


def test_cli_import_and_errors(tmp_path, capsys):
    from moodtune.app.cli import main

    db = tmp_path / "cli.sqlite3"
    Library(db, catalogue=write_catalogue(tmp_path / "cat.csv", CATALOGUE)).close()
    csv = tmp_path / "s.csv"
    csv.write_text("title,artist,mood\nA,B,sad\n", encoding="utf-8")
    assert main(["library", "import", str(csv), "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 1
    csv.write_text("title,artist,mood\nA,B,sad\nC,D,\"\n", encoding="utf-8")
    csv.write_text("title,artist,valence,arousal\nA,B,2,2\n", encoding="utf-8")
    assert main(["library", "import", str(csv), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "s.csv line 2" in err
    assert main(["library", "import", str(tmp_path / "nope.csv"), "--db", str(db)]) == 2
    assert "no such file" in capsys.readouterr().err
