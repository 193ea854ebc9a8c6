"""The fake Discord's HTTP API: the routes discord.py calls for a music bot, answering in Discord's shapes."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol

from aiohttp import web

from fakes.discord_gateway import Gateway
from fakes.discord_limits import form_errors
from fakes.discord_messages import EPHEMERAL, LOADING, MessageStore, Upload, read_body
from fakes.discord_records import ChangeSignal, InteractionRecord
from fakes.discord_world import FakeChannel, World, snowflake

log = logging.getLogger("fakes.discord")
API = "/api/v10"

ERRORS = {
    10003: (404, "Unknown Channel"),
    10004: (404, "Unknown Guild"),
    10007: (404, "Unknown Member"),
    10008: (404, "Unknown Message"),
    10013: (404, "Unknown User"),
    10015: (404, "Unknown Webhook"),
    10062: (404, "Unknown interaction"),
    10063: (404, "Unknown application command"),
    40060: (400, "Interaction has already been acknowledged."),
    50035: (400, "Invalid Form Body"),
}


def reply(data: Any, status: int = 200) -> web.Response:
    """JSON reply with Content-Type exactly application/json: discord.py parses nothing else."""
    return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})


def error(code: int) -> web.Response:
    status, message = ERRORS[code]
    return reply({"message": message, "code": code}, status)


def no_content() -> web.Response:
    return web.Response(status=204)


def invalid_form(errors: dict[str, Any]) -> web.Response:
    """The 400 Discord answers for a body that breaks its limits (discord.py raises HTTPException 50035)."""
    return reply({"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400)


class RestHost(Protocol):
    """What the routes need from the fake Discord that serves them (fakes.discord_server.FakeDiscord): its world,
    messages, commands, interaction records and gateway, and the lists tests read back."""

    token: str
    world: World
    store: MessageStore
    signal: ChangeSignal
    gateway: Gateway
    commands: dict[int | None, list[dict[str, Any]]]
    records: dict[int, InteractionRecord]
    records_by_token: dict[str, InteractionRecord]
    requests: list[tuple[str, str]]
    unknown_routes: list[tuple[str, str]]
    rejected: list[tuple[str, str, dict[str, Any]]]
    reactions: list[tuple[str, int, str]]
    response_deadline: float
    recommended_shards: int

    @property
    def gateway_url(self) -> str: ...

    def message_event(self, message: dict[str, Any]) -> dict[str, Any]: ...


class Rest:
    """Route handlers; all state lives on the host they serve (the FakeDiscord)."""

    def __init__(self, fake: RestHost) -> None:
        self.fake = fake
        self.world = fake.world
        self.store = fake.store

    def routes(self, app: web.Application) -> None:
        add = app.router.add_route
        for method, path, handler in [
            ("GET", "/users/@me", self.get_me),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/users/{user_id}", self.get_user),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/{app}/commands", self.list_commands),
            ("PUT", "/applications/{app}/commands", self.put_commands),
            ("POST", "/applications/{app}/commands", self.post_command),
            ("GET", "/applications/{app}/guilds/{guild_id}/commands/permissions", self.empty_list),
            ("GET", "/applications/{app}/guilds/{guild_id}/commands", self.list_commands),
            ("PUT", "/applications/{app}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/applications/{app}/guilds/{guild_id}/commands", self.post_command),
            ("GET", "/applications/{app}/commands/{command_id}", self.get_command),
            ("DELETE", "/applications/{app}/commands/{command_id}", self.delete_command),
            ("GET", "/applications/{app}/guilds/{guild_id}/commands/{command_id}", self.get_command),
            ("DELETE", "/applications/{app}/guilds/{guild_id}/commands/{command_id}", self.delete_command),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback),
            ("POST", "/webhooks/{app}/{token}", self.followup),
            ("GET", "/webhooks/{app}/{token}/messages/{message_id}", self.get_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{message_id}", self.delete_webhook_message),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.post_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{who}", self.reaction),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{who}", self.reaction),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members", self.list_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
        ]:
            add(method, API + path, self._logged(handler))
        app.router.add_route("GET", "/attachments/{key:.+}", self.get_attachment)
        app.router.add_route("*", "/{tail:.*}", self.unknown)

    def _logged(self, handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            self.fake.requests.append((request.method, request.path))
            # Interaction callbacks and webhooks are authorised by their token; GET /gateway is public.
            public = request.path == API + "/gateway" or request.path.startswith((API + "/interactions/", API + "/webhooks/"))
            needs_bot_token = not public
            if needs_bot_token and request.headers.get("Authorization") != f"Bot {self.fake.token}":
                return reply({"message": "401: Unauthorized", "code": 0}, 401)
            return await handler(request)

        return wrapper

    async def unknown(self, request: web.Request) -> web.Response:
        self.fake.unknown_routes.append((request.method, request.path))
        log.warning("fake Discord: no route for %s %s", request.method, request.path)
        return reply({"message": "404: Not Found", "code": 0}, 404)

    async def empty_list(self, request: web.Request) -> web.Response:
        return reply([])

    def _refused(self, request: web.Request, payload: dict[str, Any], *, under: str | None = None) -> web.Response | None:
        """Discord's 400 "Invalid Form Body" if the message body breaks a limit (noted in fake.rejected), else None."""
        errors = form_errors(payload)
        if not errors:
            return None
        if under is not None:
            errors = {under: errors}
        self.fake.rejected.append((request.method, request.path, errors))
        log.warning("fake Discord: refused %s %s as Discord would: %s", request.method, request.path, errors)
        self.fake.signal.notify()
        return invalid_form(errors)

    # ---- users, gateway, application -----------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        return reply(self.world.bot.payload() | {"mfa_enabled": False, "locale": "en-US", "verified": True})

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.world.users.get(_int(request.match_info["user_id"]))
        return reply(user.payload()) if user else error(10013)

    async def create_dm(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        user_id = _int(body.payload.get("recipient_id"))
        if user_id not in self.world.users:
            return error(10013)
        return reply(self.world.channel_payload(self.world.dm_channel(user_id)))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return reply({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return reply({"url": self.fake.gateway_url, "shards": self.fake.recommended_shards,
                      "session_start_limit": limit})

    async def get_application(self, request: web.Request) -> web.Response:
        return reply(self.world.application_payload())

    # ---- application commands ------------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        guild_id = request.match_info.get("guild_id")
        return _int(guild_id) if guild_id else None

    def _stored(self, payload: dict[str, Any], scope: int | None, old: list[dict[str, Any]]) -> dict[str, Any]:
        kind = int(payload.get("type", 1))
        same = next((c for c in old if c["name"] == payload["name"] and c["type"] == kind), None)
        command = {
            "id": same["id"] if same else str(snowflake()),
            "application_id": str(self.world.application_id),
            "version": str(snowflake()),
            "type": kind,
            "name": payload["name"],
            "description": payload.get("description", ""),
            "default_member_permissions": payload.get("default_member_permissions"),
            "nsfw": bool(payload.get("nsfw", False)),
            "integration_types": payload.get("integration_types") or [0],
            "contexts": payload.get("contexts"),
            "options": payload.get("options") or [],
        }
        if payload.get("name_localizations"):
            command["name_localizations"] = payload["name_localizations"]
        if scope is not None:
            command["guild_id"] = str(scope)
        else:
            command["dm_permission"] = payload.get("dm_permission", True)
        return command

    async def list_commands(self, request: web.Request) -> web.Response:
        return reply(self.fake.commands.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = await read_body(request)
        old = self.fake.commands.get(scope, [])
        payloads: list[dict[str, Any]] = body.payload  # type: ignore[assignment]
        self.fake.commands[scope] = [self._stored(p, scope, old) for p in payloads]
        self.fake.signal.notify()
        return reply(self.fake.commands[scope])

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = await read_body(request)
        old = self.fake.commands.setdefault(scope, [])
        command = self._stored(body.payload, scope, old)
        old[:] = [c for c in old if c["id"] != command["id"]] + [command]
        self.fake.signal.notify()
        return reply(command, 201)

    async def get_command(self, request: web.Request) -> web.Response:
        wanted = request.match_info["command_id"]
        for command in self.fake.commands.get(self._scope(request), []):
            if command["id"] == wanted:
                return reply(command)
        return error(10063)

    async def delete_command(self, request: web.Request) -> web.Response:
        wanted = request.match_info["command_id"]
        commands = self.fake.commands.get(self._scope(request), [])
        commands[:] = [c for c in commands if c["id"] != wanted]
        return no_content()

    # ---- interactions --------------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        record = self.fake.records.get(_int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["token"]:
            return error(10062)
        record.callbacks += 1
        if record.response is not None:
            return error(40060)
        body = await read_body(request)
        kind = int(body.payload.get("type", 0))
        data = body.payload.get("data") or {}
        if kind in (4, 7) and (refused := self._refused(request, data, under="data")):
            return refused
        elapsed = time.monotonic() - record.dispatched_at
        record.late = elapsed > self.fake.response_deadline
        record.response = {"type": kind, "data": data, "elapsed": elapsed, "late": record.late, "files": body.files}
        self.fake.signal.notify()
        if record.late:
            log.warning("fake Discord: %s answered after %.2fs; Discord would say it did not respond", record.label, elapsed)
            return error(10062)
        message = await self._apply_callback(record, kind, body)
        self.fake.signal.notify()
        summary = {
            "id": str(record.id),
            "type": record.payload["type"],
            "response_message_id": str(record.original_id) if record.original_id else None,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
        }
        result: dict[str, Any] = {"interaction": summary}
        if message is not None:
            result["resource"] = {"type": kind, "message": message}
        return reply(result)

    async def _apply_callback(self, record: InteractionRecord, kind: int, body: Upload) -> dict[str, Any] | None:
        channel_id = _int(record.payload["channel_id"])
        clicked = record.payload.get("message")
        if kind == 4:
            return await self._new_interaction_message(record, channel_id, body, 0, original=True)
        if kind == 5:
            flags = LOADING | (int(body.payload.get("data", {}).get("flags") or 0) & EPHEMERAL)
            return await self._new_interaction_message(record, channel_id, Upload({}, []), flags, original=True)
        if kind in (6, 7) and clicked is not None:
            record.original_id = int(clicked["id"])
            if kind == 7 and record.original_id in self.store.by_id:
                message = self.store.edit(record.original_id, Upload(body.payload.get("data") or {}, body.files))
                await self._dispatch_message("MESSAGE_UPDATE", message)
                return message
        return None

    async def _new_interaction_message(
        self, record: InteractionRecord, channel_id: int, body: Upload, flags: int, *, original: bool
    ) -> dict[str, Any]:
        data = body.payload.get("data", body.payload) if original else body.payload
        meta = {
            "id": str(record.id),
            "type": record.payload["type"],
            "user": record.user_payload,
            "authorizing_integration_owners": {"0": str(record.payload.get("guild_id") or record.user_payload["id"])},
        }
        message = self.store.create(
            channel_id,
            self.world.bot,
            Upload(data, body.files),
            flags=flags,
            interaction=meta,
            message_type=20 if record.payload["type"] == 2 else 0,
        )
        if original:
            record.original_id = int(message["id"])
        else:
            record.followup_ids.append(int(message["id"]))
        if not message["flags"] & EPHEMERAL:
            await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    def _record_for_token(self, request: web.Request) -> InteractionRecord | None:
        if _int(request.match_info["app"]) != self.world.application_id:
            return None
        return self.fake.records_by_token.get(request.match_info["token"])

    async def followup(self, request: web.Request) -> web.Response:
        record = self._record_for_token(request)
        if record is None:
            return error(10015)
        body = await read_body(request)
        if refused := self._refused(request, body.payload):
            return refused
        record.mark_replied()
        original = self.store.by_id.get(record.original_id or 0)
        if original is not None and original["flags"] & LOADING and record.response and record.response["type"] == 5:
            # Discord turns the first follow-up after a "thinking" defer into that deferred message.
            message = self.store.replace(int(original["id"]), body)
            record.followup_ids.append(int(message["id"]))
            record.edit_count += 1
            await self._dispatch_message("MESSAGE_UPDATE", message)
        else:
            channel_id = _int(record.payload["channel_id"])
            flags = int(body.payload.get("flags") or 0) & EPHEMERAL
            message = await self._new_interaction_message(record, channel_id, body, flags, original=False)
        self.fake.signal.notify()
        if request.query.get("wait", "false").lower() in ("true", "1"):
            return reply(self.store.get(int(message["id"])))
        return no_content()

    def _webhook_message_id(self, request: web.Request, record: InteractionRecord) -> int | None:
        raw = request.match_info["message_id"]
        message_id = record.original_id if raw == "@original" else _int(raw)
        return message_id if message_id in self.store.by_id else None

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        record = self._record_for_token(request)
        message_id = self._webhook_message_id(request, record) if record else None
        return reply(self.store.get(message_id)) if message_id else error(10008)

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        record = self._record_for_token(request)
        message_id = self._webhook_message_id(request, record) if record else None
        if record is None or message_id is None:
            return error(10008)
        body = await read_body(request)
        if refused := self._refused(request, body.payload):
            return refused
        message = self.store.edit(message_id, body)
        if message_id == record.original_id:
            record.edit_count += 1
            record.mark_replied()
        await self._dispatch_message("MESSAGE_UPDATE", message)
        self.fake.signal.notify()
        return reply(self.store.get(message_id))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        record = self._record_for_token(request)
        message_id = self._webhook_message_id(request, record) if record else None
        if message_id is None:
            return error(10008)
        await self._delete(message_id)
        return no_content()

    # ---- channels and messages -----------------------------------------------------------------

    def _channel(self, request: web.Request) -> FakeChannel | None:
        return self.world.channels.get(_int(request.match_info["channel_id"]))

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        return reply(self.world.channel_payload(channel)) if channel else error(10003)

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return error(10003)
        limit = int(request.query.get("limit", "50"))
        messages = self.store.in_channel(channel.id)
        return reply(list(reversed(messages))[:limit])

    async def post_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return error(10003)
        body = await read_body(request)
        if not (body.payload.get("content") or body.payload.get("embeds") or body.files or body.payload.get("components")):
            return reply({"message": "Cannot send an empty message", "code": 50006}, 400)
        if refused := self._refused(request, body.payload):
            return refused
        message = self.store.create(channel.id, self.world.bot, body)
        await self._dispatch_message("MESSAGE_CREATE", message)
        self.fake.signal.notify()
        return reply(message)

    def _message_in(self, request: web.Request) -> int | None:
        message_id = _int(request.match_info["message_id"])
        channel_id = _int(request.match_info["channel_id"])
        return message_id if self.store.channel_of.get(message_id) == channel_id else None

    async def get_message(self, request: web.Request) -> web.Response:
        message_id = self._message_in(request)
        return reply(self.store.get(message_id)) if message_id else error(10008)

    async def edit_message(self, request: web.Request) -> web.Response:
        message_id = self._message_in(request)
        if message_id is None:
            return error(10008)
        body = await read_body(request)
        if refused := self._refused(request, body.payload):
            return refused
        message = self.store.edit(message_id, body)
        await self._dispatch_message("MESSAGE_UPDATE", message)
        self.fake.signal.notify()
        return reply(self.store.get(message_id))

    async def delete_message(self, request: web.Request) -> web.Response:
        message_id = self._message_in(request)
        if message_id is None:
            return error(10008)
        await self._delete(message_id)
        return no_content()

    async def reaction(self, request: web.Request) -> web.Response:
        self.fake.reactions.append((request.method, _int(request.match_info["message_id"]), request.match_info["emoji"]))
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        return no_content()

    async def _delete(self, message_id: int) -> None:
        channel_id = self.store.channel_of.get(message_id)
        self.store.delete(message_id)
        if channel_id is not None:
            data: dict[str, Any] = {"id": str(message_id), "channel_id": str(channel_id)}
            guild = self.world.guild_of_channel(channel_id)
            if guild:
                data["guild_id"] = str(guild.id)
            await self.fake.gateway.dispatch("MESSAGE_DELETE", data)
        self.fake.signal.notify()

    async def _dispatch_message(self, event: str, message: dict[str, Any]) -> None:
        if not self.fake.gateway.connected or int(message["id"]) in self.store.ephemeral:
            return
        await self.fake.gateway.dispatch(event, self.fake.message_event(message))

    # ---- guilds --------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> Any:
        return self.world.guilds.get(_int(request.match_info["guild_id"]))

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(10004)
        return reply(self.world.guild_payload(guild))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return reply([self.world.channel_payload(c) for c in guild.channels.values()]) if guild else error(10004)

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return reply([r.payload() for r in guild.roles.values()]) if guild else error(10004)

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(10004)
        limit = int(request.query.get("limit", "1"))
        after = int(request.query.get("after", "0"))
        ids = sorted(uid for uid in guild.members if uid > after)[:limit]
        return reply([self.world.member_payload(guild, uid) for uid in ids])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(10004)
        user_id = _int(request.match_info["user_id"])
        return reply(self.world.member_payload(guild, user_id)) if user_id in guild.members else error(10007)

    async def get_attachment(self, request: web.Request) -> web.Response:
        hosted = self.store.hosted.get(request.match_info["key"])
        if hosted is None:
            return reply({"message": "404: Not Found", "code": 0}, 404)
        file, _ = hosted
        return web.Response(body=file.data, headers={"Content-Type": file.content_type})


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
