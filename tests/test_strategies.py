"""Strategies (paths through valence/arousal), the selection along them, and the grid index underneath."""

import sqlite3

import numpy as np
import pytest

from moodtune.emotions import EMOTIONS, one_hot, to_point
from moodtune.errors import ParameterError
from moodtune.music import Library, Song
from moodtune.music.index import WHOLE_SQUARE, GridIndex
from moodtune.music.library import SongTable
from moodtune.recommend import recommend, selection, strategies
from moodtune.recommend.selection import Feedback, select
from moodtune.recommend.strategies import CALM_TO, LIFT_TO, Strategy, get_strategy, names, parse_goal, register

from .test_recommend import small_library

SAD = tuple(to_point(one_hot("sad")))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The shipped catalogue, loaded once into a temporary database."""
    with Library(tmp_path_factory.mktemp("lib") / "library.sqlite3") as lib:
        yield lib


# ------------------------------------------------------------------------------------ the registry


def test_registry_knows_the_four_strategies():
    assert names()[:4] == ["match", "lift", "calm", "goal"]
    assert get_strategy("LIFT").name == "lift"
    assert get_strategy(" calm ").name == "calm"
    with pytest.raises(ParameterError, match="match, lift, calm, goal"):
        get_strategy("uplift")
    with pytest.raises(ParameterError):
        get_strategy(3)


@pytest.mark.parametrize("goal", ["0.8,0.3", " 0.8 , 0.3 ", (0.8, 0.3), [0.8, 0.3], np.array([0.8, 0.3]), "0.8,.3"])
def test_goal_reads_text_and_pairs(goal):
    assert parse_goal(goal) == pytest.approx((0.8, 0.3))
    strategy = get_strategy("goal", goal=goal)
    assert strategy.spec == "goal 0.8,0.3"
    assert get_strategy(strategy.spec).point == strategy.point  # the stored text reads back


@pytest.mark.parametrize("goal", ["0.8", "0.8,0.3,0.1", "a,b", "", "1.2,0.3", "0.5,-0.1", "nan,0.5", "inf,0.5",
                                  (0.5,), None, 7])
def test_bad_goals_are_parameter_errors(goal):
    with pytest.raises(ParameterError, match="goal"):
        get_strategy("goal", goal=goal)


def test_goal_only_with_the_goal_strategy():
    with pytest.raises(ParameterError, match="only used by strategy goal"):
        get_strategy("lift", goal="0.8,0.3")
    with pytest.raises(ParameterError, match="already names"):
        get_strategy("goal 0.8,0.3", goal="0.1,0.1")
    assert get_strategy("goal 0.2,0.9").point == (0.2, 0.9)


def test_a_new_strategy_is_one_small_class(monkeypatch, library):
    monkeypatch.setattr(strategies, "_REGISTRY", dict(strategies._REGISTRY))

    @register
    class Energise(Strategy):
        name = "energise"
        toward = "energy"

        def destination(self, start):
            return np.array([start[0], 0.9])

    assert "energise" in names()
    playlist = recommend(emotion="sad", n=5, library=library, strategy="energise")
    assert playlist.strategy == "energise"
    assert "toward energy" in playlist.picks[-1].reason
    with pytest.raises(ValueError):
        register(Energise)  # the name is taken


# ------------------------------------------------------------------------------------ paths


@pytest.mark.parametrize("name", ["match", "lift", "calm", "goal 0.9,0.1"])
@pytest.mark.parametrize("emotion", EMOTIONS)
def test_paths_start_at_the_mood_and_move_in_equal_steps(name, emotion):
    start = to_point(one_hot(emotion))
    strategy = get_strategy(name)
    path = strategy.path(start, n=10)
    assert path.shape == (10, 2)
    assert path[0] == pytest.approx(start)
    assert path[-1] == pytest.approx(strategy.destination(start))
    steps = np.diff(path, axis=0)
    assert steps == pytest.approx(np.tile(steps[0], (9, 1)))
    assert np.all((path >= 0) & (path <= 1))
    assert strategy.path(start, n=1) == pytest.approx(start[None, :])  # one song: the mood itself


def test_destinations():
    assert get_strategy("match").path(SAD, n=4) == pytest.approx(np.tile(SAD, (4, 1)))
    assert tuple(get_strategy("lift").path(SAD, n=4)[-1]) == pytest.approx(LIFT_TO)
    assert tuple(get_strategy("calm").path(SAD, n=4)[-1]) == pytest.approx(CALM_TO)
    # Lifting an already bright mood never darkens it.
    bright = (0.95, 0.5)
    assert np.all(np.diff(get_strategy("lift").path(bright, n=6)[:, 0]) >= 0)


# ------------------------------------------------------------------------------------ playlists along paths


def test_lift_from_sad_brightens_steadily_and_ends_clearly_positive(library):
    playlist = recommend(emotion="sad", n=10, library=library, strategy="lift")
    valence = [pick.song.valence for pick in playlist.picks]
    assert len(valence) == 10
    assert valence[0] < 0.4  # starts where the listener is (iso principle)
    assert all(later >= earlier - 0.02 for earlier, later in zip(valence, valence[1:], strict=False))
    assert valence[-1] >= 0.7
    assert [pick.step for pick in playlist.picks] == list(range(1, 11))
    assert all(pick.distance <= 0.1 for pick in playlist.picks)
    assert playlist.picks[2].reason.endswith("— step 3 of 10 from sad toward a brighter mood")


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_lift_never_falls_from_any_mood(library, emotion):
    valence = [pick.song.valence for pick in recommend(emotion=emotion, n=12, library=library,
                                                       strategy="lift").picks]
    assert all(later >= earlier - 0.05 for earlier, later in zip(valence, valence[1:], strict=False))
    assert valence[-1] >= 0.7


def test_calm_from_angry_ends_calm_and_positive(library):
    playlist = recommend(emotion="angry", n=10, library=library, strategy="calm")
    last = playlist.picks[-1].song
    assert last.arousal <= 0.4 and last.valence >= 0.6
    arousal = [pick.song.arousal for pick in playlist.picks]
    assert arousal[0] > 0.6 and all(b <= a + 0.05 for a, b in zip(arousal, arousal[1:], strict=False))
    assert "toward calm" in playlist.picks[-1].reason


def test_goal_reaches_its_point(library):
    playlist = recommend(emotion="happy", n=8, library=library, strategy="goal", goal="0.6,0.2")
    last = playlist.picks[-1]
    assert last.point == pytest.approx((0.6, 0.2))
    assert np.hypot(last.song.valence - 0.6, last.song.arousal - 0.2) <= 0.1
    assert playlist.strategy == "goal 0.6,0.2"
    data = playlist.to_dict()
    assert len(data["path"]) == 8 and data["path"][-1] == {"valence": 0.6, "arousal": 0.2}
    assert [p["point"] for p in data["picks"]] == data["path"]


@pytest.mark.parametrize("strategy", ["match", "lift", "calm"])
@pytest.mark.parametrize("cap", [1, 2])
def test_artist_cap_holds_for_every_strategy(library, strategy, cap):
    playlist = recommend(emotion="sad", n=60, library=library, strategy=strategy, max_per_artist=cap)
    artists = [" ".join(pick.song.artist.casefold().split()) for pick in playlist.picks]
    assert len(artists) == 60
    assert max(artists.count(a) for a in artists) <= cap
    assert len({pick.song.song_id for pick in playlist.picks}) == 60


def test_same_inputs_and_seed_give_the_same_playlist(library, tmp_path):
    for strategy in ("match", "lift"):
        first = recommend(emotion="neutral", n=15, library=library, strategy=strategy, seed=7).to_dict()
        assert recommend(emotion="neutral", n=15, library=library, strategy=strategy, seed=7).to_dict() == first
        with Library(tmp_path / f"copy-{strategy}.sqlite3") as other:  # another file, the same catalogue
            assert recommend(emotion="neutral", n=15, library=other, strategy=strategy, seed=7).to_dict() == first
    ids = {seed: [p.song.song_id for p in recommend(emotion="neutral", n=15, library=library, seed=seed).picks]
           for seed in (1, 2)}
    assert ids[1] != ids[2]  # another seed, another (equally close) selection
    picks = recommend(emotion="neutral", n=15, library=library, seed=1).picks
    assert max(pick.distance for pick in picks) <= 0.1


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"seed": 1.5}, {"seed": True}, {"avoid_recent": -1},
                                    {"familiar_share": 1.5}, {"strategy": "sideways"},
                                    {"strategy": "goal"}, {"strategy": "lift", "goal": (0.5, 0.5)}])
def test_bad_recommend_arguments(library, kwargs):
    with pytest.raises(ParameterError):
        recommend(emotion="sad", library=library, **kwargs)


def test_dominance_decides_where_songs_carry_it(tmp_path):
    # In valence/arousal "Meek" is the closer of two songs to angry, a mood of fairly high dominance.
    angry = to_point(one_hot("angry"), dims=3)
    songs = [("d:1", "Meek", "A", angry[0] + 0.01, angry[1]), ("d:2", "Bold", "B", angry[0] - 0.02, angry[1])]
    lib = small_library(tmp_path, songs)
    assert [p.song.song_id for p in recommend(emotion="angry", n=2, library=lib).picks] == ["d:1", "d:2"]
    lib.close()
    with sqlite3.connect(lib.path) as conn:
        conn.execute("UPDATE songs SET dominance = 0.1 WHERE song_id = 'd:1'")
        conn.execute("UPDATE songs SET dominance = ? WHERE song_id = 'd:2'", (float(angry[2]),))
    with Library(lib.path) as lib:
        playlist = recommend(emotion="angry", n=2, library=lib)
        assert [p.song.song_id for p in playlist.picks] == ["d:2", "d:1"]
        assert playlist.picks[0].distance == pytest.approx(0.02, abs=1e-4)  # the same dominance as the mood
        assert playlist.picks[1].distance > 0.4  # far off in dominance
        assert "the nearest we have" in playlist.picks[1].reason


# ------------------------------------------------------------------------------------ the index and the search


def random_table(count, *, seed=0, artists=50):
    rng = np.random.default_rng(seed)
    points = np.clip(rng.normal(0.5, 0.2, (count, 2)), 0, 1)
    songs = [Song(f"r:{i:05d}", f"Song {i % 300}", f"Artist {rng.integers(artists)}", float(v), float(a),
                         None, "r", "rated", None) for i, (v, a) in enumerate(points)]
    return SongTable.build(songs)


@pytest.mark.parametrize("per_cell", [1, 16, 10_000])
def test_grid_within_and_nearest_agree_with_a_full_scan(per_cell):
    table = random_table(3000)
    grid = GridIndex(table.positions, per_cell=per_cell)
    rng = np.random.default_rng(1)
    for point in [*rng.random((20, 2)), (0, 0), (1, 1), (0.5, 1.0)]:
        distance = np.hypot(*(table.positions - point).T)
        for radius in (0.0, 0.01, 0.07, 0.3, WHOLE_SQUARE):
            rows, found = grid.within(point, radius)
            assert sorted(rows) == list(np.flatnonzero(distance <= radius))
            assert found == pytest.approx(distance[rows])
        rows, _ = grid.nearest(point, 25)
        assert list(rows) == list(np.lexsort((np.arange(len(distance)), distance))[:25])
    assert len(grid.nearest((0.5, 0.5), 10**6)[0]) == 3000
    assert GridIndex(np.zeros((0, 2))).nearest((0.5, 0.5), 3)[0].size == 0


@pytest.mark.parametrize("seed", [None, 3])
@pytest.mark.parametrize("path", [np.tile([0.5, 0.5], (12, 1)), np.linspace([0.2, 0.7], [0.8, 0.3], 12)])
def test_pools_from_the_index_equal_pools_from_a_full_sort(monkeypatch, seed, path):
    table = random_table(4000, seed=2)
    rng = np.random.default_rng(5)
    feedback = Feedback(liked=np.sort(rng.choice(4000, 30, replace=False)),
                        skipped=np.sort(rng.choice(4000, 30, replace=False)),
                        recent=np.sort(rng.choice(4000, 200, replace=False)))
    feedback = Feedback(liked=np.setdiff1d(feedback.liked, feedback.skipped), skipped=feedback.skipped,
                        recent=feedback.recent)
    fast = select(table, path, feedback=feedback, familiar_share=0.2, seed=seed)
    # With the first radius covering the whole square, every song is ranked: the reference answer.
    original = selection._Chooser.__init__

    def scan_everything(self, *args):
        original(self, *args)
        self.first_radius = WHOLE_SQUARE

    monkeypatch.setattr(selection._Chooser, "__init__", scan_everything)
    assert select(table, path, feedback=feedback, familiar_share=0.2, seed=seed) == fast
    assert len(fast) == 12


def test_pool_is_the_nearest_allowed_songs(monkeypatch):
    monkeypatch.setattr(selection, "POOL", 50)
    table = random_table(5000, seed=4, artists=40)
    path = np.linspace([0.3, 0.3], [0.7, 0.6], 8)
    chooser = selection._Chooser(table, path, 2, Feedback(), None, None)
    for step in range(len(path)):  # take songs as a playlist would, so artist caps and dupes start to bite
        chooser._take(chooser.pool(path[step], chooser.blocked)[0][0])
    rng = np.random.default_rng(0)
    for point in [*rng.random((10, 2)), (0, 0), (1, 1)]:
        rows, distances = chooser.pool(point, chooser.blocked)
        allowed = np.flatnonzero(chooser._allowed(np.arange(len(table)), chooser.blocked))
        everything = np.hypot(*(table.positions[allowed] - point).T)
        expected = allowed[np.lexsort((allowed, everything))[:50]]
        assert list(rows) == list(expected)
        assert distances == pytest.approx(np.hypot(*(table.positions[rows] - point).T))

