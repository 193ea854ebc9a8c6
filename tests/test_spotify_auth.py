"""Linking Spotify and keeping tokens alive: real fake-Spotify over HTTP, real SQLite files."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet, InvalidToken
from oauth_support import DISCORD_ID, GUILD_ID, World, build_world

from spotify_auth import SCOPES, STATE_TTL_SECONDS, TokenVault, hash_state
from utils.errors import LinkBroken, NotLinked
from utils.logger import SECRET_FILTER


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from build_world(tmp_path)


def stored_tokens(world: World, keys: list[str] | None = None) -> tuple[str, str]:
    row = world.db.get_tokens(DISCORD_ID)
    assert row is not None
    vault = TokenVault(keys or world.keys)
    return vault.decrypt(row["access_token"]), vault.decrypt(row["refresh_token"])


def run_concurrently(count: int, fn) -> list:
    barrier = threading.Barrier(count)

    def call(_: int):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


# -- the authorise link ---------------------------------------------------------------------------------

def test_authorise_link_asks_only_for_the_scopes_the_bot_uses_and_stores_only_a_hash(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert url.startswith(world.fake.authorize_endpoint)
    assert query["client_id"] == world.settings.spotify_client_id
    assert query["redirect_uri"] == world.settings.spotify_redirect_uri
    assert query["response_type"] == "code"
    assert set(query["scope"].split()) == set(SCOPES)
    state = query["state"]
    assert len(state) >= 43  # 32 random bytes, base64url
    rows = world.db.query("SELECT * FROM auth_states")
    assert len(rows) == 1
    assert rows[0]["state_hash"] == hash_state(state) != state
    assert (rows[0]["discord_id"], rows[0]["guild_id"], rows[0]["purpose"]) == (DISCORD_ID, GUILD_ID, "spotify")
    assert rows[0]["expires_at"] - rows[0]["created_at"] == pytest.approx(STATE_TTL_SECONDS)
    assert state.encode() not in world.raw_database_bytes()


def test_each_link_gets_a_different_state(world: World) -> None:
    first = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    second = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    assert parse_qs(urlsplit(first).query)["state"] != parse_qs(urlsplit(second).query)["state"]


# -- the callback -----------------------------------------------------------------------------------------

def test_linking_stores_encrypted_tokens_and_the_spotify_identity(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    outcome = world.auth.handle_callback(world.callback_args(url, "alice"))
    assert outcome.ok and outcome.status_code == 200
    assert (outcome.discord_id, outcome.guild_id) == (DISCORD_ID, GUILD_ID)
    assert "Alice" in outcome.message
    user = world.db.get_user(DISCORD_ID)
    assert user["link_state"] == "linked"
    assert user["spotify_user_id"] == "alice"
    access, refresh = stored_tokens(world)
    row = world.db.get_tokens(DISCORD_ID)
    assert access.encode() not in row["access_token"] and refresh.encode() not in row["refresh_token"]
    raw = world.raw_database_bytes()
    assert access.encode() not in raw and refresh.encode() not in raw
    assert set(row["scope"].split()) == set(SCOPES)
    assert world.auth.access_token(DISCORD_ID) == access
    assert world.fake.code_exchange_count["alice"] == 1


def test_live_tokens_are_masked_in_logs(world: World) -> None:
    world.link()
    access, refresh = stored_tokens(world)
    masked = SECRET_FILTER.mask(f"got {access} and {refresh}")
    assert access not in masked and refresh not in masked


def test_no_token_or_code_is_ever_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world.fake.access_token_ttl = 30  # inside the refresh margin: the next use refreshes
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    assert world.auth.handle_callback(args).ok
    old_access, refresh = stored_tokens(world)
    new_access = world.auth.access_token(DISCORD_ID)
    assert world.auth.handle_callback(args).reason == "used_state"
    # urllib3's lines include the test's own browser-like GET of the authorise URL, so they are left out.
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))
    assert "linked" in ours
    for secret in (args["code"], args["state"], old_access, new_access, refresh, world.settings.spotify_client_secret):
        assert secret not in ours


def test_reused_state_is_refused_and_changes_nothing(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    assert world.auth.handle_callback(args).ok
    before = world.token_rows()
    again = world.auth.handle_callback(args)
    assert (again.ok, again.status_code, again.reason) == (False, 410, "used_state")
    assert "/connect" in again.message
    assert world.token_rows() == before
    assert world.fake.code_exchange_count["alice"] == 1


@pytest.mark.parametrize(("args", "reason", "status"), [
    ({"error": "access_denied"}, "denied", 400),
    ({}, "missing", 400),
    ({"code": "abc"}, "missing", 400),
    ({"state": "abc"}, "missing", 400),
    ({"code": "abc", "state": "forged-state-that-we-never-made-0123456789"}, "unknown_state", 400),
])
def test_bad_callbacks_are_refused_and_store_nothing(world: World, args: dict, reason: str, status: int) -> None:
    world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    outcome = world.auth.handle_callback(args)
    assert (outcome.ok, outcome.reason, outcome.status_code) == (False, reason, status)
    assert world.token_rows() == []
    assert world.db.get_user(DISCORD_ID)["link_state"] == "none"


def test_denied_at_spotify_spends_the_state(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    state = parse_qs(urlsplit(url).query)["state"][0]
    denied = world.auth.handle_callback({"error": "access_denied", "state": state})
    assert denied.reason == "denied" and denied.discord_id == DISCORD_ID
    assert "nothing was saved" in denied.message
    # The same state with a code (say, from another tab) no longer works.
    assert world.auth.handle_callback({"state": state, "code": "whatever"}).reason == "used_state"


def test_expired_state_is_refused(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    world.age_states(STATE_TTL_SECONDS + 1)
    outcome = world.auth.handle_callback(args)
    assert (outcome.ok, outcome.reason, outcome.status_code) == (False, "expired_state", 410)
    assert "10 minutes" in outcome.message
    assert world.token_rows() == []
    assert world.fake.code_exchange_count["alice"] == 0


def test_a_code_spotify_refuses_stores_nothing(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    args["code"] = "not-the-code-spotify-gave"
    outcome = world.auth.handle_callback(args)
    assert (outcome.ok, outcome.reason, outcome.status_code) == (False, "exchange_failed", 400)
    assert world.token_rows() == []


def test_spotify_down_during_the_exchange_says_so(world: World) -> None:
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    args = world.callback_args(url, "alice")
    world.fake.fail_next("/api/token", 503)
    outcome = world.auth.handle_callback(args)
    assert (outcome.ok, outcome.reason) == (False, "spotify_unavailable")
    assert "few minutes" in outcome.message
    assert world.token_rows() == []


def test_account_not_on_the_allowlist_is_explained_and_nothing_is_stored(world: World) -> None:
    world.fake.set_allowlist({"bob"})
    url = world.auth.create_link(DISCORD_ID, GUILD_ID, "Alice")
    outcome = world.auth.handle_callback(world.callback_args(url, "alice"))
    assert (outcome.ok, outcome.reason, outcome.status_code) == (False, "not_allowlisted", 403)
    assert "ask the bot owner to add" in outcome.message
    assert world.token_rows() == []
    assert world.db.get_user(DISCORD_ID)["link_state"] == "none"
    with pytest.raises(NotLinked):
        world.auth.access_token(DISCORD_ID)


def test_relinking_replaces_the_tokens(world: World) -> None:
    world.link(user="alice")
    first = stored_tokens(world)
    world.link(user="bob")
    assert stored_tokens(world) != first
    assert world.db.get_user(DISCORD_ID)["spotify_user_id"] == "bob"


# -- refreshing -------------------------------------------------------------------------------------------

def test_expiring_token_is_refreshed_once_for_ten_concurrent_callers(world: World) -> None:
    world.fake.access_token_ttl = 30  # expires inside the 60 s margin
    world.link()
    old_access, refresh = stored_tokens(world)
    world.fake.access_token_ttl = 3600
    tokens = run_concurrently(10, lambda: world.auth.access_token(DISCORD_ID))
    assert world.fake.token_refresh_count["alice"] == 1
    assert len(set(tokens)) == 1 and tokens[0] != old_access
    new_access, kept_refresh = stored_tokens(world)
    assert new_access == tokens[0]
    assert kept_refresh == refresh  # Spotify sent no new refresh token: the old one is kept
    assert world.db.get_tokens(DISCORD_ID)["expires_at"] > time.time() + 3000


def test_forced_refresh_after_a_401_happens_once_for_ten_callers(world: World) -> None:
    world.link()
    old_access, _ = stored_tokens(world)
    tokens = run_concurrently(10, lambda: world.auth.access_token(DISCORD_ID, force_refresh=True))
    assert world.fake.token_refresh_count["alice"] == 1
    assert set(tokens) == {stored_tokens(world)[0]} and tokens[0] != old_access


def test_fresh_token_is_not_refreshed(world: World) -> None:
    world.link()
    for _ in range(5):
        world.auth.access_token(DISCORD_ID)
    assert world.fake.token_refresh_count["alice"] == 0


def test_rotated_refresh_token_is_stored(world: World) -> None:
    world.fake.rotate_refresh_tokens = True  # the old refresh token dies when a new one is issued
    world.fake.access_token_ttl = 30
    world.link()
    _, first_refresh = stored_tokens(world)
    world.auth.access_token(DISCORD_ID)
    _, second_refresh = stored_tokens(world)
    assert second_refresh != first_refresh
    world.auth.access_token(DISCORD_ID)  # would be invalid_grant had we kept the old one
    assert world.fake.token_refresh_count["alice"] == 2
    assert world.db.get_user(DISCORD_ID)["link_state"] == "linked"


def test_revoked_access_breaks_the_link_once_and_keeps_everything_else(world: World) -> None:
    world.fake.access_token_ttl = 30
    world.link()
    world.db.set_state("unrelated", 1)
    rows_before = world.token_rows()
    world.fake.revoke("alice")
    world.fake.clear_log()
    with pytest.raises(LinkBroken) as caught:
        world.auth.access_token(DISCORD_ID)
    assert "/connect" in caught.value.user_message
    assert world.db.get_user(DISCORD_ID)["link_state"] == "broken"
    assert world.token_rows() == rows_before  # nothing deleted
    # Asking again does not hit Spotify again: no retry loop on a dead refresh token.
    with pytest.raises(LinkBroken):
        world.auth.access_token(DISCORD_ID)
    with pytest.raises(LinkBroken):
        world.auth.client_for(DISCORD_ID)
    assert len(world.fake.requests_to("/api/token")) == 1


def test_one_failed_refresh_is_tried_again_and_the_member_never_notices(world: World) -> None:
    world.fake.access_token_ttl = 30
    world.link()
    old_access, _ = stored_tokens(world)
    world.fake.clear_log()
    world.fake.fail_next("/api/token", 503)
    token = world.auth.access_token(DISCORD_ID)
    assert token != old_access and world.fake.token_refresh_count["alice"] == 1
    assert len(world.fake.requests_to("/api/token")) == 2
    assert world.db.get_user(DISCORD_ID)["link_state"] == "linked"


def test_spotify_down_during_refresh_does_not_break_the_link(world: World) -> None:
    from utils.errors import SpotifyUnavailable

    world.fake.access_token_ttl = 30
    world.link()
    world.fake.clear_log()
    world.fake.fail_next("/api/token", 502, count=3)
    started = time.monotonic()
    with pytest.raises(SpotifyUnavailable) as caught:
        world.auth.access_token(DISCORD_ID)
    assert time.monotonic() - started < 3  # a short backoff, not a long wait
    assert "isn't answering" in caught.value.user_message
    assert len(world.fake.requests_to("/api/token")) == 3  # the first try and two more
    assert world.db.get_user(DISCORD_ID)["link_state"] == "linked"
    assert world.auth.access_token(DISCORD_ID)  # next time it works


def test_a_revoked_refresh_token_is_not_retried(world: World) -> None:
    world.fake.access_token_ttl = 30
    world.link()
    world.fake.clear_log()
    world.fake.fail_next("/api/token", 503)  # a hiccup first, then Spotify says the token is dead
    world.fake.revoke("alice")
    with pytest.raises(LinkBroken):
        world.auth.access_token(DISCORD_ID)
    assert len(world.fake.requests_to("/api/token")) == 2
    assert world.db.get_user(DISCORD_ID)["link_state"] == "broken"


# -- keys ----------------------------------------------------------------------------------------------

def test_tokens_written_under_key_a_still_open_after_keys_become_b_then_a(world: World) -> None:
    world.link()
    access, _ = stored_tokens(world)
    key_a, key_b = world.keys[0], Fernet.generate_key().decode()
    rotated = world.auth_with_keys([key_b, key_a])
    assert rotated.access_token(DISCORD_ID) == access
    assert rotated.reencrypt_all() == 1
    assert stored_tokens(world, [key_b])[0] == access  # now under B alone
    with pytest.raises(InvalidToken):
        stored_tokens(world, [key_a])
    assert world.auth_with_keys([key_b]).access_token(DISCORD_ID) == access


def test_tokens_under_a_removed_key_break_the_link_with_advice(world: World) -> None:
    world.link()
    stranger = world.auth_with_keys([Fernet.generate_key().decode()])
    with pytest.raises(LinkBroken) as caught:
        stranger.access_token(DISCORD_ID)
    assert "/connect" in caught.value.user_message
    assert world.token_rows()  # kept: putting the old key back would restore them


# -- lifecycle ---------------------------------------------------------------------------------------------

def test_unknown_member_is_not_linked(world: World) -> None:
    with pytest.raises(NotLinked):
        world.auth.client_for(DISCORD_ID)
    with pytest.raises(NotLinked):
        world.auth.access_token(DISCORD_ID)


def test_disconnect_forgets_the_tokens(world: World) -> None:
    world.link()
    world.auth.disconnect(DISCORD_ID)
    assert world.token_rows() == []
    assert world.db.get_user(DISCORD_ID)["link_state"] == "none"
    with pytest.raises(NotLinked):
        world.auth.access_token(DISCORD_ID)


# -- the shared client ---------------------------------------------------------------------------------------

def test_client_for_acts_as_the_member_and_refreshes_once_after_a_401(world: World) -> None:
    world.link(user="bob")
    world.fake.expire_access_tokens()  # Spotify rejects the token though our clock says it is fresh
    results = run_concurrently(10, lambda: world.auth.client_for(DISCORD_ID).me()["id"])
    assert results == ["bob"] * 10
    assert world.fake.token_refresh_count["bob"] == 1


def test_client_for_refreshes_an_expiring_token_once(world: World) -> None:
    world.fake.access_token_ttl = 30
    world.link(user="bob")
    world.fake.access_token_ttl = 3600
    client = world.auth.client_for(DISCORD_ID)
    assert run_concurrently(10, lambda: client.me()["id"]) == ["bob"] * 10
    assert world.fake.token_refresh_count["bob"] == 1
