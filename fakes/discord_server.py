"""A fake Discord (REST + gateway) on 127.0.0.1 that the real discord.py bot talks to, plus a test driver.

It runs in its own thread with its own event loop, so it behaves like a remote server whatever loop the bot
uses. Every driver method is awaitable from any loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from fakes.discord_gateway import INTENT_GUILD_MEMBERS, INTENT_MESSAGE_CONTENT, PRIVILEGED, Gateway
from fakes.discord_interactions import (
    base_payload,
    check_permission,
    command_data,
    context_menu_data,
    find_command,
    find_component,
    modal_components,
)
from fakes.discord_messages import MessageStore, SentFile, Upload
from fakes.discord_records import ChangeSignal, InteractionRecord
from fakes.discord_rest import Rest
from fakes.discord_world import FakeChannel, FakeGuild, FakeMember, FakeUser, World, snowflake_on_shard

Ref = int | FakeUser | FakeGuild | FakeChannel


def _id(ref: Ref | str) -> int:
    return int(ref) if isinstance(ref, int | str) else ref.id


class FakeDiscord:
    """A local Discord for one bot. Use as `with FakeDiscord() as fake:` or start()/stop()."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        application_id: int | None = None,
        bot_name: str = "Music Bot",
        default_world: bool = True,
        privileged_intents: int = PRIVILEGED,
        response_deadline: float = 3.0,
        heartbeat_interval_ms: int = 41_250,
        recommended_shards: int = 1,
    ) -> None:
        self.token = token
        self.recommended_shards = recommended_shards  # what GET /gateway/bot says in `shards`
        self.privileged_intents = privileged_intents
        self.response_deadline = response_deadline
        self.world = World(application_id, bot_name)
        self.store = MessageStore(self.world)
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.records: dict[int, InteractionRecord] = {}
        self.records_by_token: dict[str, InteractionRecord] = {}
        self.requests: list[tuple[str, str]] = []
        self.unknown_routes: list[tuple[str, str]] = []
        # Requests answered 400 "Invalid Form Body" because they broke Discord's limits: (method, path, errors).
        self.rejected: list[tuple[str, str, dict[str, Any]]] = []
        self.reactions: list[tuple[str, int, str]] = []
        self.signal = ChangeSignal()
        self.gateway = Gateway(self, heartbeat_interval_ms)
        self.rest = Rest(self)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        if default_world:
            self._build_default_world()

    def _build_default_world(self) -> None:
        """Test Server (#general, #music); alice owns it and is admin, bob and carol are plain members."""
        alice = self.world.add_user("alice", "Alice")
        bob = self.world.add_user("bob", "Bob")
        carol = self.world.add_user("carol", "Carol", avatar="a1b2c3d4e5f6")
        guild = self.world.add_guild("Test Server", ["general", "music"], owner_id=alice.id)
        self.world.join(guild.id, alice.id, admin=True)
        self.world.join(guild.id, bob.id)
        self.world.join(guild.id, carol.id)

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What Route.BASE must be set to (configure_discord_endpoints does it)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def start(self) -> FakeDiscord:
        """Serve on an ephemeral port in a background thread; returns once it accepts connections."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # report to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-discord", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        self.rest.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.store.base_url = self.base_url

    def stop(self) -> None:
        """Close every connection and the server thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        future.result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        for session in self.gateway.sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_on_fake_loop(self, coro: Coroutine[Any, Any, Any]) -> Awaitable[Any]:
        """Schedule a coroutine on the fake's loop; the result is awaitable from any loop."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("fake Discord is not started")
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def _blocking(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run on the fake's loop and wait (for world changes called from a test's thread)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    @contextlib.asynccontextmanager
    async def running(self, bot: Any, timeout: float = 15.0) -> AsyncIterator[Any]:
        """Run a discord.py client against the fake in the caller's loop: started, ready, closed cleanly after.

        The client's REST base and gateway must already point here (discord_endpoints does it).
        """
        runner = asyncio.create_task(bot.start(self.token), name="bot-under-test")
        try:
            await self._until(runner, self.wait_connected(timeout), "the bot to connect")
            # wait_until_ready only works once login has begun, so it is awaited after the gateway connect.
            await self._until(runner, asyncio.wait_for(bot.wait_until_ready(), timeout), "the bot to become ready")
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(runner, 10)

    @staticmethod
    async def _until(runner: asyncio.Task[Any], waiting: Awaitable[Any], what: str) -> None:
        """Await `waiting`, but fail at once with the bot's own error if it stops first."""
        waiter = asyncio.ensure_future(waiting)
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if waiter.done():
            waiter.result()
            return
        waiter.cancel()
        runner.result()  # the start-up error, if any
        raise RuntimeError(f"the bot stopped before {what}")

    # ---- the world --------------------------------------------------------------------------------

    @property
    def bot_user(self) -> FakeUser:
        return self.world.bot

    @property
    def guild(self) -> FakeGuild:
        """The first guild (the default world's Test Server)."""
        return next(iter(self.world.guilds.values()))

    def user(self, key: int | str) -> FakeUser:
        """A user by id or username."""
        return self.world.user(key)

    def add_user(self, username: str, global_name: str | None = None, avatar: str | None = None) -> FakeUser:
        return self.world.add_user(username, global_name, avatar)

    def add_guild(self, name: str, channels: list[str] | tuple[str, ...] = ("general",), owner: Ref | None = None,
                  *, shard: tuple[int, int] | None = None) -> FakeGuild:
        """Add a guild before the bot connects (it arrives in READY/GUILD_CREATE).

        `shard=(shard_id, shard_count)` gives it an id Discord's rule deals to that shard.
        """
        guild_id = snowflake_on_shard(*shard) if shard is not None else None
        return self.world.add_guild(name, channels, _id(owner) if owner is not None else None, guild_id=guild_id)

    def add_member(self, guild: Ref, user: Ref, *, admin: bool = False, nick: str | None = None) -> FakeMember:
        """Add a member; if the bot is connected it gets GUILD_MEMBER_ADD (with the members intent)."""
        guild_id, user_id = _id(guild), _id(user)
        if self._loop is None:
            return self.world.join(guild_id, user_id, admin, nick)
        return self._blocking(self._add_member(guild_id, user_id, admin, nick))

    async def _add_member(self, guild_id: int, user_id: int, admin: bool, nick: str | None) -> FakeMember:
        member = self.world.join(guild_id, user_id, admin, nick)
        if self.gateway.has_intent(INTENT_GUILD_MEMBERS, guild_id):
            data = self.world.member_payload(self.world.guilds[guild_id], user_id) | {"guild_id": str(guild_id)}
            await self.gateway.dispatch("GUILD_MEMBER_ADD", data)
        return member

    def remove_member(self, guild: Ref, user: Ref) -> None:
        """Remove a member (they left or were kicked); the bot gets GUILD_MEMBER_REMOVE."""
        guild_id, user_id = _id(guild), _id(user)
        if self._loop is None:
            self.world.guilds[guild_id].members.pop(user_id, None)
            return
        self._blocking(self._remove_member(guild_id, user_id))

    async def _remove_member(self, guild_id: int, user_id: int) -> None:
        self.world.guilds[guild_id].members.pop(user_id, None)
        if self.gateway.has_intent(INTENT_GUILD_MEMBERS, guild_id):
            data = {"guild_id": str(guild_id), "user": self.world.users[user_id].payload()}
            await self.gateway.dispatch("GUILD_MEMBER_REMOVE", data)

    def rename_guild(self, guild: Ref, name: str) -> None:
        """An admin renames the server (2 to 100 characters, as Discord allows); the bot gets GUILD_UPDATE."""
        if not 2 <= len(name) <= 100:
            raise ValueError(f"Discord allows server names of 2 to 100 characters, not {len(name)}")
        guild_id = _id(guild)
        if self._loop is None:
            self.world.guilds[guild_id].name = name
            return
        self._blocking(self._rename_guild(guild_id, name))

    async def _rename_guild(self, guild_id: int, name: str) -> None:
        guild = self.world.guilds[guild_id]
        guild.name = name
        await self.gateway.dispatch("GUILD_UPDATE", self.world.guild_payload(guild))

    def host_file(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> dict[str, Any]:
        """Serve a file from the fake; pass the returned attachment dict as a slash option of type 11."""
        return self.store.host(SentFile(name, data, content_type))

    def drop_connection(self) -> int:
        """Cut the gateway connection abruptly (no close frame); the bot must RESUME. Returns sockets cut."""
        if self._loop is None:
            return 0
        return self._blocking(self._drop())

    async def _drop(self) -> int:
        return self.gateway.drop()

    # ---- reading what the bot sent ----------------------------------------------------------------

    def messages(self, channel: Ref) -> list[dict[str, Any]]:
        """Every message members can see in a channel (not ephemeral ones), oldest first."""
        return self.store.in_channel(_id(channel))

    def dms(self, user: Ref) -> list[dict[str, Any]]:
        """Messages the bot sent to a user's DMs, oldest first."""
        channel_id = self.world.dm_by_user.get(_id(user))
        if channel_id is None:
            return []
        return [m for m in self.store.in_channel(channel_id) if int(m["author"]["id"]) == self.world.bot.id]

    def files(self, message: dict[str, Any] | int) -> list[SentFile]:
        """The files attached to a message, with their bytes."""
        message_id = int(message["id"]) if isinstance(message, dict) else message
        return list(self.store.files.get(message_id, []))

    def message(self, message_id: int | str) -> dict[str, Any] | None:
        """The current state of any message."""
        return self.store.get(int(message_id))

    async def _wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        return await self.run_on_fake_loop(self.signal.wait_until(predicate, timeout, what))

    async def wait_connected(self, timeout: float = 10.0, *, shards: int | None = None) -> None:
        """Wait until the bot identified and was sent its guilds (with `shards`, until that many shards are)."""
        if shards is None:
            await self._wait(lambda: self.gateway.connected, timeout, "the bot to connect to the gateway")
            return
        await self._wait(lambda: len(self.gateway.connected_shards()) >= shards, timeout,
                         f"{shards} shards to connect to the gateway")

    async def wait_resumed(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the bot has resumed its session count times."""
        await self._wait(lambda: self.gateway.resume_count >= count and self.gateway.connected, timeout, "a RESUME")

    async def wait_commands(self, guild: Ref | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the bot synced commands to this guild (or globally with guild=None)."""
        scope = _id(guild) if guild is not None else None
        return await self._wait(lambda: self.commands.get(scope), timeout, "the bot to sync its commands")

    async def wait_message(
        self, channel: Ref, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait for a bot-authored message in a channel matching predicate; returns the newest such."""
        channel_id = _id(channel)

        def found() -> dict[str, Any] | None:
            for message in reversed(self.store.in_channel(channel_id)):
                if int(message["author"]["id"]) == self.world.bot.id and (predicate is None or predicate(message)):
                    return message
            return None

        return await self._wait(found, timeout, f"a bot message in channel {channel_id}")

    async def wait_dm(
        self, user: Ref, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait for a DM from the bot to this user matching predicate."""
        user_id = _id(user)

        def found() -> dict[str, Any] | None:
            return next((m for m in reversed(self.dms(user_id)) if predicate is None or predicate(m)), None)

        return await self._wait(found, timeout, f"a DM to user {user_id}")

    def message_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as MESSAGE_CREATE/UPDATE carries it (guild_id, member, content intent)."""
        event = dict(message)
        guild = self.world.guild_of_channel(int(message["channel_id"]))
        author_id = int(message["author"]["id"])
        if guild is not None:
            event["guild_id"] = str(guild.id)
            if author_id in guild.members:
                member = self.world.member_payload(guild, author_id)
                member.pop("user")
                event["member"] = member
            mentioned = any(int(u["id"]) == self.world.bot.id for u in message["mentions"])
            if author_id != self.world.bot.id and not mentioned and not self.gateway.has_intent(INTENT_MESSAGE_CONTENT, guild.id):
                event.update(content="", embeds=[], attachments=[], components=[])
        return event

    # ---- driving the bot as members would ----------------------------------------------------------

    async def _interact(self, payload: dict[str, Any], label: str) -> InteractionRecord:
        record = InteractionRecord(self, payload, label)
        self.records[record.id] = record
        self.records_by_token[record.token] = record
        guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        sessions = [s for s in self.gateway.route(guild_id) if s.ws is not None]
        if not sessions:
            raise RuntimeError(f"cannot send {label}: the bot is not connected to the fake gateway "
                               "(or not with the shard of this server)")
        record.shards = [s.shard for s in sessions]
        record.dispatched_at = time.monotonic()
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return record

    async def slash(
        self, user: Ref, guild: Ref | None, channel: Ref | None, name: str, options: dict[str, Any] | None = None
    ) -> InteractionRecord:
        """Run '/name' (or '/group sub') as a member; options by name, typed from the synced command."""
        return await self.run_on_fake_loop(self._slash(user, guild, channel, name, options or {}, None))

    async def autocomplete(
        self, user: Ref, guild: Ref | None, channel: Ref | None, name: str, options: dict[str, Any], focused: str
    ) -> InteractionRecord:
        """A member typing into option `focused`; the response's data.choices are the suggestions."""
        return await self.run_on_fake_loop(self._slash(user, guild, channel, name, options, focused))

    async def _slash(
        self, user: Ref, guild: Ref | None, channel: Ref | None, name: str, options: dict[str, Any], focused: str | None
    ) -> InteractionRecord:
        user_id, guild_id = _id(user), _id(guild) if guild is not None else None
        channel_id = _id(channel) if channel is not None else self.world.dm_channel(user_id).id
        top, *path = name.split()
        command = find_command(self.commands, guild_id, top, 1)
        check_permission(self.world, command, guild_id, user_id)
        payload = base_payload(self.world, 4 if focused else 2, user_id, guild_id, channel_id)
        payload["data"] = command_data(self.world, command, guild_id, path, options, focused)
        return await self._interact(payload, f"/{name}" + (" autocomplete" if focused else ""))

    async def user_command(self, user: Ref, guild: Ref | None, channel: Ref | None, name: str, target: Ref) -> InteractionRecord:
        """Right-click a member > Apps > name."""
        return await self.run_on_fake_loop(self._context_menu(user, guild, channel, name, 2, _id(target), None))

    async def message_command(
        self, user: Ref, guild: Ref | None, channel: Ref | None, name: str, target: dict[str, Any]
    ) -> InteractionRecord:
        """Right-click a message > Apps > name."""
        return await self.run_on_fake_loop(self._context_menu(user, guild, channel, name, 3, None, target))

    async def _context_menu(
        self, user: Ref, guild: Ref | None, channel: Ref | None, name: str, kind: int, target_user: int | None,
        target_message: dict[str, Any] | None,
    ) -> InteractionRecord:
        user_id, guild_id = _id(user), _id(guild) if guild is not None else None
        channel_id = _id(channel) if channel is not None else self.world.dm_channel(user_id).id
        command = find_command(self.commands, guild_id, name, kind)
        check_permission(self.world, command, guild_id, user_id)
        payload = base_payload(self.world, 2, user_id, guild_id, channel_id)
        payload["data"] = context_menu_data(self.world, command, guild_id, target_user, target_message)
        return await self._interact(payload, f"context menu {name!r}")

    async def click(self, message: dict[str, Any], custom_id: str, user: Ref) -> InteractionRecord:
        """Press the button with custom_id on a message."""
        return await self.run_on_fake_loop(self._component(message, custom_id, user, None))

    async def select(self, message: dict[str, Any], custom_id: str, values: list[str], user: Ref) -> InteractionRecord:
        """Pick values in the select menu with custom_id on a message."""
        return await self.run_on_fake_loop(self._component(message, custom_id, user, [str(v) for v in values]))

    async def _component(
        self, message: dict[str, Any], custom_id: str, user: Ref, values: list[str] | None
    ) -> InteractionRecord:
        current = self.store.get(int(message["id"])) or message
        component = find_component(current.get("components", []), custom_id)
        if component is None:
            raise LookupError(f"message {current['id']} has no component {custom_id!r}")
        if component.get("disabled"):
            raise PermissionError(f"component {custom_id!r} is disabled; a member cannot use it")
        user_id, channel_id = _id(user), int(current["channel_id"])
        guild = self.world.guild_of_channel(channel_id)
        payload = base_payload(self.world, 3, user_id, guild.id if guild else None, channel_id)
        payload["message"] = current
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        payload["data"] = data
        return await self._interact(payload, f"component {custom_id!r}")

    async def submit_modal(self, record: InteractionRecord, values: dict[str, Any], user: Ref | None = None) -> InteractionRecord:
        """Fill in and submit the modal the bot opened in answer to record (response type 9)."""
        return await self.run_on_fake_loop(self._submit_modal(record, values, user))

    async def _submit_modal(self, record: InteractionRecord, values: dict[str, Any], user: Ref | None) -> InteractionRecord:
        if not record.response or record.response["type"] != 9:
            raise LookupError(f"{record.label} did not open a modal")
        modal = record.response["data"]
        user_id = _id(user) if user is not None else int(record.user_payload["id"])
        guild_id = int(record.payload["guild_id"]) if record.payload.get("guild_id") else None
        payload = base_payload(self.world, 5, user_id, guild_id, int(record.payload["channel_id"]))
        payload["data"] = {"custom_id": modal["custom_id"], "components": modal_components(modal, values)}
        if record.payload.get("message"):
            payload["message"] = record.payload["message"]
        return await self._interact(payload, f"modal {modal['custom_id']!r}")

    async def send_message(self, user: Ref, channel: Ref, content: str) -> dict[str, Any]:
        """A member posts in a channel (prefix commands); returns the stored message."""
        return await self.run_on_fake_loop(self._user_message(_id(user), _id(channel), content))

    async def send_dm(self, user: Ref, content: str) -> dict[str, Any]:
        """A user writes to the bot in DMs."""
        return await self.run_on_fake_loop(self._user_message(_id(user), None, content))

    async def _user_message(self, user_id: int, channel_id: int | None, content: str) -> dict[str, Any]:
        if channel_id is None:
            channel_id = self.world.dm_channel(user_id).id
        message = self.store.create(channel_id, self.world.users[user_id], Upload({"content": content}, []))
        if not await self.gateway.dispatch("MESSAGE_CREATE", self.message_event(message)):
            raise RuntimeError("cannot send a message: the bot is not connected to the fake gateway")
        self.signal.notify()
        return message
