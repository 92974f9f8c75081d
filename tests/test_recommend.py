"""Recommendations: emotion or probabilities in, a playlist out. Every database lives under tmp_path."""

import json
import math

import numpy as np
import pytest

from moodtune.emotions import EMOTIONS, nearest_emotion, one_hot, to_point
from moodtune.errors import LibraryError, ParameterError
from moodtune.music import Library
from moodtune.recommend import Pick, Playlist, describe, recommend
from moodtune.recommend.playlist import reason

from .conftest import write_catalogue


def small_library(tmp_path, songs, name="small"):
    return Library(tmp_path / f"{name}.sqlite3", catalogue=write_catalogue(tmp_path / f"{name}.csv", songs))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The shipped catalogue, loaded once into a temporary database."""
    with Library(tmp_path_factory.mktemp("lib") / "library.sqlite3") as lib:
        yield lib


# ------------------------------------------------------------------------------------ with the catalogue


def test_happy_gives_bright_songs(library):
    playlist = recommend(emotion="happy", n=20, library=library)
    assert playlist.emotion == "happy" and len(playlist.picks) == 20
    assert all(pick.song.valence > 0.6 for pick in playlist.picks)
    assert all("bright" in pick.reason and "happy" in pick.reason for pick in playlist.picks)


def test_sad_gives_dark_songs(library):
    playlist = recommend(emotion="Sadness", n=20, library=library)
    assert playlist.emotion == "sad"
    assert all(pick.song.valence < 0.45 for pick in playlist.picks)
    assert all(pick.reason.startswith("dark") for pick in playlist.picks)


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_every_emotion_gets_a_full_close_playlist(library, emotion):
    playlist = recommend(emotion=emotion, library=library)
    assert len(playlist.picks) == 10
    assert playlist.target == pytest.approx(tuple(to_point(one_hot(emotion))))
    distances = [pick.distance for pick in playlist.picks]
    assert distances == sorted(distances) and distances[-1] <= 0.1
    for pick in playlist.picks:
        expected = math.hypot(pick.song.valence - playlist.target[0], pick.song.arousal - playlist.target[1])
        assert pick.distance == pytest.approx(expected)


def _most_by_one_artist(playlist):
    artists = [pick.song.artist.casefold() for pick in playlist.picks]
    return max(artists.count(a) for a in artists)


@pytest.mark.parametrize("cap", [1, 2])
def test_artist_cap_holds_on_the_catalogue(library, cap):
    # Near "sad" some artists have many songs (Cat Power, Elliott Smith), so the cap has work to do.
    assert _most_by_one_artist(recommend(emotion="sad", n=100, library=library, max_per_artist=None)) > 2
    playlist = recommend(emotion="sad", n=100, library=library, max_per_artist=cap)
    assert len(playlist.picks) == 100
    assert _most_by_one_artist(playlist) == cap


def test_same_inputs_same_playlist(library, tmp_path):
    first = recommend(emotion="neutral", n=15, library=library).to_dict()
    assert recommend(emotion="neutral", n=15, library=library).to_dict() == first
    with Library(tmp_path / "other.sqlite3") as other:  # a separate copy of the same catalogue
        assert recommend(emotion="neutral", n=15, library=other).to_dict() == first


def test_probabilities_give_the_blended_target(library):
    probabilities = [0.0, 0.0, 0.0, 0.1, 0.0, 0.9, 0.0]
    playlist = recommend(probabilities=probabilities, n=5, library=library)
    assert playlist.target == pytest.approx(tuple(to_point(probabilities)))
    assert playlist.emotion == "sad"
    # Named after the strongest emotion, even where the blended point lies nearer another anchor.
    blend = recommend(probabilities=[0, 0, 0, 0.5, 0.5, 0, 0], n=1, library=library)
    assert nearest_emotion(blend.target) != "happy" and blend.emotion == "happy"
    # All weight on one emotion is the same as naming it.
    named = recommend(emotion="surprised", n=5, library=library)
    assert recommend(probabilities=one_hot("surprised"), n=5, library=library).to_dict() == named.to_dict()


def test_to_dict_is_json(library):
    playlist = recommend(probabilities=np.full(7, 1 / 7, dtype=np.float32), n=3, library=library)
    data = json.loads(json.dumps(playlist.to_dict()))
    # The keys the CLI's --json has always had, plus the path's.
    assert set(data) == {"emotion", "target", "picks", "strategy", "path", "session", "notes"}
    assert set(data["target"]) == {"valence", "arousal"}
    assert data["strategy"] == "match" and len(data["path"]) == 3 and data["session"] is None
    assert len(data["picks"]) == 3
    assert set(data["picks"][0]) == {"song", "distance", "reason", "step", "point", "familiar"}
    assert [pick["step"] for pick in data["picks"]] == [1, 2, 3]
    assert data["picks"][0]["song"]["song_id"] == playlist.picks[0].song.song_id


def test_default_library_is_opened_in_user_data_folder(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_data_path", lambda app: tmp_path / app)
    playlist = recommend(emotion="happy", n=3)
    assert len(playlist.picks) == 3
    assert (tmp_path / "moodtune" / "library.sqlite3").is_file()


# ------------------------------------------------------------------------------------ with small libraries


def test_artist_cap_is_case_insensitive_and_can_be_lifted(tmp_path):
    songs = [(f"t:{i}", f"Song {i}", name, 0.80, 0.70 + i / 1000)
             for i, name in enumerate(["The Band", "the band", "THE  BAND ", "The Band", "Other"])]
    with small_library(tmp_path, songs) as lib:
        capped = recommend(emotion="happy", n=5, library=lib, max_per_artist=2)
        assert [p.song.song_id for p in capped.picks] == ["t:0", "t:1", "t:4"]
        assert len(recommend(emotion="happy", n=5, library=lib, max_per_artist=None).picks) == 5


def test_same_song_twice_is_picked_once(tmp_path):
    songs = [("a:1", "Hello", "Singer", 0.8, 0.7), ("b:1", "hello ", "SINGER", 0.8, 0.7),
             ("a:2", "Goodbye", "Singer", 0.3, 0.3)]
    with small_library(tmp_path, songs) as lib:
        picks = recommend(emotion="happy", n=3, library=lib, max_per_artist=None).picks
        assert [p.song.song_id for p in picks] == ["a:1", "a:2"]


def test_small_library_returns_what_it_has(tmp_path):
    with small_library(tmp_path, [("t:1", "Only", "One", 0.2, 0.2), ("t:2", "Two", "Two", 0.9, 0.9)]) as lib:
        playlist = recommend(emotion="sad", n=10, library=lib)
        assert [p.song.song_id for p in playlist.picks] == ["t:1", "t:2"]
        assert "the nearest we have to your sad mood" in playlist.picks[1].reason


def test_empty_library_is_a_library_error(tmp_path):
    with small_library(tmp_path, []) as lib, pytest.raises(LibraryError, match="no songs"):
        recommend(emotion="happy", library=lib)


# ------------------------------------------------------------------------------------ arguments and words


@pytest.mark.parametrize("kwargs", [
    {},
    {"emotion": "happy", "probabilities": one_hot("happy")},
    {"emotion": "bored"},
    {"probabilities": [1, 0, 0]},
    {"probabilities": [-1, 0, 0, 2, 0, 0, 0]},
    {"emotion": "happy", "n": 0},
    {"emotion": "happy", "n": 2.5},
    {"emotion": "happy", "n": True},
    {"emotion": "happy", "max_per_artist": 0},
])
def test_bad_arguments_are_parameter_errors(tmp_path, kwargs):
    with small_library(tmp_path, [("t:1", "S", "A", 0.5, 0.5)]) as lib:
        with pytest.raises(ParameterError):
            recommend(library=lib, **kwargs)


def test_reason_reads_like_a_sentence():
    from moodtune.music import Song

    song = Song("x:1", "T", "A", 0.81, 0.70, None, "x", "rated", None)
    assert reason(song, 0.05, "happy") == (
        "bright and energetic (valence 0.81, arousal 0.70) — close to your happy mood")
    assert reason(song, 0.3, "sad").endswith("— the nearest we have to your sad mood")
    assert describe(0.2, 0.2) == "dark and calm"
    assert describe(0.5, 0.5) == "mixed and moderate"
    assert describe(0.3, 0.9) == "dark and energetic"


def test_playlist_objects_are_plain_data():
    from moodtune.music import Song

    song = Song("x:1", "T", "A", 0.5, 0.5, None, "x", "tags", None)
    playlist = Playlist((0.5, 0.5), "neutral", [Pick(song, 0.0, "r")])
    assert len(playlist) == 1
    assert playlist.to_dict()["picks"][0]["song"]["provenance"] == "tags"
