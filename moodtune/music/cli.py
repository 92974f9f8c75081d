"""``moodtune library import PATH`` and ``moodtune library stats``: the user's own music, and what the library holds.

Hooked into the main parser by :func:`add_library_commands`. Errors are :class:`~moodtune.errors.MoodtuneError`
(one line, exit status 2, printed by ``moodtune.app.cli.main``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from moodtune.errors import ParameterError


def _progress(label: str):
    """A ``progress(done, total)`` callback: tqdm's bar when installed and stderr is a terminal, else plain lines.

    Returns
    -------
    (callback, close)
    """
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = None

            def update(done: int, total: int) -> None:
                nonlocal bar
                if bar is None:
                    bar = tqdm(total=total, desc=label, unit="song", file=sys.stderr)
                bar.update(done - bar.n)

            return update, lambda: bar is not None and bar.close()

    step = {"next": 0}

    def lines(done: int, total: int) -> None:
        # About 20 lines for a long import, only the last for a short one.
        if done == total or (total >= 40 and done >= step["next"]):
            print(f"moodtune: {label}: {done}/{total}", file=sys.stderr, flush=True)
            step["next"] = done + max(1, total // 20)

    return lines, lambda: None


def cmd_import(args) -> int:
    from moodtune.music import Library
    from moodtune.music.importer import import_path

    if args.batch_size < 1:
        raise ParameterError(f"--batch-size must be 1 or more, got {args.batch_size}")
    update, close = _progress(f"importing {Path(args.path).name}")
    with Library(args.db) as library:
        before = len(library)
        try:
            report = import_path(library, args.path, batch_size=args.batch_size, use_audio=not args.no_audio,
                                 progress=update)
        except KeyboardInterrupt:
            close()
            saved = len(library) - before
            print(f"moodtune: stopped; {saved} songs of finished batches were saved, the batch in progress was "
                  "rolled back. Run the same command again to resume (songs already imported are skipped).",
                  file=sys.stderr)
            raise
        finally:
            close()
    for message in report.skipped:
        print(f"moodtune: skipped {message}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    return 0


def cmd_stats(args) -> int:
    from moodtune.music import Library
    from moodtune.music.stats import library_stats, save_scatter

    with Library(args.db) as library:
        stats, points, emotion = library_stats(library)
        name = str(library.path)
    if args.png:
        written = save_scatter(args.png, points, emotion, counts=stats.by_emotion)
        print(f"moodtune: wrote the scatter of {stats.total:,} songs to {written}", file=sys.stderr)
    if args.json:
        print(json.dumps({"library": name, **stats.to_dict()}, indent=2))
    else:
        print(f"{name}:")
        print("\n".join(stats.lines()))
    return 0


def add_library_commands(sub) -> None:
    """Add ``library import`` and ``library stats`` to the main parser's subcommands."""
    lib = sub.add_parser("library", help="import your own music, or count what the library holds")
    lib_sub = lib.add_subparsers(dest="library_command", required=True)

    def add_db_option(p):
        p.add_argument("--db", help="library database (default: moodtune's file in your user data folder)")

    imp = lib_sub.add_parser("import", help="add songs from a CSV/TSV/JSON list, an M3U playlist or a folder of "
                             "audio files (mp3, flac, ogg, m4a, wav)")
    imp.add_argument("path", help="the file or folder to import")
    imp.add_argument("--batch-size", type=int, default=100, metavar="N",
                     help="songs per transaction (default 100); an interrupted import loses at most one batch")
    imp.add_argument("--no-audio", action="store_true", help="do not analyse audio (fast; songs that nothing else "
                     "places are skipped)")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    add_db_option(imp)
    imp.set_defaults(run=cmd_import)

    st = lib_sub.add_parser("stats", help="songs per emotion and per provenance; --png draws the circumplex")
    st.add_argument("--png", metavar="OUT.png", help="also save a scatter of the library in valence/arousal")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_option(st)
    st.set_defaults(run=cmd_stats)
