"""The history upload page over real HTTP (waitress on port 0), and in headless Chromium with a real file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet

from config import Settings
from database import Database
from fakes.world import LateApp
from keep_alive import WebContext, WebServer, create_app
from spotify_auth import SpotifyAuth
from tests.helpers.export_files import BASE_TIME, extended_entry, make_zip, podcast_entry, to_json, track_uri
from utils.events import NullBridge
from utils.sources.export_import import HistoryImporter
from utils.sources.export_reader import ImportLimits

MEMBER, GUILD = 4242, 77


@dataclass
class Site:
    db: Database
    importer: HistoryImporter
    bridge: NullBridge
    base_url: str
    ctx: WebContext

    def link(self) -> str:
        return self.importer.create_upload_link(MEMBER, GUILD, "Robin")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    holder = LateApp()
    server = WebServer(holder, "127.0.0.1", 0, threads=4).start()
    settings = Settings(discord_token="not-a-token", spotify_client_id="id", spotify_client_secret="secret-secret",
                        token_encryption_keys=(Fernet.generate_key().decode(),),
                        database_path=str(tmp_path / "bot.db"), log_dir="",
                        spotify_redirect_uri=f"http://127.0.0.1:{server.port}/callback")
    db = Database(tmp_path / "bot.db").open()
    importer = HistoryImporter(db, settings, limits=ImportLimits(max_upload_bytes=2 * 1024 * 1024))
    bridge = NullBridge()
    ctx = WebContext(settings=settings, db=db, auth=SpotifyAuth(settings, db), bridge=bridge, importer=importer)
    holder.target = create_app(ctx)
    try:
        yield Site(db, importer, bridge, server.url, ctx)
    finally:
        server.stop()
        db.close()


def export_zip() -> bytes:
    entries = [extended_entry(BASE_TIME + timedelta(minutes=4 * n), f"Song {n}", "The Band", uri=track_uri(n),
                              ms_played=5_000 if n == 2 else 200_000) for n in range(3)]
    return make_zip({"Streaming_History_Audio_2021_0.json": to_json([*entries, podcast_entry(BASE_TIME)])})


def post(url: str, data: bytes, name: str, *, json: bool = True) -> requests.Response:
    headers = {"Accept": "application/json"} if json else {"Accept": "text/html"}
    return requests.post(url, files={"file": (name, data)}, headers=headers, timeout=30)


def imported_plays(db: Database) -> int:
    return db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ? AND source = 'import'", (MEMBER,))


def test_the_form_page_greets_the_member_and_allows_only_its_own_script(site: Site) -> None:
    page = requests.get(site.link(), timeout=10)
    assert page.status_code == 200
    assert "Hi Robin!" in page.text and 'type="file"' in page.text and "IP address" in page.text
    csp = page.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in page.text and "frame-ancestors 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store"


def test_a_wrong_file_keeps_the_link_and_the_right_one_spends_it(site: Site) -> None:
    url = site.link()
    wrong = post(url, b"these are my holiday notes", "notes.txt")
    assert wrong.status_code == 400
    assert wrong.json()["title"] == "That file didn't work" and wrong.json()["retry"] is True
    assert "isn't a zip or a JSON file" in wrong.json()["message"]
    assert imported_plays(site.db) == 0 and requests.get(url, timeout=10).status_code == 200

    right = post(url, export_zip(), "my_spotify_data.zip")
    assert right.status_code == 200
    body = right.json()
    assert body["ok"] is True and body["plays_added"] == 3 and "Imported 3 plays" in body["message"]
    assert imported_plays(site.db) == 3
    assert [(member, summary.plays_added) for member, summary in site.bridge.imported] == [(MEMBER, 3)]
    assert MEMBER in site.db.visible_members(GUILD)

    again = requests.get(url, timeout=10)
    assert again.status_code == 410 and "expired or has already been used" in again.text
    assert post(url, export_zip(), "my_spotify_data.zip").status_code == 410


def test_without_scripts_the_form_posts_and_shows_a_whole_page(site: Site) -> None:
    answer = post(site.link(), export_zip(), "my_spotify_data.zip", json=False)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert "Your history is in!" in answer.text and "Imported 3 plays" in answer.text


def test_missing_too_big_and_unknown_are_explained(site: Site) -> None:
    url = site.link()
    none = requests.post(url, data={"nothing": "here"}, headers={"Accept": "application/json"}, timeout=10)
    assert none.status_code == 400 and "choose your Spotify or ListenBrainz history file" in none.json()["message"]
    big = post(url, b"[" + b" " * (4 * 1024 * 1024) + b"]", "Streaming_History_Audio_1.json")
    assert big.status_code == 413 and "too big" in big.json()["title"]
    assert requests.get(url, timeout=10).status_code == 200  # still usable
    unknown = requests.get(site.base_url + "/import/not-a-real-link", timeout=10)
    assert unknown.status_code == 410 and "Run /import in Discord" in unknown.text


def test_a_failing_bridge_does_not_undo_the_import(site: Site) -> None:
    class Broken(NullBridge):
        def on_imported(self, discord_id: int, summary: Any) -> None:
            raise RuntimeError("bot loop gone")

    site.ctx.bridge = Broken()  # the app reads the bridge from the context at each request
    assert post(site.link(), export_zip(), "my_spotify_data.zip").status_code == 200
    assert imported_plays(site.db) == 3


# -- a real browser ---------------------------------------------------------------------------------------------

def test_in_a_browser_a_wrong_file_then_the_right_one(site: Site, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wrong = tmp_path / "notes.txt"
    wrong.write_text("not my history")
    right = tmp_path / "my_spotify_data.zip"
    right.write_bytes(export_zip())

    def upload(path: Path) -> str:
        browser.find_element(By.ID, "file").send_keys(str(path))
        browser.find_element(By.ID, "send").click()
        title = browser.find_element(By.ID, "result-title")
        WebDriverWait(browser, 20).until(lambda _d: title.is_displayed() and title.text)
        return title.text

    browser.get(site.link())
    assert browser.find_element(By.TAG_NAME, "h1").text == "Bring in your listening history"
    assert upload(wrong) == "That file didn't work"
    assert "isn't a zip or a JSON file" in browser.find_element(By.ID, "result-message").text
    assert browser.find_element(By.ID, "upload-form").is_displayed()  # the member can try again

    assert upload(right) == "Your history is in!"
    assert "Imported 3 plays" in browser.find_element(By.ID, "result-message").text
    assert not browser.find_element(By.ID, "upload-form").is_displayed()
    assert browser.find_element(By.ID, "bar").get_attribute("hidden") is not None
    assert imported_plays(site.db) == 3
    assert not [entry for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_a_crash_on_the_upload_page_keeps_the_link_out_of_the_log(site: Site, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The link stays valid after a failure, so whoever reads the log must not be able to use it."""
    link = site.link()
    token = link.rstrip("/").rsplit("/", 1)[-1]

    def locked(token: str) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(site.importer, "check_upload_link", locked)
    response = requests.get(link, timeout=10)
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    failures = [r for r in caplog.records if "failed on" in r.getMessage()]
    assert failures, "the crash is logged"
    assert all(token not in r.getMessage() for r in failures)
    assert "/import/<token>" in failures[0].getMessage()
