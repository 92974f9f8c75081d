"""Write a playlist to a file other programs read: M3U8, XSPF, JSON or CSV.

M3U8 and XSPF are for music players, JSON and CSV for people and scripts. The format follows the file's
extension (``.m3u8``/``.m3u``, ``.xspf``, ``.json``, ``.csv``) unless named.

Most songs come from the shipped catalogue, which holds no audio: only songs imported from the user's own
files have a local ``path``. How each format deals with that:

* M3U8 entries must be file locations, and ``#EXTINF`` describes the *next* location, so a song without a
  file cannot be an entry. It is written as a comment line (``# Artist - Title (song id)``) that players
  skip and people can read: nothing is silently lost, and no player shows one song's title for another.
* XSPF has a ``<track>`` for every song; ``<location>`` (a ``file://`` URI) only where a file is known.
* JSON is :meth:`Playlist.to_dict`; CSV has one row per song, with an empty ``path`` where none is known.

Files are written atomically: to a temporary file in the same folder, then renamed over the target, so
a crash never leaves half a playlist behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from moodtune.errors import ExportError
from moodtune.recommend.playlist import Playlist

#: Format name of each file extension.
EXTENSIONS: dict[str, str] = {".m3u8": "m3u8", ".m3u": "m3u8", ".xspf": "xspf", ".json": "json", ".csv": "csv"}
FORMATS: tuple[str, ...] = ("m3u8", "xspf", "json", "csv")

CSV_COLUMNS: tuple[str, ...] = (
    "position", "step", "song_id", "title", "artist", "valence", "arousal", "target_valence", "target_arousal",
    "distance", "familiar", "reason", "path",
)

XSPF_NS = "http://xspf.org/ns/0/"

# XML 1.0 cannot hold these control characters at all; some dataset titles contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def title(playlist: Playlist) -> str:
    """A title for the playlist, e.g. ``"moodtune: lift from sad"``."""
    return f"moodtune: {playlist.strategy} from {playlist.emotion}"


def _line(text: str) -> str:
    """Text safe for one line of a playlist file: line breaks would start a new entry."""
    return " ".join(str(text).split())


def to_m3u8(playlist: Playlist) -> str:
    """Extended M3U, UTF-8: ``#EXTINF:-1,Artist - Title`` and the file path for songs with a file; a comment
    line for songs without one (see the module notes)."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_line(title(playlist))}"]
    for pick in playlist.picks:
        song = pick.song
        name = _line(f"{song.artist} - {song.title}")
        if song.path:
            lines += [f"#EXTINF:-1,{name}", _line(song.path)]
        else:
            lines.append(f"# {name} ({song.song_id}; no local file)")
    return "\n".join(lines) + "\n"


def to_xspf(playlist: Playlist) -> str:
    """XSPF 1 (``http://xspf.org/ns/0/``): title, creator (artist), annotation (the reason) per track."""
    ET.register_namespace("", XSPF_NS)

    def add(parent, tag: str, text: str | None = None):
        element = ET.SubElement(parent, f"{{{XSPF_NS}}}{tag}")
        if text is not None:
            element.text = _NOT_XML.sub("", str(text))
        return element

    root = ET.Element(f"{{{XSPF_NS}}}playlist", version="1")
    add(root, "title", title(playlist))
    add(root, "creator", "moodtune")
    v, a = playlist.target
    add(root, "annotation",
        f"{playlist.strategy} playlist for a mood read as {playlist.emotion} (valence {v:.2f}, arousal {a:.2f})")
    tracks = add(root, "trackList")
    for pick in playlist.picks:
        track = add(tracks, "track")
        if pick.song.path:  # element order is fixed by the XSPF schema: location, title, creator, annotation
            add(track, "location", Path(pick.song.path).absolute().as_uri())
        add(track, "title", pick.song.title)
        add(track, "creator", pick.song.artist)
        add(track, "annotation", pick.reason)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def to_json(playlist: Playlist) -> str:
    """:meth:`Playlist.to_dict` as indented JSON."""
    return json.dumps(playlist.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_csv(playlist: Playlist) -> str:
    """One row per song, columns :data:`CSV_COLUMNS`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for position, pick in enumerate(playlist.picks, 1):
        song, point = pick.song, pick.point or playlist.target
        writer.writerow([position, pick.step, song.song_id, song.title, song.artist, f"{song.valence:.4f}",
                         f"{song.arousal:.4f}", f"{point[0]:.4f}", f"{point[1]:.4f}", f"{pick.distance:.4f}",
                         int(pick.familiar), pick.reason, song.path or ""])
    return buffer.getvalue()


_WRITERS = {"m3u8": to_m3u8, "xspf": to_xspf, "json": to_json, "csv": to_csv}


def format_for(path: str | Path, format: str | None = None) -> str:
    """The format to write: ``format`` if given, else the one ``path``'s extension names.

    Raises
    ------
    ExportError
        If neither names a known format.
    """
    if format is not None:
        name = str(format).lower().lstrip(".")
        name = "m3u8" if name == "m3u" else name
        if name not in FORMATS:
            raise ExportError(f"unknown playlist format {format!r}: use one of {', '.join(FORMATS)}")
        return name
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ExportError(f"{path}: cannot tell the playlist format from the extension {suffix or '(none)'!r}; "
                          f"end the name in {', '.join(EXTENSIONS)} or give --format")
    return EXTENSIONS[suffix]


def check_destination(path: str | Path, format: str | None = None) -> str:
    """Check that a playlist could be written to ``path`` (known format, existing folder); return the format.

    Lets a caller refuse early, before it does work (or records history) for a file it cannot write.

    Raises
    ------
    ExportError
        For an unknown format, a missing folder, or a folder where the file should be.
    """
    path = Path(path)
    name = format_for(path, format)
    if not path.parent.is_dir():
        raise ExportError(f"cannot write playlist {path}: folder {path.parent} does not exist; create it first "
                          "or choose another file")
    if path.is_dir():
        raise ExportError(f"cannot write playlist {path}: it is a folder; give a file name")
    return name


def export(playlist: Playlist, path: str | Path, *, format: str | None = None) -> Path:
    """Write ``playlist`` to ``path`` atomically, replacing any file there.

    Parameters
    ----------
    playlist : Playlist
    path : str or Path
        The file to write; its folder must exist.
    format : {"m3u8", "xspf", "json", "csv"}, optional
        Overrides the format the extension names.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ExportError
        For an unknown format, a missing folder, a folder in the way, or a file that cannot be written.
    """
    path = Path(path)
    text = _WRITERS[check_destination(path, format)](playlist)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportError(f"cannot write playlist {path}: {exc.strerror or exc}; choose another folder") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        # mkstemp makes the file private (0600); a playlist is an ordinary file, or keeps the mode it had.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write playlist {path}: {exc.strerror or exc}; choose another file") from exc
        raise
    return path
