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


# ------------------------------------------------------------------------------------ strategies, feedback, history


@pytest.fixture
def db(fresh_db):
    return fresh_db


def recommend_json(capsys, db, *argv):
    status, out, err = run(capsys, "recommend", "--json", "--db", db, *argv)
    assert status == 0, err
    return json.loads(out)["playlist"], err


def test_lift_strategy_goes_from_sad_to_bright(capsys, db):
    playlist, _ = recommend_json(capsys, db, "--emotion", "sad", "--strategy", "lift")
    valence = [pick["song"]["valence"] for pick in playlist["picks"]]
    assert playlist["strategy"] == "lift" and len(playlist["path"]) == 10
    assert [pick["step"] for pick in playlist["picks"]] == list(range(1, 11))
    assert all(b >= a - 0.02 for a, b in zip(valence, valence[1:], strict=False)) and valence[-1] >= 0.7
    assert "step 10 of 10 from sad toward a brighter mood" in playlist["picks"][-1]["reason"]
    assert playlist["session"] == 1


def test_text_output_shows_strategy_session_and_song_ids(capsys, db):
    status, out, _ = run(capsys, "recommend", "--emotion", "angry", "--strategy", "calm", "-n", "4", "--db", db)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("Mood: angry") and "calm: 4 songs" in lines[0] and "(session 1)" in lines[0]
    assert len(lines) == 5 and "step 4 of 4 from angry toward calm" in lines[4]
    assert lines[1].rstrip().endswith(")") and ":" in lines[1].rsplit("(", 1)[1]  # the song id, for feedback


def test_goal_option_implies_the_goal_strategy(capsys, db):
    playlist, _ = recommend_json(capsys, db, "--emotion", "happy", "--goal", "0.6,0.2", "-n", "5")
    assert playlist["strategy"] == "goal 0.6,0.2"
    assert playlist["path"][-1] == {"valence": 0.6, "arousal": 0.2}


