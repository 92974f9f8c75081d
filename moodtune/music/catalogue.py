"""The shipped song catalogue: where each song sits in valence/arousal space.

``moodtune/data/catalogue.csv`` is built from two research datasets by ``scripts/build_catalogue.py``. It
holds only derived, song-level numbers plus title and artist (facts), with attribution in ``CATALOGUE.md``:

* PMEmo 2019 (Zhang et al., ICMR 2018): valence/arousal means of listener ratings, already on [0, 1].
* Deezer mood detection dataset (Delbouys et al., ISMIR 2018): valence/arousal z-scores projected from Last.fm
  tags, mapped per axis onto [0, 1] with ``0.5 + z / (2 * max|z|)``.

The build is deterministic (fixed order, fixed number format, ``\\n`` line endings), so rebuilding from the
same data reproduces the file byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from moodtune.errors import LibraryError

#: Column order of catalogue.csv.
COLUMNS: tuple[str, ...] = (
    "song_id", "title", "artist", "valence", "arousal", "source", "source_id", "provenance",
)

PMEMO = "pmemo"
DEEZER = "deezer"
DEEZER_FILES = ("train.csv", "validation.csv", "test.csv")

# Four PMEmo names were stored with a broken encoding (GBK read as Latin-1, stray bytes). Keyed by the exact
# broken value, so a corrected upstream file simply stops matching.
_NAME_FIXES = {
    "²¼Â×´ï.Àî(Brenda Lee)": "Brenda Lee",
    "¿ËÀïË¹ÀûÑÇ(Chris Rea)": "Chris Rea",
    "Various Artists\x93©": "Various Artists",
    "群星쀀": "群星",  # "various artists" in Chinese, plus one garbage character
    "Telephone (Feat. Beyonc?": "Telephone (Feat. Beyoncé)",
}


def shipped_path():
    """The catalogue that ships inside the package (an importlib.resources Traversable)."""
    return resources.files("moodtune").joinpath("data/catalogue.csv")


def read_catalogue(path: str | Path | None = None) -> list[dict[str, str]]:
    """Read a catalogue CSV as a list of row dicts (all values as strings).

    Parameters
    ----------
    path : str or Path, optional
        A file in the catalogue format; None reads the shipped catalogue.

    Raises
    ------
    LibraryError
        If the file is missing, unreadable or its header is not :data:`COLUMNS`.
    """
    source = shipped_path() if path is None else Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(
            f"cannot read catalogue {source}: {exc}; rebuild it with scripts/build_catalogue.py"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if tuple(header or ()) != COLUMNS:
        raise LibraryError(f"catalogue {source} has header {header}, expected {','.join(COLUMNS)}")
    return [dict(zip(COLUMNS, row, strict=True)) for row in reader]


def catalogue_sha256(path: str | Path | None = None) -> str:
    """SHA-256 of a catalogue file's bytes (the shipped one by default): identifies its version."""
    source = shipped_path() if path is None else Path(path)
    return hashlib.sha256(source.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------- building


@dataclass
class BuildReport:
    """Counts from one build, for the console and CATALOGUE.md."""

    read: dict[str, int] = field(default_factory=dict)  # rows read per source
    kept: dict[str, int] = field(default_factory=dict)  # rows written per source
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows dropped
    scale: dict[str, float] = field(default_factory=dict)  # Deezer max|z| per axis
    mean: dict[str, float] = field(default_factory=dict)  # Deezer mean z per axis, for the notes
    fixed_names: int = 0

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def lines(self) -> list[str]:
        out = [f"{s}: read {self.read.get(s, 0)}, kept {self.kept.get(s, 0)}" for s in (PMEMO, DEEZER)]
        out += [f"dropped {count}: {reason}" for reason, count in sorted(self.dropped.items())]
        if self.fixed_names:
            out.append(f"repaired {self.fixed_names} garbled PMEmo title/artist names")
        return out


def name_key(text: str) -> str:
    """Compare names ignoring case, Unicode form and runs of whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise LibraryError(f"missing source file {path}: pass --data pointing at shared/data/music")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _number(text: str | None) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _clean(text: str | None, report: BuildReport) -> str:
    text = (text or "").strip()
    if text in _NAME_FIXES:
        report.fixed_names += 1
        text = _NAME_FIXES[text]
    return text


def _pmemo_rows(folder: Path, report: BuildReport) -> list[dict]:
    meta = {}
    for row in _read_csv(folder / "metadata.csv"):
        meta.setdefault(row["musicId"].strip(), row)
    rows, seen = [], set()
    for ann in _read_csv(folder / "static_annotations.csv"):
        report.read[PMEMO] = report.read.get(PMEMO, 0) + 1
        music_id = (ann.get("musicId") or "").strip()
        valence, arousal = _number(ann.get("Valence(mean)")), _number(ann.get("Arousal(mean)"))
        if not music_id.isdigit() or music_id in seen:
            report.drop("pmemo: duplicate or invalid musicId")
            continue
        seen.add(music_id)
        if valence is None or arousal is None or not (0 <= valence <= 1 and 0 <= arousal <= 1):
            report.drop("pmemo: valence/arousal missing or outside [0, 1]")
            continue
        info = meta.get(music_id, {})
        title, artist = _clean(info.get("title"), report), _clean(info.get("artist"), report)
        if not title or not artist:
            report.drop("pmemo: no title/artist in metadata.csv")
            continue
        rows.append(dict(source=PMEMO, source_id=music_id, title=title, artist=artist,
                         valence=valence, arousal=arousal, provenance="rated"))
    return rows


def _deezer_rows(folder: Path, report: BuildReport) -> list[dict]:
    raw = []
    for name in DEEZER_FILES:
        raw += _read_csv(folder / name)
    report.read[DEEZER] = len(raw)
    valid, seen = [], set()
    for row in raw:
        sng_id = (row.get("dzr_sng_id") or "").strip()
        z_val, z_aro = _number(row.get("valence")), _number(row.get("arousal"))
        if not sng_id.isdigit() or sng_id in seen:
            report.drop("deezer: duplicate or invalid dzr_sng_id")
            continue
        seen.add(sng_id)
        if z_val is None or z_aro is None:
            report.drop("deezer: valence/arousal missing")
            continue
        valid.append((row, sng_id, z_val, z_aro))
    if not valid:
        return []
    # One scale per axis over the whole Deezer set (before title-level deduplication), so z = 0 -- the
    # standardisation's mean -- lands on 0.5 and the most extreme song of either sign stays inside [0, 1].
    max_val = max(abs(z) for _, _, z, _ in valid) or 1.0
    max_aro = max(abs(z) for _, _, _, z in valid) or 1.0
    report.scale = {"valence": max_val, "arousal": max_aro}
    report.mean = {"valence": math.fsum(z for _, _, z, _ in valid) / len(valid),
                   "arousal": math.fsum(z for _, _, _, z in valid) / len(valid)}
    rows = []
    for row, sng_id, z_val, z_aro in valid:
        title, artist = _clean(row.get("track_name"), report), _clean(row.get("artist_name"), report)
        if not title or not artist:
            report.drop("deezer: no title/artist")
            continue
        rows.append(dict(source=DEEZER, source_id=sng_id, title=title, artist=artist,
                         valence=0.5 + z_val / (2 * max_val), arousal=0.5 + z_aro / (2 * max_aro),
                         provenance="tags", msd=(row.get("MSD_sng_id") or "").strip()))
    return rows


def _dedupe(rows: list[dict], report: BuildReport) -> list[dict]:
    """Keep one row per song: the lowest id within a source, and PMEmo's over Deezer's.

    A song appearing twice would show up twice in a playlist. Within a source the row with the lowest id is
    kept (not an average), so every shipped number can be checked against the cited record. Across sources
    listener ratings (PMEmo) win over tag projections (Deezer).
    """
    rank = {PMEMO: 0, DEEZER: 1}
    rows = sorted(rows, key=lambda r: (rank[r["source"]], int(r["source_id"])))
    kept, seen_song, seen_msd = [], {}, set()
    for row in rows:
        key = (name_key(row["artist"]), name_key(row["title"]))
        if key in seen_song:
            other = "a lower id in the same source" if seen_song[key] == row["source"] else (
                "a PMEmo song (listener ratings kept)")
            report.drop(f"{row['source']}: same title and artist as {other}")
            continue
        msd = row.get("msd")
        if msd and msd in seen_msd:
            report.drop("deezer: same Million Song Dataset song as a lower dzr_sng_id")
            continue
        seen_song[key] = row["source"]
        if msd:
            seen_msd.add(msd)
        kept.append(row)
    return kept


def build_rows(data: str | Path) -> tuple[list[dict[str, str]], BuildReport]:
    """Build the catalogue rows from the music data folder.

    Parameters
    ----------
    data : str or Path
        Folder holding ``pmemo/`` and ``deezer_mood/`` (``shared/data/music``).

    Returns
    -------
    rows : list of dict
        Rows keyed by :data:`COLUMNS`, values formatted as they are written, sorted by source then numeric id.
    report : BuildReport
        What was read, kept and dropped, and the Deezer scale.
    """
    data = Path(data)
    report = BuildReport()
    rows = _dedupe(_pmemo_rows(data / "pmemo", report) + _deezer_rows(data / "deezer_mood", report), report)
    rows.sort(key=lambda r: (r["source"], int(r["source_id"])))
    out = []
    for r in rows:
        report.kept[r["source"]] = report.kept.get(r["source"], 0) + 1
        out.append({
            "song_id": f"{r['source']}:{r['source_id']}",
            "title": r["title"],
            "artist": r["artist"],
            # Fixed 4-decimal format, so the text (not only the value) is reproducible.
            "valence": f"{r['valence']:.4f}",
            "arousal": f"{r['arousal']:.4f}",
            "source": r["source"],
            "source_id": r["source_id"],
            "provenance": r["provenance"],
        })
    return out, report


def format_catalogue(rows: list[dict[str, str]]) -> bytes:
    """The exact bytes of catalogue.csv for ``rows``: UTF-8, ``\\n`` line endings, csv-module quoting."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([row[c] for c in COLUMNS] for row in rows)
    return buf.getvalue().encode("utf-8")


def format_notes(report: BuildReport) -> bytes:
    """The exact bytes of CATALOGUE.md, the catalogue's description and attribution."""
    kept = report.kept
    total = sum(kept.values())
    drops = "\n".join(f"- {count} × {reason}" for reason, count in sorted(report.dropped.items())) or "- none"
    max_val = report.scale.get("valence", float("nan"))
    max_aro = report.scale.get("arousal", float("nan"))
    mean_val = report.mean.get("valence", float("nan"))
    mean_aro = report.mean.get("arousal", float("nan"))
    text = f"""# Song catalogue (`catalogue.csv`)

Generated by `scripts/build_catalogue.py`; do not edit by hand (`--check` compares both files).

The default music library of moodtune: {total:,} songs, each placed in valence/arousal space so that a mood
can be matched to music. Columns: `{",".join(COLUMNS)}`.

- `valence` (0 = most unpleasant, 1 = most pleasant) and `arousal` (0 = calmest, 1 = most excited), with
  4 decimals.
- `source` / `source_id`: the dataset and its own id (PMEmo `musicId`, Deezer `dzr_sng_id`); `song_id` is
  `source:source_id`.
- `provenance`: `rated` = mean of listener ratings; `tags` = Last.fm tags projected onto word norms.

| source | songs | provenance | scale |
|---|---|---|---|
| `pmemo` | {kept.get(PMEMO, 0):,} | rated | the raters' own [0, 1] scale, unchanged |
| `deezer` | {kept.get(DEEZER, 0):,} | tags | z-scores mapped per axis, see below |

## Scaling

Each source is put on [0, 1] on its own; values from different sources are comparable only roughly.

- PMEmo: static valence/arousal means, already on [0, 1]; kept as they are.
- Deezer: values are z-scores. Each axis is mapped with the centred scaling
  `x = 0.5 + z / (2 * max|z|)`, where `max|z|` is taken over that axis of the whole Deezer set
  (all {report.read.get(DEEZER, 0):,} rows of train + validation + test): valence max|z| = {max_val:.6f},
  arousal max|z| = {max_aro:.6f}. z = 0 sits at 0.5, nothing is clipped, and the most extreme song reaches 0
  or 1 on that axis only. The z-scores are not centred on this subset: its mean song, z = ({mean_val:.3f},
  {mean_aro:.3f}), maps to ({0.5 + mean_val / (2 * max_val):.3f}, {0.5 + mean_aro / (2 * max_aro):.3f}).

## Cleaning

Rows read: PMEmo {report.read.get(PMEMO, 0):,} annotated songs (joined to `metadata.csv` for title and
artist), Deezer {report.read.get(DEEZER, 0):,}. A song is kept once: within a source the lowest id
wins, across sources PMEmo's listener ratings win over Deezer's tag projection. Titles and artists are
trimmed; {report.fixed_names} garbled PMEmo names (a broken text encoding) are repaired. Dropped rows:

{drops}

## Sources and citations

- PMEmo 2019. Kejun Zhang, Hui Zhang, Simeng Li, Changyuan Yang, Lingyun Sun. "The PMEmo Dataset for Music
  Emotion Recognition". ACM International Conference on Multimedia Retrieval (ICMR), 2018.
  https://github.com/HuiZhangDB/PMEmo
- Deezer mood detection dataset. Rémi Delbouys, Romain Hennequin, Francesco Piccoli, Jimena Royo-Letelier,
  Manuel Moussallam. "Music Mood Detection Based on Audio and Lyrics with Deep Neural Net". International
  Society for Music Information Retrieval Conference (ISMIR), 2018.
  https://github.com/deezer/deezer_mood_detection_dataset

## Licence notes

Both datasets are published for research, asking for the papers above to be cited; neither states a data
licence. This file ships none of their files, audio or lyrics: only song titles and artists (facts), the
datasets' song ids, and valence/arousal numbers derived from their annotations. If you redistribute
moodtune, keep this attribution.
"""
    return text.encode("utf-8")
