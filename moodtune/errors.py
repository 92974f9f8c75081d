"""The one error family moodtune raises for bad input.

Every message names the thing that was wrong (usually a file), says what was wrong with it, and what to
do about it, so the CLI can print it as one line and exit with status 2.
"""


class MoodtuneError(Exception):
    """Base class: bad input or a state the user can fix. Never a bug in moodtune itself."""


class ParameterError(MoodtuneError, ValueError):
    """An argument has the wrong type, shape or value."""


class ImageError(MoodtuneError):
    """A file could not be read as an image (missing, a folder, not an image, truncated, too large)."""


class NoFaceError(MoodtuneError):
    """An image was read, but no face was found in it."""


class LibraryError(MoodtuneError):
    """The music library (SQLite store, catalogue, import file) could not be used."""


class ExportError(MoodtuneError):
    """A playlist could not be written (unknown format, missing folder, no permission)."""
