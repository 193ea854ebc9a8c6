"""The fake gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME with replay, dispatches.

Shards as Discord deals them: a session that identified with `shard: [shard_id, shard_count]` gets the
guilds with `(guild_id >> 22) % shard_count == shard_id` and every event about them; DMs go to shard 0.
A session without `shard` is shard 0 of 1 (everything).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from fakes.discord_records import ChangeSignal
from fakes.discord_world import World

log = logging.getLogger("fakes.discord")

INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT


@dataclass
class GatewaySession:
    """One identified session; its dispatch backlog lets a resumed connection catch up."""

    id: str
    intents: int
    seq: int = 0
    backlog: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    identified: int = 0
    resumed: int = 0
    shard: tuple[int, int] = (0, 1)

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed

    def owns(self, guild_id: int | None) -> bool:
        """Discord's rule: a guild belongs to shard (guild_id >> 22) % shard_count; DMs to shard 0."""
        shard_id, count = self.shard
        return shard_id == 0 if guild_id is None else (guild_id >> 22) % count == shard_id


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard a guild is dealt to."""
    return (guild_id >> 22) % shard_count


def event_guild(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event is about (None: a DM or the user's own), which decides its shard."""
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id else None


class GatewayHost(Protocol):
    """What the gateway needs from the fake Discord that serves it (fakes.discord_server.FakeDiscord)."""

    world: World
    signal: ChangeSignal
    token: str
    privileged_intents: int

    @property
    def gateway_url(self) -> str: ...


class Gateway:
    """Serves the websocket the bot's gateway client connects to."""

    def __init__(self, fake: GatewayHost, heartbeat_interval_ms: int = 41_250) -> None:
        self.fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        # The newest session of each shard (shard_id, shard_count): where that shard's events go.
        self.by_shard: dict[tuple[int, int], GatewaySession] = {}
        self.transports: list[Any] = []
        self.identify_count = 0
        self.resume_count = 0

    @property
    def current(self) -> GatewaySession | None:
        """The session that gets DMs (shard 0), or any session when shard 0 is not connected."""
        sessions = sorted(self.by_shard.values(), key=lambda s: s.shard)
        return next((s for s in sessions if s.owns(None)), sessions[0] if sessions else None)

    @property
    def connected(self) -> bool:
        """Some shard is connected."""
        return any(s.ws is not None for s in self.by_shard.values())

    def connected_shards(self) -> set[tuple[int, int]]:
        """(shard_id, shard_count) of every shard with a live connection."""
        return {key for key, s in self.by_shard.items() if s.ws is not None}

    def route(self, guild_id: int | None) -> list[GatewaySession]:
        """The sessions an event about guild_id (None: a DM) goes to: the shard that owns it."""
        return [s for s in self.by_shard.values() if s.owns(guild_id)]

    def has_intent(self, intent: int, guild_id: int | None = None) -> bool:
        """Whether the session(s) that get events about guild_id asked for an intent."""
        return any(s.intents & intent for s in self.route(guild_id))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.transports.append(request.transport)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        session: GatewaySession | None = None
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                session = await self._on_frame(ws, frame, session)
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
            if request.transport in self.transports:
                self.transports.remove(request.transport)
            self.fake.signal.notify()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, frame: dict[str, Any], session: GatewaySession | None
    ) -> GatewaySession | None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            await ws.send_str(json.dumps({"op": 11}))
        elif op == 2:
            return await self._identify(ws, data or {})
        elif op == 6:
            return await self._resume(ws, data or {})
        elif op == 8 and session is not None:
            await self._request_members(session, data or {})
        elif op in (3, 4):
            log.info("fake Discord: gateway op %s ignored: %s", op, data)
        else:
            log.warning("fake Discord: unknown gateway op %s", op)
        return session

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        if data.get("token") != self.fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED & ~self.fake.privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = _shard(data.get("shard"))
        if shard is None:
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        session = GatewaySession(secrets.token_hex(16), intents, shard=shard)
        session.identified = 1
        self.sessions[session.id] = session
        self.by_shard[shard] = session
        self.identify_count += 1
        world = self.fake.world
        guilds = [g for g in list(world.guilds.values()) if session.owns(g.id)]
        ready = {
            "v": 10,
            "user": world.bot.payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.fake.gateway_url,
            "application": {"id": str(world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = list(shard)
        async with session.lock:
            session.ws = ws
        await self._send(session, "READY", ready)
        with_members = bool(intents & INTENT_GUILD_MEMBERS)
        for guild in guilds:
            await self._send(session, "GUILD_CREATE", world.guild_create_payload(guild, with_members=with_members))
        self.fake.signal.notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.fake.token:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        last_seen = int(data.get("seq") or 0)
        async with session.lock:
            for frame in session.backlog:
                if frame["s"] > last_seen:
                    await ws.send_str(json.dumps(frame))
            session.ws = ws
        self.by_shard[session.shard] = session
        session.resumed += 1
        self.resume_count += 1
        await self._send(session, "RESUMED", {"_trace": ["fake-discord"]})
        self.fake.signal.notify()
        return session

    async def _request_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.fake.world.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            self.fake.world.member_payload(guild, uid) for uid in guild.members if not wanted or uid in wanted
        ]
        payload = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            payload["nonce"] = data["nonce"]
        await self._send(session, "GUILD_MEMBERS_CHUNK", payload)

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        """Send an event to the session of the shard it belongs to; kept for replay between connections."""
        sessions = self.route(event_guild(event, data))
        if not sessions:
            log.warning("fake Discord: %s not sent, the bot has no gateway session for its shard", event)
            return False
        for session in sessions:
            await self._send(session, event, data)
        return True

    async def _send(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.backlog.append(frame)
            del session.backlog[:-1000]
            if session.ws is not None and not session.ws.closed:
                try:
                    await session.ws.send_str(json.dumps(frame))
                except (ConnectionError, RuntimeError):
                    session.ws = None

    def drop(self) -> int:
        """Cut every gateway connection without a close frame, as a network failure would."""
        dropped = 0
        for transport in list(self.transports):
            if transport is not None:
                transport.abort()
                dropped += 1
        for session in self.by_shard.values():
            session.ws = None
        return dropped


def _shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's `shard` as (shard_id, shard_count); (0, 1) when absent; None when Discord would refuse it."""
    if value is None:
        return (0, 1)
    try:
        shard_id, count = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (shard_id, count) if 0 <= shard_id < count else None
