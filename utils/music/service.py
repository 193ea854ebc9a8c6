"""MusicService: everything the Discord layer asks about listening, recommendations and server features.

Database reads go through `db.run`, engine work through two engine threads, Spotify through the
member's client's async facade: the event loop never waits. The helpers live in music_data (engine
inputs, display), music_views (profile, tops), music_models (fitted community models), music_recommend
(personal picks), catalogue (Spotify look-ups for a server of one) and community (server features).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from database import Database
from storage.keys import artist_key
from utils.cache import TTLCache
from utils.community import server as community
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
from utils.models import (
    BlendResult,
    Digest,
    Item,
    PlaylistResult,
    Profile,
    Recommendation,
    RecommendationList,
    TasteMatch,
    WhoKnowsEntry,
)
from utils.music import recommend as music_recommend
from utils.music import top_lists as music_views
from utils.music.community_model import CommunityModel, ModelCache, artist_of
from utils.music.recommend import FEW_MEMBERS, PersonalData
from utils.sources.catalogue import CatalogueExpander
from utils.sources.spotify_client import SpotifyRequestFailed, WriteUncertain

log = get_logger(__name__)
T = TypeVar("T")

MODES = ("balanced", "discover", "familiar")
COMMUNITY_OFF = ("Server features are turned off here. A server admin can turn them on with `/settings community on`. "
                 "Your own recommendations keep working meanwhile.")
COMMUNITY_OFF_EVERYWHERE = "Server features are turned off for this bot by its owner. Your own recommendations still work."
OFF_HERE_NOTE = "Server features are off here, so these come from your own listening."
OFF_EVERYWHERE_NOTE = "Server features are off for this bot, so these come from your own listening."
# Hiding is stored once per member and applies in every server, so these never say "this server".
HIDDEN_SELF = ("You've hidden your listening, so I can't use it in server features. "
               "Run `/privacy visibility show` to share it again.")
OTHER_PRIVATE = "{name} keeps their listening private."
OTHER_IN_DMS = "You can look at another member's listening only in a server you're both in."
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
BLEND_SIZE = 30  # songs in a blend: all of them are saved, the embed shows as many as fit


class MusicService:
    """The Discord layer's single door to listening data: see SERVICES.md for each method's contract."""

    def __init__(self, db: Database, auth: Any, settings: Any, *, model_ttl: float = 300.0, personal_ttl: float = 120.0,
                 catalogue_calls: int = 8, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.auth = auth
        self.settings = settings
        self.models = ModelCache(ttl=model_ttl)
        # A member's engine inputs take a dozen queries to read and change only when they sync, import, give
        # feedback or change privacy (each drops the entry); the time limit covers catalogue that other
        # members' syncs add for shared artists. An entry is ~60-300 KB, so at most 300 are kept (< 100 MB).
        self.personal: TTLCache[PersonalData] = TTLCache(ttl=personal_ttl, max_entries=300)
        # Who counts in a server's features. Any change (privacy, sync, import, joining or leaving) drops it at once
        # through `invalidate`; the time limit is a safety net.
        self.visible: TTLCache[list[int]] = TTLCache(ttl=30.0, max_entries=1000)
        self.community_flags: TTLCache[bool] = TTLCache(ttl=300.0, max_entries=1000)  # changed only by set_community
        # A recommendation's work (reading the member's data, ranking, saving) holds the GIL, so it runs on two
        # threads of its own: more threads only queue for the GIL, and each switch costs, while the event loop
        # must keep acknowledging new interactions within Discord's 3 seconds.
        self._engine = ThreadPoolExecutor(max_workers=2, thread_name_prefix="engine")
        # Fitting a server's model can take seconds on a big server: fits have threads of their own, so the engine
        # threads go on serving other servers and DMs meanwhile. Two, so a small server's fit does not queue behind
        # a big one's (a sync drops every model at once); one server is never fitted twice at a time (ModelCache).
        self._fitter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fit")
        self.expander = CatalogueExpander(db, max_calls=catalogue_calls)
        self._clock = clock
        # One playlist save at a time per member: two at once (the Save button and /playlist together) would each
        # read a half-made playlist as empty and each add every song.
        self._saving: dict[int, tuple[asyncio.Lock, list[int]]] = {}  # member: (lock, [saves holding or waiting])

    async def _compute(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound engine code on the engine threads."""
        return await asyncio.get_running_loop().run_in_executor(self._engine, functools.partial(fn, *args))

    def close(self) -> None:
        """Stop the engine threads: queued work is dropped, running work finishes (it may be using the database,
        which must stay open until then). Blocking."""
        for pool in (self._engine, self._fitter):
            pool.shutdown(wait=True, cancel_futures=True)

    async def _model(self, guild_id: int, members: list[int], now: float) -> CommunityModel:
        """The server's fitted model: the cached one, or fitted on the fitting thread."""
        model = self.models.peek(guild_id, members)
        if model is None:
            loop = asyncio.get_running_loop()
            model = await loop.run_in_executor(self._fitter, self.models.get, self.db, guild_id, members, now)
        return model

    # -- cache control (the sync service and importer call these after writing) -------------------------

    def invalidate(self, discord_id: int | None = None) -> None:
        """Forget what a change made stale: for one member (their data, the models it went into, who counts
        where), or everything (None)."""
        self.visible.clear()
        if discord_id is None:
            self.models.invalidate()
            self.personal.clear()
            self.community_flags.clear()  # e.g. the bot left a server and its settings went with it
        else:
            self.models.forget_member(discord_id)
            self.personal.discard(discord_id)

    def watch(self, *sources: list[Any]) -> None:
        """Drop cached data whenever a source (SyncService.on_synced, PrivacyService.on_change, ...) reports."""
        for listeners in sources:
            listeners.append(self.invalidate)

    # -- personal views -----------------------------------------------------------------------------------

    async def profile(self, discord_id: int, time_range: str = "medium_term") -> Profile:
        return await self.db.run(music_views.build_profile, self.db, discord_id, time_range, self._clock())

    async def top(self, discord_id: int, kind: str, time_range: str = "medium_term", limit: int = 50) -> list[Item]:
        items = await self.db.run(music_views.stored_top, self.db, discord_id, kind, time_range, limit, self._clock())
        if not items:
            raise NotEnoughData()
        return items

    async def recent(self, discord_id: int, limit: int = 50) -> list[tuple[Item, int]]:
        return await self.db.run(music_views.recent_plays, self.db, discord_id, limit)

    async def artist_names(self, prefix: str) -> list[str]:
        return await self.db.run(self.db.known_artist_names, prefix, 25)

    async def feedback(self, discord_id: int, item_key: str, kind: str, value: int) -> None:
        """Like (+1) or 'not for me' (-1) a track or artist; the next recommendations take it into account."""
        if value not in (1, -1):
            raise ValueError("feedback value must be +1 or -1")
        kind = "artist" if kind.startswith("artist") else "track"
        key = artist_key(item_key) if kind == "artist" and " - " not in item_key else item_key
        await self.db.run(self.db.set_feedback, discord_id, kind, key, value)
        self.personal.discard(discord_id)

    # -- recommendations ----------------------------------------------------------------------------------

    async def recommend(self, discord_id: int, guild_id: int | None = None, count: int = 10,
                        mode: str = "balanced") -> RecommendationList:
        """Ranked picks with reasons; saved as the member's last recommendations."""
        if mode not in MODES:
            raise BotError("Pick one of the modes: balanced, discover or familiar.")
        count = max(1, min(count, 50))
        now = self._clock()
        data = await self._personal(discord_id, now)
        visible: list[int] = []
        community_on = guild_id is not None and await self._community_on(guild_id)
        if community_on and guild_id is not None:
            visible = await self._visible_members(guild_id)
        community = visible if len(visible) >= 2 else []
        few = len([m for m in community if m != discord_id]) < FEW_MEMBERS - 1
        thin = few and data.fresh_candidates() < 3 * count and data.linked
        if thin and await self._expand(discord_id, data):
            self.personal.discard(discord_id)
            data = await self._personal(discord_id, now)
        model = await self._model(guild_id, community, now) if community and guild_id is not None else None
        recs = await self._compute(self._pick, data, model, guild_id, count, mode)
        if not recs:
            raise NotEnoughData("I couldn't find anything new for you yet. Listen a little more, run /sync, "
                                "and try again.")
        note = self._recommend_note(guild_id, community_on, few)
        synced_at = (data.user or {}).get("last_synced_at")
        return RecommendationList(recs, time.time(), note, synced_at=synced_at)

    def _recommend_note(self, guild_id: int | None, community_on: bool, few: bool) -> str | None:
        """Why a list leans on the member's own listening, when it does: the real reason, not a guess."""
        if guild_id is None:
            return "Based on your own listening and your favourite artists." if few else None
        if not community_on:
            return OFF_HERE_NOTE if getattr(self.settings, "feature_community", True) else OFF_EVERYWHERE_NOTE
        if few:
            return ("Only a few members share their listening here, so these lean on your favourite "
                    "artists' catalogues.")
        return None

    def _pick(self, data: PersonalData, model: CommunityModel | None, guild_id: int | None, count: int,
              mode: str) -> list[Recommendation]:
        """The member's ranked picks, shown and saved: one trip to an engine thread. Blocking."""
        picks = music_recommend.rank(data, model, count, mode)
        return music_recommend.show_and_save(self.db, data.discord_id, picks, mode, guild_id) if picks else []

    async def _personal(self, discord_id: int, now: float) -> PersonalData:
        """The member's engine inputs, from the cache or read afresh."""
        async def load() -> PersonalData:
            # on the engine threads, like the rest of a recommendation: fewer threads taking turns at the GIL
            data = await self._compute(music_recommend.load_personal, self.db, discord_id, now, {})
            music_recommend.add_genre_tracks(data, self.expander.genre_tracks(data.top_genres))
            return data

        data = await self.personal.get_or_load(discord_id, load)
        music_recommend.ensure_data(data)
        return data

    async def _expand(self, discord_id: int, data: PersonalData) -> int:
        """Catalogue look-ups on Spotify for a member whose stored catalogue is thin. Never fails the command, and
        never waits for Spotify: they only add songs, so a slow-down request ends them at once (impatient client)."""
        try:
            client = (await self.db.run(self.auth.client_for, discord_id)).impatient()
            return await self.expander.expand(client, dict(list(data.favourite_ids.items())[:4]), data.top_genres[:2])
        except BotError as error:
            log.info("catalogue expansion skipped: %s", type(error).__name__)
            return 0

    # -- playlists ------------------------------------------------------------------------------------------

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
        await self._require_visible(guild_id, blend.members, asker=discord_id)
        member_names = [names.get(member, "someone") for member in blend.members]
        title = community.blend_playlist_name(member_names, self._day())[:100]
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
        uris = list(dict.fromkeys(i.uri for i in items if i.uri))[:MAX_PLAYLIST_TRACKS]
        skipped = len([i for i in items if not i.uri])
        if not uris:
            raise BotError("None of those songs could be found on Spotify, so there is nothing to save yet.")
        keys = [music_recommend.songs_key(uris), *([kind] if kind else [])]
        client = await self.db.run(self.auth.client_for, discord_id)
        unfinished = await self.db.run(music_recommend.unfinished_playlist, self.db, discord_id, keys)
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
                    await self.db.run(music_recommend.forget_unfinished_playlist, self.db, discord_id, playlist["id"])
                    playlist, present = None, []
                    continue
                failed: BotError = error
            except BotError as error:
                failed = error
            await self.db.run(music_recommend.remember_unfinished_playlist, self.db, discord_id, keys, playlist)
            raise BotError(_not_filled(playlist, failed, kind)) from None
        if unfinished:
            await self.db.run(music_recommend.forget_unfinished_playlist, self.db, discord_id, playlist["id"])
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
                await self.db.run(music_recommend.forget_unfinished_playlist, self.db, discord_id, unfinished["id"])
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
            items = await self.top(discord_id, "tracks", time_range, 50)
            words = describe_range(time_range)
            return items, f"Your top tracks of {words} · {day}"
        raise BotError("I can save your last recommendations or your top tracks.")

    # -- server features --------------------------------------------------------------------------------------

    async def _community_on(self, guild_id: int) -> bool:
        if not getattr(self.settings, "feature_community", True):
            return False

        async def load() -> bool:
            settings = await self.db.run(self.db.get_guild_settings, guild_id)
            return bool(settings.get("community_enabled", 1))

        return await self.community_flags.get_or_load(guild_id, load)

    async def set_community(self, guild_id: int, enabled: bool) -> None:
        """A server admin turns server features on or off; it applies to the very next command."""
        await self.db.run(self.db.update_guild_settings, guild_id, community_enabled=int(enabled))
        self.community_flags.discard(guild_id)

    async def _require_community(self, guild_id: int) -> list[int]:
        """The guild's visible members, or a friendly error when server features are off."""
        if not getattr(self.settings, "feature_community", True):
            raise BotError(COMMUNITY_OFF_EVERYWHERE)
        if not await self._community_on(guild_id):
            raise BotError(COMMUNITY_OFF)
        return await self._visible_members(guild_id)

    async def _visible_members(self, guild_id: int) -> list[int]:
        members = await self.visible.get_or_load(guild_id, lambda: self.db.run(self.db.visible_members, guild_id))
        return list(members)

    async def check_can_view(self, guild_id: int | None, member_id: int, asker: int) -> None:
        """Another member's profile and top lists are a server feature: only in a server with server features on,
        and only of a member there who shares their listening. One's own are always open."""
        if member_id == asker:
            return
        if guild_id is None:
            raise BotError(OTHER_IN_DMS)
        await self._require_visible(guild_id, [member_id], asker)

    async def _require_visible(self, guild_id: int, ids: Sequence[int], asker: int | None = None) -> list[int]:
        visible = set(await self._require_community(guild_id))
        for member in ids:
            if member not in visible:
                user = await self.db.run(self.db.get_user, member)
                if user and user.get("hidden"):
                    name = user.get("display_name") or "That member"
                    raise BotError(HIDDEN_SELF if member == asker else OTHER_PRIVATE.format(name=name))
                raise BotError(("You have" if member == asker else "That member has") +
                               " no listening data on this server yet: `/connect` or `/import file` first.")
        return sorted(visible)

    async def server_top(self, guild_id: int, kind: str, time_range: str = "medium_term", limit: int = 50) -> list[Item]:
        members = await self._require_community(guild_id)
        items = await self.db.run(community.server_top, self.db, members, kind, time_range, limit, self._clock())
        if not items:
            raise NotEnoughData("Nobody on this server has shared listening for that period yet.")
        return items

    async def whoknows(self, guild_id: int, artist: str) -> tuple[str, list[WhoKnowsEntry]]:
        await self._require_community(guild_id)
        return await self.db.run(community.whoknows, self.db, guild_id, artist)

    async def taste(self, guild_id: int, a_id: int, b_id: int) -> TasteMatch:
        await self._require_visible(guild_id, [a_id, b_id], asker=a_id)
        return await self.db.run(community.taste, self.db, a_id, b_id, self._clock())

    async def blend(self, guild_id: int, member_ids: Sequence[int], size: int = BLEND_SIZE,
                    asker: int | None = None) -> BlendResult:
        ids = list(dict.fromkeys(member_ids))
        if len(ids) < 2:
            raise BotError("Pick at least two members for a blend.")
        await self._require_visible(guild_id, ids, asker=asker)
        return await self._compute(community.blend, self.db, ids, max(1, min(size, 100)), self._clock())

    async def server_recommend(self, guild_id: int, count: int = 10) -> RecommendationList:
        """What the server could hear together: every visible member's picks, blended fairly."""
        members = await self._require_community(guild_id)
        if len(members) < 2:
            raise NotEnoughData("Server picks need at least two members who share their listening here.")
        now = self._clock()
        model = await self._model(guild_id, members, now)
        picks = await self._compute(_group_picks, model, members, count)
        shown = await self.db.run(items_for_keys, self.db, [str(p.item) for p in picks], "tracks")
        recs = [Recommendation(item, round(p.score, 4), p.reason, "server") for item, p in zip(shown, picks, strict=True)]
        return RecommendationList(recs, time.time(), None)

    async def weekly_digest(self, guild_id: int) -> Digest:
        members = await self._require_community(guild_id)
        artists, tracks, risers = await self.db.run(community.weekly_top_and_risers, self.db, members, self._clock())
        recs: list[Recommendation] = []
        if len(members) >= 2:
            try:
                recs = (await self.server_recommend(guild_id, 5)).items
            except NotEnoughData:
                recs = []
        return Digest(guild_id, artists, tracks, risers, recs)


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


def _group_picks(model: Any, members: list[int], count: int) -> list[Any]:
    from utils.engine.group import group_recommend
    from utils.music.community_model import make_context

    if model.model is None:
        return []
    ctx = make_context(labels={}, names=model.names, catalogue={}, genres={}, liked=(), disliked=(), mode="balanced")
    return group_recommend(model.model, members, count, context=ctx)


__all__ = ["MusicService", "artist_of"]
