"""Shared fixtures. Tests make their own inputs; those that need ../shared/data skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

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
