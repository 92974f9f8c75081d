"""The ``moodtune`` command line.

Exit status: 0 success, 1 declined (``forget`` not confirmed), 2 bad input (one line on stderr naming the
file and what to do), 130 interrupted. Machine-readable output (``--json``, ``--csv``) goes to stdout; notes
and errors go to stderr.

``recommend`` records each playlist as a session in the library file; ``feedback`` attaches like / skip /
played to a song (and by default to the latest session that held it); ``history`` shows what was recorded,
``forget`` erases it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from moodtune.emotions import EMOTIONS, check_probabilities, one_hot, parse_emotion
from moodtune.errors import MoodtuneError, NoFaceError, ParameterError
from moodtune.music.cli import add_library_commands
from moodtune.music.lyrics_cli import add_lyrics_commands
from moodtune.recommend.strategies import names as strategy_names
from moodtune.training.cli import add_training_commands

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
EXIT_BAD_INPUT = 2


def _analyze_file(path: Path, args):
    """Read one photo and return (image, list of FaceEmotion)."""
    from moodtune.faces import analyze, load_image

    image = load_image(path)
    return image, analyze(image, detector=args.detector, model=args.model)


def _describe(result) -> str:
    others = sorted(zip(EMOTIONS, result.probabilities, strict=True), key=lambda item: -item[1])[1:3]
    rest = ", ".join(f"{e} {p:.2f}" for e, p in others)
    return f"{result.emotion} {result.confidence:.2f} ({rest})"


def cmd_recommend(args) -> int:
    from moodtune.music import Library
    from moodtune.recommend import recommend
    from moodtune.recommend.export import check_destination
    from moodtune.recommend.strategies import get_strategy

    # Options first, so a typo is reported before a photo is read or a session recorded.
    if args.format and not args.export:
        raise ParameterError("--format names the format of an --export FILE; give --export too")
    if args.max_per_artist < 0:
        raise ParameterError(f"--max-per-artist must be 0 (no limit) or more, got {args.max_per_artist}")
    strategy = get_strategy(args.strategy or ("goal" if args.goal is not None else "match"), goal=args.goal)
    if args.export:
        check_destination(args.export, args.format)

    report: dict = {}
    if args.emotion:
        probabilities = one_hot(parse_emotion(args.emotion))
        report["emotion_given"] = parse_emotion(args.emotion)
    else:
        if args.photo is None:
            raise ParameterError("give a PHOTO to read the mood from, or --emotion WORD (e.g. --emotion happy)")
        path = Path(args.photo)
        _, results = _analyze_file(path, args)
        if not results:
            raise NoFaceError(f"{path}: no face found; use a photo with a clearly visible face, "
                              "or name the mood with --emotion WORD")
        if not 1 <= args.face <= len(results):
            raise ParameterError(f"{path}: --face {args.face} asked for, but {len(results)} face(s) were found")
        chosen = results[args.face - 1]
        probabilities = check_probabilities(chosen.probabilities)
        report.update({"file": str(path), "faces_found": len(results), "face": args.face, **chosen.to_dict()})
        if not args.json:
            print(f"{path}: face {args.face} of {len(results)} at {tuple(chosen.face.box)}: {_describe(chosen)}")

    with Library(args.db) as library:
        playlist = recommend(probabilities=probabilities, n=args.n, library=library, strategy=strategy,
                             seed=args.seed, max_per_artist=args.max_per_artist or None,
                             avoid_recent=args.avoid_recent, record=True)
    for note in playlist.notes:
        print(f"moodtune: note: {note}", file=sys.stderr)
    if args.export:
        _export(playlist, args.export, args.format)
    if args.json:
        print(json.dumps({**report, "playlist": playlist.to_dict()}, indent=2))
        return 0
    v, a = playlist.target
    heading = f"Mood: {playlist.emotion} (valence {v:.2f}, arousal {a:.2f})."
    if playlist.strategy == "match":
        heading += f" {len(playlist.picks)} songs"
    else:
        heading += f" {playlist.strategy}: {len(playlist.picks)} songs, one step each"
    print(f"{heading} (session {playlist.session}):")
    for i, pick in enumerate(playlist.picks, 1):
        song = pick.song
        print(f"{i:3d}. {song.title} — {song.artist}  [v {song.valence:.2f}, a {song.arousal:.2f}]  {pick.reason}"
              f"  ({song.song_id})")
    return 0


def _export(playlist, path: str, format: str | None) -> None:
    from moodtune.recommend.export import export, format_for

    written = export(playlist, path, format=format)
    name = format_for(path, format)
    print(f"moodtune: wrote {len(playlist.picks)} songs to {written} ({name})", file=sys.stderr)
    if name == "m3u8" and not any(pick.song.path for pick in playlist.picks):
        print(f"moodtune: note: none of these songs is a file on this computer, so {written} lists them as "
              "comments a player skips; --export with .xspf, .json or .csv keeps them as entries", file=sys.stderr)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _library_path(args) -> Path:
    from moodtune.music import default_path

    return Path(args.db) if args.db else default_path()


def cmd_feedback(args) -> int:
    from moodtune.music import Library

    with Library(args.db) as library:
        session = args.session if args.session is not None else library.latest_session_with(args.song_id)
        library.record(args.song_id, args.kind, session=session)  # checks the song and the session
        song = library.get(args.song_id)
    where = f"in session {session}" if session is not None else "outside any session"
    print(f"recorded {args.kind}: {song.title} — {song.artist} ({song.song_id}), {where}")
    return 0


def cmd_history(args) -> int:
    from moodtune.music import Library

    if args.limit is not None and args.limit < 1:
        raise ParameterError(f"--limit must be 1 or more, got {args.limit}")
    if not _library_path(args).exists():
        print(json.dumps({"sessions": [], "events_outside_sessions": []}) if args.json
              else f"no history: {_library_path(args)} does not exist yet")
        return 0
    with Library(args.db) as library:
        sessions = library.history(limit=args.limit)
        loose = library.events(session=None)
        if args.json:
            print(json.dumps({"sessions": [s.to_dict() for s in sessions],
                              "events_outside_sessions": [e.to_dict() for e in loose]}, indent=2,
                             ensure_ascii=False))
            return 0
        if not sessions and not loose:
            print(f"no history recorded in {library.path}")
            return 0

        def name(song_id: str) -> str:
            song = library.get(song_id)
            return f"{song.title} — {song.artist} ({song_id})" if song else f"{song_id} (no longer in the library)"

        for session in sessions:
            counts = ", ".join(f"{sum(e.kind == kind for e in session.events)} {label}"
                               for kind, label in (("like", "liked"), ("skip", "skipped"), ("played", "played")))
            when = session.started_at.replace("T", " ").replace("+00:00", " UTC")
            print(f"session {session.session_id}  {when}  {session.emotion}  {session.strategy}  "
                  f"{len(session.songs)} songs  ({counts})")
            for event in session.events:
                print(f"    {event.kind:<6} {name(event.song_id)}")
        if loose:
            print("feedback outside sessions:")
            for event in loose:
                print(f"    {event.kind:<6} {name(event.song_id)}  {event.at}")
    return 0


def cmd_forget(args) -> int:
    from moodtune.music import Library

    path = _library_path(args)
    if not path.exists():
        print(f"nothing to forget: {path} does not exist")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise ParameterError(f"forget erases every session and all feedback in {path}; run it in a terminal "
                                 "to confirm, or add --yes")
        print(f"Erase every session and all feedback in {path}? The songs stay. [y/N] ", end="", file=sys.stderr,
              flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("nothing erased", file=sys.stderr)
            return 1
    with Library(args.db) as library:
        sessions, events = library.forget()
    print(f"erased {_count(sessions, 'session')} and {_count(events, 'feedback event')} from {path}")
    return 0


def _expand(paths: list[str]) -> list[Path]:
    """Files as given; folders replaced by the images inside them (sorted, not recursive)."""
    out = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            out.append(path)
    return out


def _annotated_path(target: Path, photo: Path, several: bool) -> Path:
    return target / f"{photo.stem}_annotated.png" if several else target


def cmd_detect(args) -> int:
    from moodtune.faces import annotate, save_image

    photos = _expand(args.photos)
    if not photos:
        raise ParameterError(f"no images found in {', '.join(args.photos)}")
    several = len(photos) > 1
    if args.annotate and several and not Path(args.annotate).is_dir():
        raise ParameterError(f"{args.annotate}: with several photos, --annotate needs an existing folder")
    failures = 0
    rows = []
    writer = None
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["file", "face", "x", "y", "width", "height", "score", "emotion", *EMOTIONS])
    for photo in photos:
        try:
            image, results = _analyze_file(photo, args)
        except MoodtuneError as err:
            # A bad file in a batch is reported and skipped; the others still run.
            print(f"moodtune: {err}", file=sys.stderr)
            failures += 1
            continue
        if not results:
            print(f"moodtune: {photo}: no face found", file=sys.stderr)
        if args.annotate:
            labels = [f"{i}: {r.emotion} {r.confidence:.2f}" for i, r in enumerate(results, 1)]
            save_image(_annotated_path(Path(args.annotate), photo, several),
                       annotate(image, [r.face for r in results], labels))
        if args.json:
            rows.append({"file": str(photo), "faces": [r.to_dict() for r in results]})
        for i, r in enumerate(results, 1):
            x, y, w, h = r.face.box
            if writer:
                writer.writerow([photo, i, x, y, w, h, f"{r.face.score:.3f}", r.emotion,
                                 *(f"{p:.4f}" for p in r.probabilities)])
            elif not args.json:
                print(f"{photo}\tface {i}\t{x},{y},{w},{h}\t{_describe(r)}")
    if args.json:
        print(json.dumps(rows, indent=2))
    return EXIT_BAD_INPUT if failures else 0


def cmd_serve(args) -> int:
    try:
        from moodtune.app.server import serve
    except ImportError as exc:
        raise ParameterError(f"moodtune serve needs the app extra ({exc.name} is missing): "
                             "pip install 'moodtune[app]'") from None
    if not 0 <= args.port <= 65535:
        raise ParameterError(f"--port must be from 0 to 65535, got {args.port}")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"moodtune: note: listening on {args.host}: other computers may reach the API", file=sys.stderr)
    print(f"moodtune: open http://{args.host}:{args.port}/ (API docs at /docs); Ctrl+C stops", file=sys.stderr)
    serve(host=args.host, port=args.port, db_path=args.db, model=args.model)
    return 0


def _add_serve_command(sub, add_db_option) -> None:
    srv = sub.add_parser("serve", help="the web page and HTTP API (needs the app extra)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer)")
    srv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    srv.add_argument("--model", default="emotion_default", help="shipped model name or an .onnx file")
    add_db_option(srv)
    srv.set_defaults(run=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodtune", description="Read a facial expression, get music that fits.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_model_options(p):
        p.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"],
                       help="face detector (auto: YuNet, Haar when YuNet is unavailable)")
        p.add_argument("--model", default="emotion_default", help="shipped model name or an .onnx file")

    def add_db_option(p):
        p.add_argument("--db", help="library database (default: moodtune's file in your user data folder)")

    rec = sub.add_parser("recommend", help="a playlist for the mood read from a photo, or named with --emotion")
    rec.add_argument("photo", nargs="?", help="photo with a face (not needed with --emotion)")
    rec.add_argument("-n", type=int, default=10, help="number of songs (default 10)")
    rec.add_argument("--face", type=int, default=1, help="which face, largest first (default 1)")
    rec.add_argument("--emotion", help=f"skip the photo: one of {', '.join(EMOTIONS)}")
    rec.add_argument("--strategy", help=f"{' | '.join(strategy_names())}: stay with the mood (default), brighten "
                     "it, calm it, or go to --goal")
    rec.add_argument("--goal", metavar="V,A", help="valence,arousal from 0 to 1 to go toward, e.g. 0.8,0.3")
    rec.add_argument("--seed", type=int, help="vary the choice among equally fitting songs; same seed, same list")
    rec.add_argument("--max-per-artist", type=int, default=2, metavar="N", help="default 2; 0 for no limit")
    rec.add_argument("--avoid-recent", type=int, default=3, metavar="N",
                     help="leave out songs of the last N sessions (default 3; 0 to allow them)")
    rec.add_argument("--export", metavar="FILE", help="also write the playlist to FILE (.m3u8, .xspf, .json, .csv)")
    rec.add_argument("--format", choices=["m3u8", "xspf", "json", "csv"], help="format of --export FILE")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_option(rec)
    add_model_options(rec)
    rec.set_defaults(run=cmd_recommend)

    fb = sub.add_parser("feedback", help="like, skip or mark as played a song of a playlist")
    fb.add_argument("song_id", help="the song's id, as recommend prints it (e.g. deezer:7435008)")
    fb.add_argument("kind", choices=["like", "skip", "played"])
    fb.add_argument("--session", type=int, help="session it belongs to (default: the latest one with this song)")
    add_db_option(fb)
    fb.set_defaults(run=cmd_feedback)

    hist = sub.add_parser("history", help="recorded sessions and feedback, newest first")
    hist.add_argument("--json", action="store_true", help="print one JSON object")
    hist.add_argument("--limit", type=int, metavar="N", help="only the latest N sessions")
    add_db_option(hist)
    hist.set_defaults(run=cmd_history)

    forget = sub.add_parser("forget", help="erase every recorded session and all feedback (songs stay)")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_db_option(forget)
    forget.set_defaults(run=cmd_forget)

    det = sub.add_parser("detect", help="faces and their expression probabilities, one row per face")
    det.add_argument("photos", nargs="+", help="photos or folders of photos")
    fmt = det.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON list, one entry per photo")
    fmt.add_argument("--csv", action="store_true", help="print CSV rows with all 7 probabilities")
    det.add_argument("--annotate", metavar="OUT", help="save a copy with boxes and labels (a folder for several)")
    add_model_options(det)
    det.set_defaults(run=cmd_detect)
    _add_serve_command(sub, add_db_option)
    add_training_commands(sub)
    add_library_commands(sub)
    add_lyrics_commands(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for the records a command keeps
    try:
        return args.run(args)
    except MoodtuneError as err:
        print(f"moodtune: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("moodtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
