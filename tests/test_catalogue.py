"""The shipped song catalogue and the script that builds it."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moodtune.emotions import ANCHORS, EMOTIONS
from moodtune.errors import LibraryError
from moodtune.music.catalogue import (
    COLUMNS,
    build_rows,
    format_catalogue,
    read_catalogue,
    shipped_path,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SCRIPT = ROOT / "scripts" / "build_catalogue.py"


@pytest.fixture(scope="module")
def shipped():
    return read_catalogue()


# ------------------------------------------------------------------------------------ the shipped file


def test_shipped_catalogue_is_big_and_well_formed(shipped):
    assert len(shipped) >= 19_000
    ids = [row["song_id"] for row in shipped]
    assert len(set(ids)) == len(ids)
    for row in shipped:
        assert row["song_id"] == f"{row['source']}:{row['source_id']}"
        assert (row["source"], row["provenance"]) in {("pmemo", "rated"), ("deezer", "tags")}
        assert row["title"] and row["artist"] and row["title"] == row["title"].strip()
        for axis in ("valence", "arousal"):
            assert 0.0 <= float(row[axis]) <= 1.0
            assert len(row[axis].split(".")[1]) == 4  # fixed 4-decimal text


def test_shipped_catalogue_has_both_sources_in_order(shipped):
    counts = {src: sum(row["source"] == src for row in shipped) for src in ("pmemo", "deezer")}
    assert counts["pmemo"] > 700 and counts["deezer"] > 18_000
    keys = [(row["source"], int(row["source_id"])) for row in shipped]
    assert keys == sorted(keys)


def test_shipped_file_bytes_are_plain_utf8_with_newlines():
    data = shipped_path().read_bytes()
    assert b"\r" not in data
    assert data.endswith(b"\n")
    assert data.decode("utf-8").split("\n", 1)[0] == ",".join(COLUMNS)


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_every_emotion_has_songs_near_its_anchor(shipped, emotion):
    positions = np.array([(float(r["valence"]), float(r["arousal"])) for r in shipped])
    distance = np.linalg.norm(positions - np.array(ANCHORS[emotion][:2]), axis=1)
    assert (distance <= 0.1).sum() >= 50


# ---------------------------------------------------------------------------- building (synthetic data)


def _write(path: Path, header: str, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")


@pytest.fixture
def fake_data(tmp_path):
    """A tiny made-up data folder in the layout of shared/data/music, with the problems real data has."""
    data = tmp_path / "music"
    _write(data / "pmemo" / "metadata.csv",
           "musicId,fileName,title,artist,album,duration,chorus_start_time,chorus_end_time",
           ["1,1.mp3,Sunny Tune,Band A,X,30,00:01,00:31",
            "2,2.mp3,  sunny  tune ,BAND A,X,30,00:01,00:31",     # same song as 1, messier name
            "5,5.mp3, Slow Song ,²¼Â×´ï.Àî(Brenda Lee),X,30,00:01,00:31",  # garbled artist
            '7,7.mp3,"Comma, Song",Band C,X,30,00:01,00:31'])
    _write(data / "pmemo" / "static_annotations.csv", "musicId,Arousal(mean),Valence(mean)",
           ["1,0.7,0.8",
            "2,0.6,0.7",
            "3,0.5,0.5",      # no metadata row
            "4,0.5,1.2",      # outside [0, 1]
            "5,0.25,0.3",
            "5,0.25,0.3",     # repeated row
            "7,0.1,0.9"])
    header = "dzr_sng_id,MSD_sng_id,MSD_track_id,valence,arousal,artist_name,track_name"
    _write(data / "deezer_mood" / "train.csv", header,
           ["10,SOA,TRA,1.0,-2.0,Band D,Ten",
            "11,SOB,TRB,-2.0,4.0,Band E,Eleven",
            "9,SOC,TRC,0.0,0.0,Band F,Nine"])
    _write(data / "deezer_mood" / "validation.csv", header,
           ["12,SOD,TRD,0.5,0.5,band a,Sunny Tune",   # also in PMEmo
            "13,SOA,TRE,1.0,-2.0,Band D,Ten (Explicit)"])  # same MSD song as 10
    _write(data / "deezer_mood" / "test.csv", header,
           ["10,SOA,TRA,1.0,-2.0,Band D,Ten",  # repeated id
            "14,SOF,TRF,,0.3,Band G,No Valence"])
    return data


def test_build_cleans_scales_and_orders(fake_data):
    rows, report = build_rows(fake_data)
    by_id = {row["song_id"]: row for row in rows}
    assert [row["song_id"] for row in rows] == [
        "deezer:9", "deezer:10", "deezer:11", "pmemo:1", "pmemo:5", "pmemo:7",
    ]
    # Deezer: 0.5 + z / (2 max|z|) with max|z| = 2 (valence) and 4 (arousal) over the whole Deezer set.
    assert (by_id["deezer:9"]["valence"], by_id["deezer:9"]["arousal"]) == ("0.5000", "0.5000")
    assert (by_id["deezer:10"]["valence"], by_id["deezer:10"]["arousal"]) == ("0.7500", "0.2500")
    assert (by_id["deezer:11"]["valence"], by_id["deezer:11"]["arousal"]) == ("0.0000", "1.0000")
    assert report.scale == {"valence": 2.0, "arousal": 4.0}
    # PMEmo: kept on its own scale, names trimmed and repaired.
    assert by_id["pmemo:1"]["valence"] == "0.8000" and by_id["pmemo:1"]["provenance"] == "rated"
    assert (by_id["pmemo:5"]["title"], by_id["pmemo:5"]["artist"]) == ("Slow Song", "Brenda Lee")
    assert report.read == {"pmemo": 7, "deezer": 7}
    assert report.kept == {"pmemo": 3, "deezer": 3}
    assert sum(report.dropped.values()) == 8
    assert report.dropped["pmemo: no title/artist in metadata.csv"] == 1
    assert report.dropped["deezer: same title and artist as a PMEmo song (listener ratings kept)"] == 1


def test_written_file_reads_back(fake_data, tmp_path):
    rows, _ = build_rows(fake_data)
    data = format_catalogue(rows)
    assert b'"Comma, Song"' in data and b"\r" not in data
    out = tmp_path / "catalogue.csv"
    out.write_bytes(data)
    assert read_catalogue(out) == rows
    assert list(csv.reader(io.StringIO(data.decode("utf-8"))))[0] == list(COLUMNS)


def test_missing_source_file_is_a_library_error(fake_data):
    (fake_data / "deezer_mood" / "test.csv").unlink()
    with pytest.raises(LibraryError, match="test.csv"):
        build_rows(fake_data)


def test_catalogue_with_wrong_header_is_rejected(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(LibraryError, match="header"):
        read_catalogue(bad)


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_script_writes_then_checks(fake_data, tmp_path):
    out = tmp_path / "out" / "catalogue.csv"
    assert _run("--data", fake_data, "--out", out).returncode == 0
    assert out.is_file() and (out.parent / "CATALOGUE.md").is_file()
    assert _run("--data", fake_data, "--out", out, "--check").returncode == 0
    out.write_bytes(out.read_bytes().replace(b"0.7500", b"0.7501"))
    result = _run("--data", fake_data, "--out", out, "--check")
    assert result.returncode == 1 and "differs" in result.stderr


def test_script_reports_bad_data_folder(tmp_path):
    result = _run("--data", tmp_path / "nowhere", "--out", tmp_path / "c.csv")
    assert result.returncode == 2 and "metadata.csv" in result.stderr


# ------------------------------------------------------------------------------------ against the real data


@pytest.mark.shared
def test_build_reproduces_shipped_files_byte_for_byte():
    music = SHARED / "music"
    if not (music / "pmemo").is_dir() or not (music / "deezer_mood").is_dir():
        pytest.skip(f"music data not found at {music}")
    result = _run("--data", music, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
