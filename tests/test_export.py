"""Playlist files: M3U8, XSPF, JSON, CSV; written atomically, with clear errors."""

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from moodtune.errors import ExportError, MoodtuneError
from moodtune.music import Song
from moodtune.recommend import Pick, Playlist
from moodtune.recommend.export import CSV_COLUMNS, XSPF_NS, export, format_for, to_csv, to_json, to_m3u8, to_xspf

NS = {"x": XSPF_NS}


@pytest.fixture
def playlist(tmp_path):
    """Three songs: a catalogue song (no file), a local file, and one with awkward characters."""
    audio = tmp_path / "music" / "Ünïcode song.mp3"
    songs = [
        Song("deezer:1", "Blue Day", "The Band", 0.31, 0.38, None, "deezer", "tags", None),
        Song("user:2", "Morning", "Solo Artist", 0.55, 0.48, None, "user", "rated", str(audio)),
        Song("pmemo:3", "Two\nLines & <tags>", "Odd\x01Name", 0.80, 0.60, None, "pmemo", "rated", None),
    ]
    path = ((0.31, 0.38), (0.55, 0.49), (0.80, 0.60))
    picks = [Pick(song, 0.01 * i, f"reason {i} — step {i + 1} of 3", i + 1, path[i], i == 1)
             for i, song in enumerate(songs)]
    return Playlist(path[0], "sad", picks, strategy="lift", path=path, session=7)


def test_m3u8_lists_files_and_keeps_the_rest_as_comments(playlist, tmp_path):
    lines = to_m3u8(playlist).splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[1] == "#PLAYLIST:moodtune: lift from sad"
    assert lines[2] == "# The Band - Blue Day (deezer:1; no local file)"
    assert lines[3:5] == ["#EXTINF:-1,Solo Artist - Morning", str(tmp_path / "music" / "Ünïcode song.mp3")]
    assert lines[5] == "# Odd\x01Name - Two Lines & <tags> (pmemo:3; no local file)"  # no line break inside
    assert len(lines) == 6
    # Every #EXTINF is followed by a location; no other line is an entry.
    entries = [line for line in lines if not line.startswith("#")]
    assert entries == [str(tmp_path / "music" / "Ünïcode song.mp3")]


def test_xspf_is_valid_xml_with_a_track_per_song(playlist, tmp_path):
    root = ET.fromstring(to_xspf(playlist).encode("utf-8"))
    assert root.tag == f"{{{XSPF_NS}}}playlist" and root.get("version") == "1"
    assert root.find("x:title", NS).text == "moodtune: lift from sad"
    tracks = root.findall("x:trackList/x:track", NS)
    assert [t.find("x:title", NS).text for t in tracks] == ["Blue Day", "Morning", "Two\nLines & <tags>"]
    assert [t.find("x:creator", NS).text for t in tracks] == ["The Band", "Solo Artist", "OddName"]
    assert [t.find("x:annotation", NS).text for t in tracks] == [p.reason for p in playlist.picks]
    locations = [t.find("x:location", NS) for t in tracks]
    assert locations[0] is None and locations[2] is None
    assert locations[1].text == (tmp_path / "music" / "Ünïcode song.mp3").as_uri()
    assert locations[1].text.startswith("file:///") and "%C3%9C" in locations[1].text
    # Child order follows the XSPF schema.
    assert [child.tag.split("}")[1] for child in tracks[1]] == ["location", "title", "creator", "annotation"]


def test_json_is_the_playlist_dict(playlist):
    data = json.loads(to_json(playlist))
    assert data == json.loads(json.dumps(playlist.to_dict()))
    assert data["strategy"] == "lift" and data["session"] == 7 and len(data["path"]) == 3


def test_csv_has_a_row_per_song(playlist):
    rows = list(csv.DictReader(io.StringIO(to_csv(playlist), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["song_id"] for r in rows] == ["deezer:1", "user:2", "pmemo:3"]
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert rows[2]["title"] == "Two\nLines & <tags>"  # quoted by the csv module, read back intact
    assert rows[0]["path"] == "" and rows[1]["path"].endswith("Ünïcode song.mp3")
    assert rows[1]["familiar"] == "1" and rows[1]["target_arousal"] == "0.4900"


@pytest.mark.parametrize("name, expected", [("a.m3u8", "m3u8"), ("a.M3U", "m3u8"), ("a.xspf", "xspf"),
                                            ("a.json", "json"), ("a.csv", "csv")])
def test_format_from_the_extension(playlist, tmp_path, name, expected):
    assert format_for(name) == expected
    written = export(playlist, tmp_path / name)
    writer = {"m3u8": to_m3u8, "xspf": to_xspf, "json": to_json, "csv": to_csv}[expected]
    assert written.read_text(encoding="utf-8") == writer(playlist)
    assert written.stat().st_mode & 0o777 == 0o644


def test_format_option_wins_over_the_extension(playlist, tmp_path):
    written = export(playlist, tmp_path / "playlist.txt", format="XSPF")
    assert written.read_text(encoding="utf-8").startswith("<?xml")
    with pytest.raises(ExportError, match="unknown playlist format 'wav'"):
        export(playlist, tmp_path / "x.m3u8", format="wav")


@pytest.mark.parametrize("name", ["playlist.txt", "playlist"])
def test_unknown_extension_is_a_clear_error(playlist, tmp_path, name):
    with pytest.raises(ExportError, match="--format"):
        export(playlist, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_folder_in_the_way(playlist, tmp_path):
    with pytest.raises(MoodtuneError, match="folder .*missing.* does not exist"):
        export(playlist, tmp_path / "missing" / "p.m3u8")
    (tmp_path / "taken.json").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        export(playlist, tmp_path / "taken.json")


def test_writing_replaces_atomically(playlist, tmp_path, monkeypatch):
    target = tmp_path / "p.json"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o600)

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ExportError, match="No space left on device"):
        export(playlist, target)
    assert target.read_text(encoding="utf-8") == "old"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # and no temporary file is left
    monkeypatch.undo()
    export(playlist, target)
    assert json.loads(target.read_text(encoding="utf-8"))["session"] == 7
    assert target.stat().st_mode & 0o777 == 0o600  # an existing file keeps its permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_export_accepts_str_paths(playlist, tmp_path):
    assert export(playlist, str(tmp_path / "p.csv")) == Path(tmp_path / "p.csv")
