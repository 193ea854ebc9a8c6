"""Linking a member's Last.fm or ListenBrainz account, and unlinking it.

Last.fm: `lastfm_link` makes a single-use state bound to the member (only its hash is stored; 10 minutes) inside
our callback address and returns Last.fm's web authentication page; Last.fm sends the browser back to
`/lastfm/callback?state=...&token=...`, and `handle_lastfm_callback` spends the state, swaps the token for a
session key (`auth.getSession`, signed), refuses an account another member has linked, and keeps the session key
encrypted. Nothing is stored on any failure. ListenBrainz: the member's user token is checked with
`validate-token` and only the user name is kept. Either way the history then comes in (utils.sources.history_sync).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from database import Database
from storage.sources import AccountTaken
from utils.errors import BotError
from utils.logger import get_logger
from utils.sources.history_sync import HistorySync
from utils.sources.lastfm import LastFmClient
from utils.sources.listenbrainz import ListenBrainzClient
from utils.sources.source_http import SOURCE_NAMES, LinkRefused, SourceError, run_blocking

log = get_logger("source_links")

LASTFM_STATE_PURPOSE = "lastfm"
STATE_TTL_SECONDS = 600.0
NO_LASTFM = ("This bot has no Last.fm set up, so Last.fm accounts can't be linked here. The bot owner can turn it "
             "on (it needs a free Last.fm API account). Meanwhile you can link ListenBrainz with "
             "`/link listenbrainz`, or bring in your Spotify history with `/import file`.")


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def taken_message(source: str, account: str) -> str:
    name = SOURCE_NAMES[source]
    return (f"The {name} account {account} is already linked to another Discord member, so it wasn't linked to you. "
            f"Each {name} account can count for one member only. If it's yours, ask that member to run "
            f"`/unlink {source}`, then try again.")


@dataclass(frozen=True)
class LinkOutcome:
    """What the callback page (or the reply) shows; `reason` is a stable short word for logs and tests."""

    ok: bool
    status_code: int
    title: str
    message: str
    discord_id: int | None = None
    guild_id: int | None = None
    reason: str = "linked"
    account_name: str | None = None


_AGAIN = "Go back to Discord and run /link lastfm to get a fresh link."
_PAGES = {
    "missing": (400, "This link is incomplete", "This page needs the details Last.fm adds when it sends you back "
                "here, and they are missing. " + _AGAIN),
    "unknown": (400, "We don't recognise this link", "This link wasn't made by the bot, or it was copied "
                "incompletely, so nothing was linked. " + _AGAIN),
    "expired": (410, "This link has expired", "Links to connect Last.fm work for 10 minutes, and this one is older "
                "than that. Nothing was linked. " + _AGAIN),
    "used": (410, "This link has already been used", "Each link to connect Last.fm works only once, and this one "
             "has been used already. If your account is linked, you're all set; otherwise " + _AGAIN[0].lower()
             + _AGAIN[1:]),
    "off": (404, "Last.fm isn't set up here", NO_LASTFM.replace("`", "")),
}


class SourceLinks:
    """Link, unlink and describe a member's Last.fm / ListenBrainz accounts."""

    def __init__(self, db: Database, settings: Any, vault: Any, history: HistorySync, *,
                 lastfm: LastFmClient | None, listenbrainz: ListenBrainzClient | None) -> None:
        self.db, self.settings, self.vault, self.history = db, settings, vault, history
        self.lastfm, self.listenbrainz = lastfm, listenbrainz

    @property
    def lastfm_ready(self) -> bool:
        return self.lastfm is not None

    # -- Last.fm ----------------------------------------------------------------------------------------

    def lastfm_link(self, discord_id: int, guild_id: int | None, display_name: str | None = None) -> str:
        """Last.fm's page where this member allows the bot; works once, for 10 minutes (blocking)."""
        if self.lastfm is None:
            raise BotError(NO_LASTFM)
        state = secrets.token_urlsafe(32)
        self.db.ensure_user(discord_id, display_name)
        self.db.create_state(hash_state(state), LASTFM_STATE_PURPOSE, discord_id, guild_id, STATE_TTL_SECONDS)
        callback = f"{self.settings.public_base_url}/lastfm/callback?" + urlencode({"state": state})
        return self.lastfm.auth_url(callback)

    def handle_lastfm_callback(self, args: Mapping[str, str]) -> LinkOutcome:
        """Check and spend the state, swap the token, refuse an account taken by another member, store (blocking)."""
        if self.lastfm is None:
            return _page("off")
        state, token = args.get("state") or "", args.get("token") or ""
        if not state or not token:
            return _page("missing")
        status, row = self.db.spend_state(hash_state(state), LASTFM_STATE_PURPOSE)
        if status != "ok" or row is None:
            log.info("Last.fm callback refused: %s state", status)
            return _page(status if status in _PAGES else "unknown", row)
        discord_id, guild_id = row["discord_id"], row["guild_id"]
        try:
            name, session_key = self.lastfm.get_session(token)
            self.db.save_source_link(discord_id, "lastfm", name, self.vault.encrypt(session_key))
        except AccountTaken:
            log.info("A Last.fm account linked by another member was refused")
            return LinkOutcome(False, 409, "This Last.fm account is someone else's here",
                               taken_message("lastfm", name).replace("`", ""), discord_id, guild_id, "taken", name)
        except SourceError as exc:
            reason = "refused" if isinstance(exc, LinkRefused) else "unavailable"
            log.info("Last.fm link failed: %s", type(exc).__name__)
            # This link is spent: "try again" means a fresh one from Discord, not reloading this page.
            again = "" if reason == "refused" else " " + _AGAIN
            return LinkOutcome(False, 400 if reason == "refused" else 502, "Last.fm wasn't linked",
                               exc.user_message.replace("`", "") + " Nothing was saved." + again, discord_id, guild_id,
                               reason)
        log.info("Last.fm account linked for a member")
        member = (self.db.get_user(discord_id) or {}).get("display_name")
        who = f", for {member} on Discord" if member else ""
        return LinkOutcome(True, 200, "Last.fm is linked!",
                           f"You're connected as {name}{who}. You can close this tab and go back to Discord: your "
                           "whole listening history is coming in now, and you'll see it count in the server's "
                           "charts as it arrives.", discord_id, guild_id, "linked", name)

    # -- ListenBrainz ------------------------------------------------------------------------------------

    async def link_listenbrainz(self, discord_id: int, display_name: str | None, token: str) -> str:
        """Check the token, keep only the user name, start the history; returns the account name.

        Raises a BotError (LinkRefused, taken, unavailable) with words for the member; nothing is stored then."""
        if self.listenbrainz is None:
            raise BotError("ListenBrainz linking is turned off on this bot.")
        token = token.strip()
        if not token:
            raise LinkRefused("listenbrainz", "That box was empty. Paste the user token from your ListenBrainz "
                                              "settings page and try again.")
        name = await run_blocking(self.listenbrainz.validate_token, token)
        await self.db.run(self.db.ensure_user, discord_id, display_name)
        try:
            await self.db.run(self.db.save_source_link, discord_id, "listenbrainz", name, None)
        except AccountTaken:
            raise BotError(taken_message("listenbrainz", name)) from None
        log.info("ListenBrainz account linked for a member")
        return name

    # -- both ---------------------------------------------------------------------------------------------

    async def unlink(self, discord_id: int, source: str) -> bool:
        """Forget the link (and a Last.fm session key); plays already brought in stay until /privacy forget."""
        return await self.db.run(self.db.remove_source_link, discord_id, source)

    async def start_history(self, discord_id: int, source: str) -> None:
        self.history.start(discord_id, source)


def _page(reason: str, row: Mapping[str, Any] | None = None) -> LinkOutcome:
    status, title, message = _PAGES[reason]
    return LinkOutcome(False, status, title, message, row["discord_id"] if row else None,
                       row["guild_id"] if row else None, reason)
