"""Songs and where they sit in valence/arousal space: the shipped catalogue, the SQLite library and its history."""

from moodtune.music.history import Event, SessionRecord
from moodtune.music.library import Library, Song, SongTable, default_path

__all__ = ["Event", "Library", "SessionRecord", "Song", "SongTable", "default_path"]
