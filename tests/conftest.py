"""Shared fixtures. Tests make their own inputs; those that need ../shared/data skip when it is absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from moodtune.music import Library
from moodtune.music.catalogue import format_catalogue

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
EXAMPLE_PHOTO = ROOT / "examples" / "astronaut.png"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def library_db(tmp_path_factory) -> Path:
    """One library database for the whole session, never the user's real one."""
    return tmp_path_factory.mktemp("library") / "library.sqlite3"


@pytest.fixture(scope="session")
def catalogue_template(tmp_path_factory) -> Path:
    """A library holding the shipped catalogue, loaded once per session; tests change only copies of it."""
    path = tmp_path_factory.mktemp("template") / "library.sqlite3"
    Library(path).close()
    return path


@pytest.fixture
def fresh_db(catalogue_template, tmp_path) -> Path:
    """This test's own copy of the shipped-catalogue library."""
    return Path(shutil.copy(catalogue_template, tmp_path / "library.sqlite3"))


def write_catalogue(path, songs):
    """Write (song_id, title, artist, valence, arousal) tuples as a catalogue CSV."""
    rows = [{"song_id": sid, "title": title, "artist": artist, "valence": f"{v:.4f}", "arousal": f"{a:.4f}",
             "source": sid.split(":")[0], "source_id": sid.split(":")[1], "provenance": "rated"}
            for sid, title, artist, v, a in songs]
    path.write_bytes(format_catalogue(rows))
    return path
