"""Quality and speed of recommendations, through ``recommend()`` and the library as users run them.

    python benchmarks/recommend.py [-n 10] [--songs 1000000] [--repeat 5]

1. For every emotion × strategy on the shipped catalogue: the mean distance of the picks to their path
   points, artist diversity (distinct artists / picks), and whether progress along the path is monotone
   (each pick's projection onto the start→destination line never goes back; otherwise the largest step
   back, in valence/arousal units).
2. Median milliseconds per playlist over all emotions × strategies, on the shipped catalogue and on a
   generated catalogue of ``--songs`` songs (the shipped positions resampled with a little noise, one
   artist per 8 songs), loaded into a library in a temporary folder that is deleted afterwards. Each is
   timed with an empty history, then with one (3 recorded sessions, ``--feedback`` likes and as many skips)
   and a seed. The first call of a freshly opened library (reading the songs, building the index) is timed
   on its own.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moodtune.emotions import EMOTIONS  # noqa: E402
from moodtune.music import Library  # noqa: E402
from moodtune.music.catalogue import COLUMNS, name_key  # noqa: E402
from moodtune.recommend import recommend  # noqa: E402

STRATEGIES = ("match", "lift", "calm", "goal 0.8,0.3")


def quality(playlist) -> dict:
    """Mean distance to the path, artist diversity, and monotone progress of one playlist."""
    picks = playlist.picks
    artists = {name_key(p.song.artist) for p in picks}
    path = np.array(playlist.path)
    start, end = path[0], path[-1]
    length = float(np.linalg.norm(end - start))
    if length == 0:
        back = None  # "match": no direction to progress in
    else:
        songs = np.array([(p.song.valence, p.song.arousal) for p in picks])
        progress = (songs - start) @ ((end - start) / length)  # how far along the path, in VA units
        back = float(max(0.0, np.max(progress[:-1] - progress[1:]))) if len(progress) > 1 else 0.0
    return {"distance": float(np.mean([p.distance for p in picks])), "diversity": len(artists) / len(picks),
            "back": back, "count": len(picks)}


def timed_playlists(library, *, n: int, repeat: int, seed: int | None = None) -> str:
    """Median and largest ms per playlist over all emotions × strategies, and the median per strategy."""
    per_strategy: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    for _ in range(repeat):
        for strategy in STRATEGIES:
            for emotion in EMOTIONS:
                start = time.perf_counter()
                recommend(emotion=emotion, n=n, library=library, strategy=strategy, seed=seed)
                per_strategy[strategy].append((time.perf_counter() - start) * 1000)
    everything = [t for times in per_strategy.values() for t in times]
    return (f"median {statistics.median(everything):.1f} ms, max {max(everything):.1f} ms ("
            + ", ".join(f"{s} {statistics.median(t):.1f}" for s, t in per_strategy.items()) + ")")


def add_history(library, *, feedback: int, n: int, seed: int = 0) -> None:
    """Three recorded sessions, then ``feedback`` likes and as many skips of random songs."""
    for emotion in ("sad", "neutral", "happy"):
        recommend(emotion=emotion, n=n, library=library, strategy="lift", record=True)
    rng = np.random.default_rng(seed)
    songs = library.table().songs
    chosen = rng.choice(len(songs), min(2 * feedback, len(songs)), replace=False)
    library._conn.execute("BEGIN")  # one transaction: a commit per event would time the disk, not moodtune
    for i, row in enumerate(chosen):
        library.record(songs[row].song_id, "like" if i < feedback else "skip")
    library._conn.execute("COMMIT")


def timings(library, *, n: int, repeat: int, feedback: int) -> str:
    """Time a freshly opened library: its first playlist, then playlists without and with a history."""
    start = time.perf_counter()
    recommend(emotion="neutral", n=n, library=library)
    first = time.perf_counter() - start
    empty = timed_playlists(library, n=n, repeat=repeat)
    add_history(library, feedback=feedback, n=n)
    with_history = timed_playlists(library, n=n, repeat=repeat, seed=1)
    return (f"  empty history:         {empty}\n  with history and seed: {with_history}\n"
            f"  first playlist (reads the songs, builds the index): {first:.2f} s")


def generate_catalogue(path: Path, *, songs: int, shipped: np.ndarray, seed: int = 0) -> None:
    """A catalogue CSV of ``songs`` songs placed like the shipped ones, plus Gaussian noise (sd 0.02)."""
    rng = np.random.default_rng(seed)
    points = np.clip(shipped[rng.integers(0, len(shipped), songs)] + rng.normal(0, 0.02, (songs, 2)), 0, 1)
    artists = rng.integers(0, max(songs // 8, 1), songs)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i, ((v, a), artist) in enumerate(zip(points.tolist(), artists.tolist(), strict=True)):
            writer.writerow([f"gen:{i}", f"Song {i}", f"Artist {artist}", f"{v:.4f}", f"{a:.4f}", "gen", i,
                             "generated"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10, help="songs per playlist (default 10)")
    parser.add_argument("--songs", type=int, default=1_000_000, help="size of the generated catalogue")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of all emotions × strategies to time")
    parser.add_argument("--feedback", type=int, default=200, help="likes (and as many skips) in the history")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="moodtune-bench-") as tmp:
        tmp = Path(tmp)
        with Library(tmp / "shipped.sqlite3") as library:
            size = len(library)
            shipped = library.table().positions
            print(f"shipped catalogue: {size:,} songs, {args.n} songs per playlist, empty history\n")
            print(f"{'emotion':<10} {'strategy':<13} {'mean dist':>9} {'artists':>8} {'monotone':>20}")
            rows = []
            for emotion in EMOTIONS:
                for strategy in STRATEGIES:
                    q = quality(recommend(emotion=emotion, n=args.n, library=library, strategy=strategy))
                    rows.append(q)
                    monotone = "n/a" if q["back"] is None else (
                        "yes" if q["back"] == 0 else f"no (back {q['back']:.3f})")
                    print(f"{emotion:<10} {strategy:<13} {q['distance']:>9.3f} {q['diversity']:>8.2f} "
                          f"{monotone:>20}")
            moving = [q for q in rows if q["back"] is not None]
            print(f"\nall: mean distance {np.mean([q['distance'] for q in rows]):.3f}, artist diversity "
                  f"{np.mean([q['diversity'] for q in rows]):.2f}, monotone {sum(q['back'] == 0 for q in moving)}"
                  f"/{len(moving)} moving playlists (largest step back {max(q['back'] for q in moving):.3f}), "
                  f"full playlists {sum(q['count'] == args.n for q in rows)}/{len(rows)}")
        with Library(tmp / "shipped.sqlite3") as library:  # opened again: the first playlist reads the songs
            print(f"\ntime per playlist, shipped catalogue ({size:,} songs):\n"
                  f"{timings(library, n=args.n, repeat=args.repeat, feedback=args.feedback)}")

        csv_path, db_path = tmp / "generated.csv", tmp / "generated.sqlite3"
        start = time.perf_counter()
        generate_catalogue(csv_path, songs=args.songs, shipped=shipped)
        with Library(db_path, catalogue=csv_path) as library:
            load = time.perf_counter() - start
            print(f"time per playlist, generated catalogue ({args.songs:,} songs; writing and loading it took "
                  f"{load:.1f} s):\n{timings(library, n=args.n, repeat=args.repeat, feedback=args.feedback)}")
            positions = library.table().positions
        start = time.perf_counter()
        np.argsort(np.hypot(*(positions - 0.5).T))
        print(f"for scale: one full numpy sort of all {args.songs:,} distances takes "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