@pytest.mark.parametrize("argv, words", [
    (["--strategy", "goal"], ["--goal"]),
    (["--goal", "0.8"], ["goal", "0.8"]),
    (["--goal", "2,0.5"], ["goal", "0 to 1"]),
    (["--strategy", "lift", "--goal", "0.5,0.5"], ["only used by strategy goal"]),
    (["--strategy", "upbeat"], ["upbeat", "match, lift, calm, goal"]),
    (["--format", "csv"], ["--export"]),
    (["--export", "playlist.wav"], ["playlist.wav", "--format"]),
    (["--max-per-artist", "-1"], ["--max-per-artist"]),
    (["--seed", "-3"], ["seed"]),
])
def test_bad_recommend_options_give_one_line_and_status_2(capsys, db, argv, words):
    status, out, err = run(capsys, "recommend", "--emotion", "sad", "--db", db, *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and all(w in err for w in words)


def test_same_seed_same_playlist(capsys, db):
    first, _ = recommend_json(capsys, db, "--emotion", "neutral", "--seed", "5", "--avoid-recent", "0")
    again, _ = recommend_json(capsys, db, "--emotion", "neutral", "--seed", "5", "--avoid-recent", "0")
    assert first["picks"] == again["picks"] and first["session"] != again["session"]


@pytest.mark.parametrize("suffix", [".m3u8", ".xspf", ".json", ".csv"])
def test_export_writes_the_playlist(capsys, db, tmp_path, suffix):
    target = tmp_path / f"out{suffix}"
    playlist, err = recommend_json(capsys, db, "--emotion", "sad", "-n", "3", "--export", target)
    text = target.read_text(encoding="utf-8")
    assert all(pick["song"]["title"].split("\n")[0] in text for pick in playlist["picks"])
    assert f"wrote 3 songs to {target}" in err
    if suffix == ".m3u8":
        assert text.startswith("#EXTM3U") and "lists them as comments" in err


def test_export_to_a_missing_folder_fails_before_recording(capsys, db, tmp_path):
    status, out, err = run(capsys, "recommend", "--emotion", "sad", "--export", tmp_path / "no" / "p.xspf",
                           "--db", db)
    assert status == 2 and out == "" and "does not exist" in err and len(err.strip().splitlines()) == 1
    status, out, _ = run(capsys, "history", "--db", db)
    assert status == 0 and out.startswith("no history recorded")


def test_skipped_song_does_not_come_back(capsys, db):
    first, _ = recommend_json(capsys, db, "--emotion", "sad")
    skipped = first["picks"][0]["song"]["song_id"]
    status, out, _ = run(capsys, "feedback", skipped, "skip", "--db", db)
    assert status == 0 and out.startswith("recorded skip:") and "in session 1" in out
    again, _ = recommend_json(capsys, db, "--emotion", "sad", "--avoid-recent", "0")
    assert skipped not in [pick["song"]["song_id"] for pick in again["picks"]]


def test_feedback_errors(capsys, db):
    status, _, err = run(capsys, "feedback", "nope:1", "like", "--db", db)
    assert status == 2 and "no song 'nope:1'" in err
    status, _, err = run(capsys, "feedback", "pmemo:1", "like", "--session", "4", "--db", db)
    assert status == 2 and "no session 4" in err
    with pytest.raises(SystemExit):
        main(["feedback", "pmemo:1", "love", "--db", str(db)])  # argparse: not one of the choices


def test_history_text_and_json(capsys, db):
    playlist, _ = recommend_json(capsys, db, "--emotion", "sad", "--strategy", "lift", "-n", "4")
    liked = playlist["picks"][1]["song"]["song_id"]
    run(capsys, "feedback", liked, "like", "--db", db)
    run(capsys, "feedback", "pmemo:1", "played", "--db", db)
    status, out, _ = run(capsys, "history", "--db", db)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("session 1 ") and "sad  lift  4 songs  (1 liked, 0 skipped, 0 played)" in lines[0]
    assert lines[1].split()[0] == "like" and liked in lines[1]
    assert lines[2] == "feedback outside sessions:" and "pmemo:1" in lines[3]
    status, out, _ = run(capsys, "history", "--json", "--db", db)
    data = json.loads(out)
    (session,) = data["sessions"]
    assert session["session"] == 1 and session["strategy"] == "lift" and len(session["songs"]) == 4
    assert session["probabilities"]["sad"] == 1.0
    assert [(e["song_id"], e["kind"]) for e in session["events"]] == [(liked, "like")]
    assert [e["kind"] for e in data["events_outside_sessions"]] == ["played"]


def test_history_and_forget_of_a_missing_library_create_nothing(capsys, tmp_path):
    missing = tmp_path / "none.sqlite3"
    assert run(capsys, "history", "--db", missing)[:2] == (0, f"no history: {missing} does not exist yet\n")
    assert json.loads(run(capsys, "history", "--json", "--db", missing)[1]) == {
        "sessions": [], "events_outside_sessions": []}
    assert run(capsys, "forget", "--db", missing)[0] == 0
    assert not missing.exists()


class FakeStdin(io.StringIO):
    def __init__(self, text, *, tty):
        super().__init__(text)
        self.tty = tty

    def isatty(self):
        return self.tty


def test_forget_asks_refuses_without_a_terminal_and_erases_with_yes(capsys, db, monkeypatch):
    recommend_json(capsys, db, "--emotion", "sad", "-n", "3")
    run(capsys, "feedback", "pmemo:1", "like", "--db", db)

    monkeypatch.setattr(sys, "stdin", FakeStdin("", tty=False))
    status, _, err = run(capsys, "forget", "--db", db)
    assert status == 2 and "--yes" in err and len(err.strip().splitlines()) == 1

    monkeypatch.setattr(sys, "stdin", FakeStdin("n\n", tty=True))
    status, _, err = run(capsys, "forget", "--db", db)
    assert status == 1 and "[y/N]" in err and "nothing erased" in err
    assert "session 1" in run(capsys, "history", "--db", db)[1]

    monkeypatch.setattr(sys, "stdin", FakeStdin("yes\n", tty=True))
    status, out, _ = run(capsys, "forget", "--db", db)
    assert status == 0 and "erased 1 session and 1 feedback event" in out
    assert run(capsys, "history", "--db", db)[1].startswith("no history recorded")

    recommend_json(capsys, db, "--emotion", "sad", "-n", "3")
    status, out, _ = run(capsys, "forget", "--yes", "--db", db)
    assert status == 0 and "erased 1 session and 0 feedback events" in out


def test_empty_library_gives_a_clear_message(capsys, tmp_path):
    from moodtune.music import Library

    from .conftest import write_catalogue

    empty = tmp_path / "empty.sqlite3"
    Library(empty, catalogue=write_catalogue(tmp_path / "empty.csv", [])).close()
    status, out, err = run(capsys, "recommend", "--emotion", "sad", "--strategy", "lift", "--db", empty)
    assert status == 2 and out == ""
    assert "has no songs" in err and len(err.strip().splitlines()) == 1
