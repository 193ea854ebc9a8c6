"""Fixtures shared across the whole suite."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fakes.postgres
from database import Database

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def database_target(tmp_path: Path) -> Iterator[str | Path]:
    """Where a test's database lives: bot.db in tmp_path, or a throwaway PostgreSQL schema when
    TEST_DATABASE_BACKEND=postgres (and TEST_DATABASE_URL names a server; see scripts/test.sh)."""
    with fakes.postgres.database_target(tmp_path) as target:
        yield target


@pytest.fixture
def db(database_target: str | Path) -> Iterator[Database]:
    """A new database with the whole schema (a bot.db file, or PostgreSQL in that run), closed after the test."""
    database = Database(database_target).open()
    yield database
    database.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throwaway schema on the test PostgreSQL server; skips with the reason when there is none."""
    if not fakes.postgres.server_url():
        pytest.skip(fakes.postgres.NO_SERVER)
    with fakes.postgres.throwaway_schema() as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): reads or damages the SQLite file itself; "
                                       "skipped in the PostgreSQL run")


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("sqlite_only")
    if marker is not None and fakes.postgres.storing_on_postgres():
        pytest.skip(f"SQLite only: {marker.args[0] if marker.args else 'works on the SQLite file itself'}")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Selenium; skips with the reason when no browser is installed."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"no browser here: needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
