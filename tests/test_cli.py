"""The command line end to end: real photos in, real rows and playlists out, clear errors for bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from moodtune.app.cli import main
from moodtune.emotions import EMOTIONS

from .conftest import EXAMPLE_PHOTO


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_recommend_reads_the_example_photo_as_happy(capsys, library_db):
    status, out, _ = run(capsys, "recommend", EXAMPLE_PHOTO, "--json", "--db", library_db)
    assert status == 0
    report = json.loads(out)
    assert report["faces_found"] == 1
    assert report["emotion"] == "happy"
    probabilities = report["probabilities"]
    assert list(probabilities) == list(EMOTIONS)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    playlist = report["playlist"]
    assert len(playlist["picks"]) == 10
    assert all(pick["song"]["valence"] > 0.55 for pick in playlist["picks"])
    assert all(pick["reason"] for pick in playlist["picks"])


def test_recommend_prints_a_readable_playlist(capsys, library_db):
    status, out, _ = run(capsys, "recommend", EXAMPLE_PHOTO, "-n", "3", "--db", library_db)
    assert status == 0
    assert "happy" in out.splitlines()[0]
    assert sum(line.lstrip()[:2] in ("1.", "2.", "3.") for line in out.splitlines()) == 3


def test_emotion_word_skips_the_photo(capsys, library_db):
    status, out, _ = run(capsys, "recommend", "--emotion", "sadness", "-n", "5", "--json", "--db", library_db)
    assert status == 0
    report = json.loads(out)
    assert report["emotion_given"] == "sad"
    assert len(report["playlist"]["picks"]) == 5
    assert np.mean([p["song"]["valence"] for p in report["playlist"]["picks"]]) < 0.45


def test_unknown_emotion_word_is_refused(capsys, library_db):
    status, _, err = run(capsys, "recommend", "--emotion", "hungry", "--db", library_db)
    assert status == 2
    assert "hungry" in err and "happy" in err


def test_no_face_gives_status_2_and_suggests_emotion(capsys, tmp_path, library_db):
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(noise)
    status, out, err = run(capsys, "recommend", noise, "--db", library_db)
    assert status == 2
    assert "noise.png" in err and "no face" in err and "--emotion" in err
    assert out == ""


@pytest.mark.parametrize("kind", ["missing", "directory", "text", "truncated", "empty"])
def test_bad_files_give_one_clear_line_and_status_2(capsys, tmp_path, kind, library_db):
    path = tmp_path / f"{kind}.jpg"
    if kind == "directory":
        path.mkdir()
    elif kind == "text":
        path.write_text("this is not a picture\n")
    elif kind == "truncated":
        buffer = io.BytesIO()
        Image.open(EXAMPLE_PHOTO).convert("RGB").save(buffer, "JPEG")
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    status, out, err = run(capsys, "recommend", path, "--db", library_db)
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and path.name in lines[0]


def test_face_index_out_of_range(capsys, library_db):
    status, _, err = run(capsys, "recommend", EXAMPLE_PHOTO, "--face", "3", "--db", library_db)
    assert status == 2 and "1 face" in err


def test_detect_json_and_csv_agree(capsys):
    status, out, _ = run(capsys, "detect", EXAMPLE_PHOTO, "--json")
    assert status == 0
    (entry,) = json.loads(out)
    (face,) = entry["faces"]
    assert face["emotion"] == "happy"
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)

    status, out, _ = run(capsys, "detect", EXAMPLE_PHOTO, "--csv")
    assert status == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["emotion"] == "happy"
    assert [int(row[k]) for k in ("x", "y", "width", "height")] == face["box"]
    assert sum(float(row[e]) for e in EMOTIONS) == pytest.approx(1.0, abs=1e-3)


def test_detect_batch_reports_a_bad_file_and_keeps_going(capsys, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    status, out, err = run(capsys, "detect", bad, EXAMPLE_PHOTO)
    assert status == 2
    assert "bad.png" in err
    assert "astronaut.png" in out and "happy" in out


def test_detect_annotate_writes_a_png_with_boxes(capsys, tmp_path):
    out_png = tmp_path / "annotated.png"
    status, _, _ = run(capsys, "detect", EXAMPLE_PHOTO, "--annotate", out_png)
    assert status == 0
    annotated = np.asarray(Image.open(out_png).convert("RGB"))
    original = np.asarray(Image.open(EXAMPLE_PHOTO).convert("RGB"))
    assert annotated.shape == original.shape
    assert (annotated != original).any(axis=2).mean() > 0.001


def test_console_entry_point_runs_as_a_module(tmp_path):
    result = subprocess.run([sys.executable, "-m", "moodtune", "recommend", "--emotion", "happy", "-n", "2",
                             "--db", str(tmp_path / "db.sqlite3")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "happy" in result.stdout
