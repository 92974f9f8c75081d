"""Shared fixtures. Tests make their own inputs; those that need ../shared/data skip when it is absent."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import pytest

from moodtune.emotions import EMOTIONS
from moodtune.music import Library
from moodtune.music.catalogue import format_catalogue

from .synthetic import grating

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


@pytest.fixture(scope="session")
def manifest(tmp_path_factory) -> Path:
    """PNG files plus a path,label,subject CSV (labels in FER wording, to exercise the synonyms)."""
    root = tmp_path_factory.mktemp("manifest")
    words = {"afraid": "fear", "angry": "anger", "disgusted": "disgust", "happy": "happiness",
             "neutral": "neutral", "sad": "sadness", "surprised": "surprise"}
    rows = []
    for s in range(5):
        for label, emotion in enumerate(EMOTIONS):
            for rep in range(2):
                name = f"img/s{s}_{emotion}_{rep}.png"
                (root / "img").mkdir(exist_ok=True)
                cv2.imwrite(str(root / name), grating(label, s, rep, 56))
                rows.append((name, words[emotion], f"person{s}"))
    with open(root / "faces.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "subject"), *rows])
    return root / "faces.csv"
