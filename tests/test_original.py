"""The original threshold rules (hand-computed boundary values) and the 7-anchor placement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodtune.app.cli import main
from moodtune.emotions import ANCHORS, EMOTIONS
from moodtune.errors import LibraryError, ParameterError
from moodtune.music.original import (
    RULE_EMOTIONS,
    PmemoSong,
    anchor_distances,
    apply_rules,
    nearest_emotions,
    place_songs,
    read_pmemo,
    rule_emotion,
)

# (centred valence, centred arousal) -> emotion, each worked out by hand from the table in original.py.
BOUNDARIES = [
    ((0.0, 0.0), "neutral"),        # the origin
    ((0.24, 0.0), "neutral"),       # 0.0576 < 0.0625: inside the neutral circle
    ((0.25, 0.0), "happy"),         # on the circle is outside it; v >= 0, a = 0 < v
    ((0.0, 0.25), "surprised"),     # v = 0 counts as pleasant; a >= v
    ((-0.24, 0.0), "neutral"),
    ((-0.25, 0.0), "afraid"),       # v < 0, a = 0 >= 0 but 0 < 0.75 * 0.25
    ((0.0, -0.25), "neutral"),      # v >= 0, a < 0: calm
    ((-0.25, -0.25), "sad"),        # 0.125 >= 0.0625, both negative
    ((0.5, 0.5), "surprised"),      # on the diagonal a >= v
    ((0.5, 0.499), "happy"),
    ((-0.5, 0.375), "angry"),       # exactly a = 0.75 |v|
    ((-0.5, 0.374), "afraid"),
    ((1.0, 1.0), "surprised"),
    ((1.0, -1.0), "neutral"),
    ((-1.0, 1.0), "angry"),
    ((-1.0, -1.0), "sad"),
    ((-1.0, 0.0), "afraid"),
]


@pytest.mark.parametrize(("point", "expected"), BOUNDARIES)
def test_threshold_rules_match_hand_computed_labels(point, expected):
    assert rule_emotion(*point) == expected


def test_rules_never_give_disgusted_and_cover_six_emotions():
    grid = np.linspace(-1, 1, 41)
    seen = {rule_emotion(float(v), float(a)) for v in grid for a in grid}
    assert seen == set(RULE_EMOTIONS)
    assert "disgusted" not in RULE_EMOTIONS and len(RULE_EMOTIONS) == 6


def test_centring_half_and_median():
    # Centre 0.5: 0.625 -> v = 0.25, 0.5 -> a = 0 (happy, as above); 0.375/0.875 -> v = -0.25, a = 0.75 (angry).
    labels, centre = apply_rules([0.625, 0.375], [0.5, 0.875])
    assert labels == ["happy", "angry"] and centre == (0.5, 0.5)
    # Medians 0.6: values become -0.8, 0, 0.6 on both axes.
    labels, centre = apply_rules([0.2, 0.6, 0.9], [0.2, 0.6, 0.9], centre="median")
    assert labels == ["sad", "neutral", "surprised"] and centre == (0.6, 0.6)


def test_rules_refuse_bad_input():
    with pytest.raises(ParameterError):
        rule_emotion(math.nan, 0.0)
    with pytest.raises(ParameterError):
        apply_rules([0.5], [0.5], centre="mean")


def test_each_anchor_is_its_own_nearest_point():
    points = np.array([ANCHORS[e][:2] for e in EMOTIONS])
    dominance = np.array([ANCHORS[e][2] for e in EMOTIONS])
    assert nearest_emotions(points, dominance) == list(EMOTIONS)
    assert np.allclose(np.diag(anchor_distances(points, dominance)), 0.0)


def test_dominance_separates_angry_from_afraid():
    point = np.array([ANCHORS["angry"][:2]])
    assert nearest_emotions(point, np.array([math.nan])) == ["angry"]  # no dominance: valence/arousal only
    # Submissive words move it to the nearest submissive anchor: disgusted lies closer to angry than afraid does.
    assert nearest_emotions(point, np.array([ANCHORS["afraid"][2]])) == ["disgusted"]
    assert nearest_emotions(point, np.array([ANCHORS["angry"][2]])) == ["angry"]


def _songs():
    # Made-up ratings, all pleasant and lively, as lopsided as PMEmo: the rules leave most emotions empty.
    rng = np.random.default_rng(0)
    return [PmemoSong(str(i), f"Song {i}", "Artist", float(v), float(a), math.nan)
            for i, (v, a) in enumerate(rng.uniform(0.65, 0.95, size=(20, 2)))]


def test_improved_placement_never_leaves_an_emotion_empty():
    report = place_songs(_songs(), top=2)
    assert sum(report.rules.values()) == 20
    assert report.rules["sad"] == report.rules["angry"] == 0
    assert all(len(report.top[e]) == 2 for e in EMOTIONS)
    assert "disgusted" in "\n".join(report.lines())


def test_pmemo_rules_command_reads_a_pmemo_folder(tmp_path, capsys):
    folder = tmp_path / "pmemo"
    folder.mkdir()
    (folder / "static_annotations.csv").write_text("musicId,Arousal(mean),Valence(mean)\n1,0.9,0.9\n2,0.2,0.2\n")
    (folder / "metadata.csv").write_text("musicId,fileName,title,artist\n1,1.mp3,Up,A\n2,2.mp3,Down,B\n")
    assert main(["pmemo-rules", "--data", str(folder), "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "surprised" in out and "Up — A" in out and "Down — B" in out


def test_pmemo_rules_says_where_the_data_is(tmp_path, capsys):
    assert main(["pmemo-rules", "--data", str(tmp_path / "absent")]) == 2
    assert "../shared/data/music/pmemo" in capsys.readouterr().err
    with pytest.raises(LibraryError):
        read_pmemo(tmp_path)


@pytest.mark.shared
def test_pmemo_counts(shared_data):
    music = shared_data / "music"
    songs = read_pmemo(music / "pmemo", lyrics=music / "lyrics_4q_genius" / "filtered_dataset_with_lyrics.csv")
    report = place_songs(songs)
    assert sum(report.rules.values()) == len(songs) == 767
    assert report.rules["afraid"] + report.rules["angry"] <= 73  # PMEmo's V-A+ quadrant at centre 0.5
    assert report.with_dominance > 50
