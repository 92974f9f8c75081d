"""Build moodtune's shipped song catalogue (catalogue.csv + CATALOGUE.md) from PMEmo and the Deezer mood set.

Usage::

    python scripts/build_catalogue.py [--data ../shared/data/music] [--out moodtune/data/catalogue.csv]
                                      [--check]

``--check`` builds in memory and compares with the files at ``--out`` (and CATALOGUE.md beside it) instead of
writing: exit status 0 when identical, 1 when they differ, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.music.catalogue import build_rows, format_catalogue, format_notes  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "music",
                        help="folder with pmemo/ and deezer_mood/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "moodtune" / "data" / "catalogue.csv",
                        help="catalogue CSV to write; CATALOGUE.md goes beside it (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with the existing files, write nothing")
    args = parser.parse_args(argv)

    try:
        rows, report = build_rows(args.data)
    except MoodtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outputs = {args.out: format_catalogue(rows), args.out.with_name("CATALOGUE.md"): format_notes(report)}
    for line in report.lines():
        print(line)
    print(f"{len(rows)} songs")

    if args.check:
        stale = [path for path, data in outputs.items() if not path.is_file() or path.read_bytes() != data]
        for path in stale:
            print(f"differs: {path} (rebuild with scripts/build_catalogue.py)", file=sys.stderr)
        if not stale:
            print("up to date")
        return 1 if stale else 0

    for path, data in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
