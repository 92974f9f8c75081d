"""The ``moodtune`` command line.

Exit status: 0 success, 2 bad input (one line on stderr naming the file and what to do), 130 interrupted.
Machine-readable output (``--json``, ``--csv``) goes to stdout; notes and errors go to stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from moodtune.emotions import EMOTIONS, check_probabilities, one_hot, parse_emotion
from moodtune.errors import MoodtuneError, NoFaceError, ParameterError

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
        playlist = recommend(probabilities=probabilities, n=args.n, library=library)
    if args.json:
        print(json.dumps({**report, "playlist": playlist.to_dict()}, indent=2))
        return 0
    v, a = playlist.target
    print(f"Mood: {playlist.emotion} (valence {v:.2f}, arousal {a:.2f}). {len(playlist.picks)} songs:")
    for i, pick in enumerate(playlist.picks, 1):
        song = pick.song
        print(f"{i:3d}. {song.title} — {song.artist}  [v {song.valence:.2f}, a {song.arousal:.2f}]  {pick.reason}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodtune", description="Read a facial expression, get music that fits.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_model_options(p):
        p.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"],
                       help="face detector (auto: YuNet, Haar when YuNet is unavailable)")
        p.add_argument("--model", default="emotion_default", help="shipped model name or an .onnx file")

    rec = sub.add_parser("recommend", help="a playlist for the mood read from a photo, or named with --emotion")
    rec.add_argument("photo", nargs="?", help="photo with a face (not needed with --emotion)")
    rec.add_argument("-n", type=int, default=10, help="number of songs (default 10)")
    rec.add_argument("--face", type=int, default=1, help="which face, largest first (default 1)")
    rec.add_argument("--emotion", help=f"skip the photo: one of {', '.join(EMOTIONS)}")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    rec.add_argument("--db", help="library database (default: moodtune's file in your user data folder)")
    add_model_options(rec)
    rec.set_defaults(run=cmd_recommend)

    det = sub.add_parser("detect", help="faces and their expression probabilities, one row per face")
    det.add_argument("photos", nargs="+", help="photos or folders of photos")
    fmt = det.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON list, one entry per photo")
    fmt.add_argument("--csv", action="store_true", help="print CSV rows with all 7 probabilities")
    det.add_argument("--annotate", metavar="OUT", help="save a copy with boxes and labels (a folder for several)")
    add_model_options(det)
    det.set_defaults(run=cmd_detect)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
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
