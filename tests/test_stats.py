"""Library statistics and the circumplex scatter."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from moodtune.emotions import ANCHORS, EMOTIONS, nearest_emotion
from moodtune.errors import LibraryError
from moodtune.music import Library
from moodtune.music.stats import compute, draw_scatter, nearest_emotions, save_scatter

from .conftest import write_catalogue


def test_vectorised_nearest_emotion_agrees():
    rng = np.random.default_rng(1)
    points = np.vstack([rng.random((300, 2)), [ANCHORS[e][:2] for e in EMOTIONS]])
    assert [EMOTIONS[i] for i in nearest_emotions(points)] == [nearest_emotion(p) for p in points]


def test_counts_per_emotion_and_provenance():
    details = [(0.85, 0.66, "rated", None), (0.31, 0.38, "tags", None), (0.30, 0.40, "audio", 0.4),
               (0.5, 0.5, "audio", 0.2), (0.9, 0.7, "given", 1.0)]
    stats, points, emotion = compute(details)
    assert stats.total == 5 and points.shape == (5, 2)
    assert stats.by_emotion == {"afraid": 0, "angry": 0, "disgusted": 0, "happy": 2, "neutral": 1, "sad": 2,
                                "surprised": 0}
    assert list(stats.by_provenance.items()) == [("audio", 2), ("given", 1), ("rated", 1), ("tags", 1)]
    assert stats.mean_confidence == {"audio": 0.3, "given": 1.0, "rated": None, "tags": None}
    assert [EMOTIONS[i] for i in emotion] == ["happy", "sad", "sad", "neutral", "happy"]


def test_empty_library_stats_and_scatter():
    stats, points, emotion = compute([])
    assert stats.total == 0 and sum(stats.by_emotion.values()) == 0
    assert draw_scatter(points, emotion).ndim == 3


def test_scatter_png(tmp_path):
    points = np.array([ANCHORS[e][:2] for e in EMOTIONS])
    emotion = nearest_emotions(points)
    out = save_scatter(tmp_path / "lib.png", points, emotion, counts={e: 1 for e in EMOTIONS})
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 500 and image.shape[1] > 500
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # something was drawn
    with pytest.raises(LibraryError, match=r"\.png"):
        save_scatter(tmp_path / "lib.jpg", points, emotion)
    with pytest.raises(LibraryError, match="does not exist"):
        save_scatter(tmp_path / "no" / "lib.png", points, emotion)


def test_cli_stats(tmp_path, capsys):
    from moodtune.app.cli import main

    db = tmp_path / "s.sqlite3"
    songs = [("t:1", "Glad", "A", 0.85, 0.66), ("t:2", "Blue", "B", 0.3, 0.38)]
    Library(db, catalogue=write_catalogue(tmp_path / "c.csv", songs)).close()
    png = tmp_path / "out.png"
    assert main(["library", "stats", "--db", str(db), "--json", "--png", str(png)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["songs"] == 2 and data["by_emotion"]["happy"] == 1 and data["by_provenance"] == {"rated": 2}
    assert png.is_file()
    assert main(["library", "stats", "--db", str(db)]) == 0
    assert "provenance:" in capsys.readouterr().out
