"""Where tests that stand for several bot processes keep their one shared database.

The suite's `database_target` fixture when it has one (a throwaway PostgreSQL schema in a PostgreSQL run),
else TEST_DATABASE_URL when set, else a SQLite file in the test's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    try:
        return request.getfixturevalue("database_target")
    except pytest.FixtureLookupError:
        return os.environ.get("TEST_DATABASE_URL") or tmp_path / "shared.db"


def settings_env(target: str | Path) -> dict[str, str]:
    """The setting a bot process needs to use that database."""
    text = str(target)
    return {"DATABASE_URL": text} if text.startswith(("postgres://", "postgresql://")) else {"DATABASE_PATH": text}
