"""The whole /connect round trip as a member's browser makes it: authorise URL -> Spotify -> our /callback.

The HTTP tests follow redirects with `requests` like a browser would; the last test drives a real headless
Chromium (Debian's, via Selenium) and clicks the fake Spotify's approve button.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oauth_support import DISCORD_ID, GUILD_ID, World, build_world

from utils.errors import LinkBroken


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from build_world(tmp_path)


def browse(url: str, **params: str) -> requests.Response:
    """Follow every redirect, as a browser does."""
    return requests.get(url, params=params or None, allow_redirects=True, timeout=10)


def test_round_trip_links_the_member_and_stores_only_ciphertext(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    page = browse(url, login_as="alice")
    assert [r.status_code for r in page.history] == [302]
    assert page.url.startswith(world.settings.spotify_redirect_uri)
    assert page.status_code == 200
    assert "Spotify is linked!" in page.text
    # Both sides named: whoever approved a link someone forwarded them can tell, and is told how to undo it.
    assert "for Alice on Discord" in html.unescape(page.text) and "Not Alice?" in html.unescape(page.text)
    assert world.bridge.linked == [(DISCORD_ID, GUILD_ID)]
    access = world.auth.access_token(DISCORD_ID)
    row = world.db.get_tokens(DISCORD_ID)
    refresh = world.auth.vault.decrypt(row["refresh_token"])
    world.db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the tokens must be absent from both files
    raw = world.raw_database_bytes()
    assert access.encode() not in raw and refresh.encode() not in raw
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    assert code.encode() not in raw


def test_clicking_the_link_twice_is_refused_and_keeps_the_first_link(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    first = browse(url, login_as="alice")
    assert first.status_code == 200
    tokens = world.token_rows()
    again = browse(first.url)  # the browser's back button or a shared screenshot of the address bar
    assert again.status_code == 410
    assert "already been used" in html.unescape(again.text)
    assert world.token_rows() == tokens
    assert world.bridge.linked == [(DISCORD_ID, GUILD_ID)]


def test_an_attacker_cannot_attach_their_spotify_to_a_victim(world: World) -> None:
    """Login CSRF: the attacker's own code, sent with a state we never issued, links nobody."""
    world.auth.create_link(DISCORD_ID, GUILD_ID, "Victim")
    attacker_url = world.fake.authorize_endpoint + "?" + requests.compat.urlencode({
        "client_id": world.settings.spotify_client_id, "response_type": "code",
        "redirect_uri": world.settings.spotify_redirect_uri, "state": "attacker-made-this-state-0123456789abcdef",
        "scope": "user-top-read"})
    page = browse(attacker_url, login_as="bob")
    assert page.status_code == 400
    assert world.token_rows() == []
    assert world.bridge.linked == []


def test_member_who_cancels_at_spotify_is_told_nothing_was_saved(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    page = browse(url, deny="1")
    assert page.status_code == 400
    assert "nothing was saved" in page.text
    assert world.token_rows() == []


def test_member_not_on_the_allowlist_sees_what_to_do(world: World) -> None:
    world.fake.set_allowlist({"bob"})
    page = browse(world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice"), login_as="alice")
    assert page.status_code == 403
    assert "ask the bot owner to add the e-mail address" in page.text
    assert world.token_rows() == []
    # Once the owner adds them, a new /connect works.
    world.fake.set_allowlist({"alice", "bob"})
    assert browse(world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice"), login_as="alice").status_code == 200


def test_link_revoked_at_spotify_asks_the_member_to_connect_again(world: World) -> None:
    world.fake.access_token_ttl = 30
    assert browse(world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice"), login_as="alice").ok
    world.fake.revoke("alice")
    with pytest.raises(LinkBroken, match="/connect"):
        world.auth.access_token(DISCORD_ID)
    # /connect again repairs it.
    assert browse(world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice"), login_as="alice").ok
    assert world.db.get_user(DISCORD_ID)["link_state"] == "linked"
    assert world.auth.access_token(DISCORD_ID)


# -- a real browser ---------------------------------------------------------------------------------------------

def test_browser_clicks_approve_and_lands_on_the_success_page(world: World, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice"))
    assert "Log in to Spotify" in browser.title
    browser.find_element(By.ID, "approve-alice").click()
    WebDriverWait(browser, 15).until(expected_conditions.title_is("Spotify is linked!"))
    assert browser.current_url.startswith(world.settings.spotify_redirect_uri)
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "Spotify is linked!"
    assert "close this tab" in browser.find_element(By.TAG_NAME, "main").text
    assert world.db.get_user(DISCORD_ID)["link_state"] == "linked"
    assert world.bridge.linked == [(DISCORD_ID, GUILD_ID)]


def test_browser_cancel_lands_on_the_friendly_refusal(world: World, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice"))
    browser.find_element(By.ID, "cancel").click()
    WebDriverWait(browser, 15).until(expected_conditions.title_is("Spotify wasn't linked"))
    assert "nothing was saved" in browser.find_element(By.TAG_NAME, "main").text
    assert world.token_rows() == []
