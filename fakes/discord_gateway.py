"""The fake gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME with replay, dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from fakes.discord_server import FakeDiscord

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


class Gateway:
    """Serves the websocket the bot's gateway client connects to."""

    def __init__(self, fake: FakeDiscord, heartbeat_interval_ms: int = 41_250) -> None:
        self.fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.transports: list[Any] = []
        self.identify_count = 0
        self.resume_count = 0

    @property
    def connected(self) -> bool:
        return self.current is not None and self.current.ws is not None

    def has_intent(self, intent: int) -> bool:
        return self.current is not None and bool(self.current.intents & intent)

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
        session = GatewaySession(secrets.token_hex(16), intents)
        session.identified = 1
        self.sessions[session.id] = session
        self.current = session
        self.identify_count += 1
        world = self.fake.world
        ready = {
            "v": 10,
            "user": world.bot.payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in world.guilds],
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
            ready["shard"] = data["shard"]
        async with session.lock:
            session.ws = ws
        await self.dispatch("READY", ready)
        with_members = bool(intents & INTENT_GUILD_MEMBERS)
        for guild in list(world.guilds.values()):
            await self.dispatch("GUILD_CREATE", world.guild_create_payload(guild, with_members=with_members))
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
        self.current = session
        session.resumed += 1
        self.resume_count += 1
        await self.dispatch("RESUMED", {"_trace": ["fake-discord"]})
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
        await self.dispatch("GUILD_MEMBERS_CHUNK", payload)

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        """Send an event to the bot's session; kept for replay when the bot is between connections."""
        session = self.current
        if session is None:
            log.warning("fake Discord: %s not sent, the bot has no gateway session", event)
            return False
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
        return True

    def drop(self) -> int:
        """Cut every gateway connection without a close frame, as a network failure would."""
        dropped = 0
        for transport in list(self.transports):
            if transport is not None:
                transport.abort()
                dropped += 1
        if self.current is not None:
            self.current.ws = None
        return dropped
