"""Saving music as a private playlist in the member's Spotify: recommendations, top tracks, or a blend.

A playlist made but not filled (Spotify failed after creating it) is remembered, said plainly with its link, and
filled by the next save of the same kind instead of making a second one; one save at a time per member.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from database import Database
from utils.community.access import CommunityAccess
from utils.community.server import blend_playlist_name
from utils.errors import (
    BotError,
    LinkBroken,
    NotAllowlisted,
    NotEnoughData,
    NotLinked,
    RateLimited,
    SpotifyUnavailable,
    describe_wait,
)
from utils.listening.periods import describe_range
from utils.listening.reads import items_for_keys
from utils.logger import get_logger
from utils.models import BlendResult, Item, PlaylistResult, Recommendation
from utils.music import recommend
from utils.music.top_lists import stored_top
from utils.sources.song_match import find_on_spotify
from utils.sources.spotify_client import SpotifyRequestFailed, WriteUncertain

log = get_logger(__name__)

PLAYLIST_SOURCES = {"top_short": "short_term", "top_medium": "medium_term", "top_long": "long_term"}
MAX_PLAYLIST_TRACKS = 500
PLAYLIST_DESCRIPTION = "Made for you by the Discord music bot."
# A playlist made in the member's Spotify that could not be filled: said plainly, with its link, and how to have that
# one filled (see _create_playlist), naming a way that still works later: a Save button stops after 10 minutes.
NOT_FILLED = "I made the playlist **[{name}]({url})** in your Spotify but couldn't add the songs: {why}"
SAME_PLAYLIST = "I'll fill the same playlist instead of making a new one."
MAYBE_MADE = ("Spotify didn't tell me in time whether it made the playlist **{name}**, so I stopped rather than risk "
              "making it twice. Have a look in your Spotify: if it isn't there, save again in a few minutes.")
GONE = (403, 404)  # Spotify's answers about a remembered playlist that the member can no longer fill


class PlaylistService:
    """Creates and fills playlists through the member's own Spotify client."""

    def __init__(self, db: Database, auth: Any, settings: Any, access: CommunityAccess, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.auth = auth
        self.settings = settings
        self.access = access
        self._clock = clock
        # One playlist save at a time per member: two at once (the Save button and /playlist together) would each
        # read a half-made playlist as empty and each add every song.
        self._saving: dict[int, tuple[asyncio.Lock, list[int]]] = {}  # member: (lock, [saves holding or waiting])

    async def save_playlist(self, discord_id: int, source: str = "last", name: str | None = None) -> PlaylistResult:
        """Create a private playlist in the member's Spotify with the source's tracks, in order."""
        self._check_playlists_on()
        await self._require_linked(discord_id)
        items, default_name = await self._playlist_items(discord_id, source)
        title = (name or default_name).strip()[:100] or default_name
        # the same kind fills the same unfinished playlist even if its songs moved since (a sync, new picks)
        kind = source if source in PLAYLIST_SOURCES else "recommended"
        return await self._create_playlist(discord_id, items, title, kind=kind)

    async def save_recommendations(self, discord_id: int, recs: Sequence[Recommendation]) -> PlaylistResult:
        """Save the very list the member was shown (the Save button): not whatever /recommend made last."""
        self._check_playlists_on()
        await self._require_linked(discord_id)
        return await self._create_playlist(discord_id, [rec.item for rec in recs], f"Recommended for you · {self._day()}",
                                           kind="recommended")

    async def save_blend(self, discord_id: int, guild_id: int, blend: BlendResult,
                         names: Mapping[int, str]) -> PlaylistResult:
        """Save the very blend the member was shown (same songs, same order, same count), named after its members.

        Not rebuilt: the listening behind it may have moved since. Who is in it is checked again, though, so a
        member who has hidden their listening since is not saved into anyone's playlist.
        """
        self._check_playlists_on()
        await self._require_linked(discord_id)
        await self.access.require_visible(guild_id, blend.members, asker=discord_id)
        member_names = [names.get(member, "someone") for member in blend.members]
        title = blend_playlist_name(member_names, self._day())[:100]
        # a new /blend of the same members fills a half-made one too: its button stops working after 10 minutes
        kind = f"blend:{guild_id}:" + ",".join(str(member) for member in sorted(blend.members))
        return await self._create_playlist(discord_id, [item for item, _ in blend.items], title, kind=kind)

    def _check_playlists_on(self) -> None:
        if not getattr(self.settings, "feature_playlists", True):
            raise BotError("Saving playlists is turned off for this bot by its owner.")

    async def _require_linked(self, discord_id: int) -> None:
        user = await self.db.run(self.db.get_user, discord_id)
        if user is None or user["link_state"] == "none":
            raise NotLinked()

    async def _create_playlist(self, discord_id: int, items: Sequence[Item], title: str,
                               kind: str | None = None) -> PlaylistResult:
        """`_make_playlist`, one save at a time for each member."""
        lock, users = self._saving.setdefault(discord_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                return await self._make_playlist(discord_id, items, title, kind)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._saving[discord_id]

    async def _make_playlist(self, discord_id: int, items: Sequence[Item], title: str,
                             kind: str | None) -> PlaylistResult:
        """Make the playlist and fill it, never leaving the member a second empty one.

        A playlist made but not filled (Spotify failed after creating it) is remembered under its songs and its
        `kind`; the next save of the same songs, or of the same kind, fills that playlist (adding only what is not in
        it yet) instead of making another. A create whose answer never came is not retried: it may exist."""
        client = await self.db.run(self.auth.client_for, discord_id)
        # songs known only by name (Last.fm, ListenBrainz, an export) are looked up on Spotify, each once, ever
        # (in a thread of its own: up to 300 searches must not hold one of the few database threads every command uses)
        items = await asyncio.to_thread(find_on_spotify, self.db, client, items)
        uris = list(dict.fromkeys(i.uri for i in items if i.uri))[:MAX_PLAYLIST_TRACKS]
        skipped = len([i for i in items if not i.uri])
        if not uris:
            raise BotError("None of those songs could be found on Spotify, so there is nothing to save yet.")
        keys = [recommend.songs_key(uris), *([kind] if kind else [])]
        unfinished = await self.db.run(recommend.unfinished_playlist, self.db, discord_id, keys)
        playlist, present = (await self._reuse(client, discord_id, unfinished, kind)) if unfinished else (None, [])
        while True:
            reused = playlist is not None
            if playlist is None:
                playlist = await self._new_playlist(client, title)
            there = set(present)
            missing = [uri for uri in uris if uri not in there]
            try:
                if missing:
                    await client.async_add_to_playlist(playlist["id"], missing)
                break
            except SpotifyRequestFailed as error:
                if reused and error.status in GONE:  # not this account's any more (relinked), or deleted
                    await self.db.run(recommend.forget_unfinished_playlist, self.db, discord_id, playlist["id"])
                    playlist, present = None, []
                    continue
                failed: BotError = error
            except BotError as error:
                failed = error
            await self.db.run(recommend.remember_unfinished_playlist, self.db, discord_id, keys, playlist)
            raise BotError(_not_filled(playlist, failed, kind)) from None
        if unfinished:
            await self.db.run(recommend.forget_unfinished_playlist, self.db, discord_id, playlist["id"])
        return PlaylistResult(playlist["id"], playlist["url"], playlist["name"], len(uris), skipped)

    @staticmethod
    async def _new_playlist(client: Any, title: str) -> dict[str, Any]:
        try:
            made = await client.async_create_playlist(title, PLAYLIST_DESCRIPTION, False)
        except WriteUncertain:
            raise BotError(MAYBE_MADE.format(name=_md(title))) from None
        url = (made.get("external_urls") or {}).get("spotify") or f"https://open.spotify.com/playlist/{made['id']}"
        return {"id": made["id"], "url": url, "name": title}

    async def _reuse(self, client: Any, discord_id: int,
                     unfinished: dict[str, Any], kind: str | None) -> tuple[dict[str, Any] | None, list[str]]:
        """The unfinished playlist and what is in it already; (None, []) when it is gone from Spotify."""
        try:
            return unfinished, await client.async_playlist_uris(unfinished["id"])
        except SpotifyRequestFailed as error:
            if error.status in GONE:  # deleted, or another account's (the member linked a different one)
                await self.db.run(recommend.forget_unfinished_playlist, self.db, discord_id, unfinished["id"])
                return None, []
            # Spotify won't show what is in it: fill it all (at worst a song twice, never a second playlist)
            log.warning("could not read an unfinished playlist back (%s); filling it whole", error.status)
            return unfinished, []
        except BotError as error:
            raise BotError(_not_filled(unfinished, error, kind)) from None

    def _day(self) -> str:
        """Today as saved playlists are dated: "26 Nov 2026"."""
        return time.strftime("%d %b %Y", time.gmtime(self._clock()))

    async def _playlist_items(self, discord_id: int, source: str) -> tuple[list[Item], str]:
        day = self._day()
        if source == "last":
            saved = await self.db.run(self.db.last_recommendations, discord_id)
            if not saved or not saved.get("items"):
                raise BotError("You have no recommendations to save yet: run /recommend first.")
            keys = [entry["key"] for entry in saved["items"]]
            return await self.db.run(items_for_keys, self.db, keys, "tracks"), f"Recommended for you · {day}"
        if source in PLAYLIST_SOURCES:
            time_range = PLAYLIST_SOURCES[source]
            items = await self.db.run(stored_top, self.db, discord_id, "tracks", time_range, 50, self._clock())
            if not items:
                raise NotEnoughData()
            words = describe_range(time_range)
            return items, f"Your top tracks of {words} · {day}"
        raise BotError("I can save your last recommendations or your top tracks.")


def _md(text: str) -> str:
    """A name safe inside bold link text in Discord markdown."""
    return "".join("\\" + ch if ch in "\\*_~`|[]()<>#" else ch for ch in text)


def _not_filled(playlist: Mapping[str, Any], error: BotError, kind: str | None) -> str:
    """Why an unfinished playlist could not be filled, and what to do next, in plain words."""
    if isinstance(error, RateLimited):
        why = f"Spotify asked me to slow down. {_finish_later(kind, 'in ' + describe_wait(error.retry_after))}"
    elif isinstance(error, SpotifyUnavailable):
        why = f"Spotify isn't answering. {_finish_later(kind, 'in a few minutes')}"
    elif isinstance(error, LinkBroken | NotAllowlisted):
        why = f"{error.user_message} {_finish_later(kind, 'after that')}"
    else:
        why = f"Spotify refused to add them. {_finish_later(kind, 'later')}"
    return NOT_FILLED.format(name=_md(str(playlist["name"])), url=playlist["url"], why=why)


def _finish_later(kind: str | None, when: str) -> str:
    """How to have the same playlist filled: a command that still works once a Save button has stopped."""
    if kind == "recommended":
        return f"Run `/playlist last` {when} and {SAME_PLAYLIST}"
    if kind and kind.startswith("blend:"):
        return f"Run `/blend` with the same members {when} and save it, and {SAME_PLAYLIST}"
    return f"Save again {when} and {SAME_PLAYLIST}"
