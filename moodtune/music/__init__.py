"""Songs and where they sit in valence/arousal space: the shipped catalogue and the SQLite library."""

from moodtune.music.library import Library, Song, default_path

__all__ = ["Library", "Song", "default_path"]
