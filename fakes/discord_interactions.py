"""INTERACTION_CREATE payloads, built the way Discord builds them from the commands the bot synced."""

from __future__ import annotations

import secrets
from typing import Any

from fakes.discord_world import ALL_PERMISSIONS, FakeUser, World, snowflake

SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11


def base_payload(world: World, kind: int, user_id: int, guild_id: int | None, channel_id: int) -> dict[str, Any]:
    """The fields every interaction carries: who, where, and the token for answering."""
    channel = world.channels[channel_id]
    payload: dict[str, Any] = {
        "id": str(snowflake()),
        "application_id": str(world.application_id),
        "type": kind,
        "token": "itok-" + secrets.token_urlsafe(24),
        "version": 1,
        "channel_id": str(channel_id),
        "channel": world.channel_payload(channel),
        "app_permissions": str(ALL_PERMISSIONS),
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild_id is not None:
        guild = world.guilds[guild_id]
        if user_id not in guild.members:
            raise ValueError(f"user {user_id} is not a member of guild {guild.name!r}")
        payload["guild_id"] = str(guild_id)
        payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = world.member_payload(guild, user_id, with_permissions=True)
        payload["authorizing_integration_owners"] = {"0": str(guild_id)}
        payload["context"] = 0
    else:
        payload["user"] = world.users[user_id].payload()
        payload["authorizing_integration_owners"] = {"0": str(user_id)}
        payload["context"] = 1
    return payload


def find_command(commands: dict[int | None, list[dict[str, Any]]], guild_id: int | None, name: str, kind: int) -> dict[str, Any]:
    """The synced command Discord would show in this guild (guild commands first, then global)."""
    scopes = [guild_id, None] if guild_id is not None else [None]
    for scope in scopes:
        for command in commands.get(scope, []):
            if command["name"] == name and command["type"] == kind:
                return command
    known = sorted(c["name"] for scope in scopes for c in commands.get(scope, []))
    raise LookupError(f"no synced command {name!r} (type {kind}); the bot synced: {known}")


def check_permission(world: World, command: dict[str, Any], guild_id: int | None, user_id: int) -> None:
    """Discord hides a command from members lacking its default_member_permissions."""
    needed = command.get("default_member_permissions")
    if needed is None or guild_id is None:
        return
    have = world.guilds[guild_id].permissions_of(user_id)
    if int(needed) & have != int(needed):
        raise PermissionError(f"user {user_id} cannot see /{command['name']}: it needs permissions {needed}")


class OptionBuilder:
    """Turns a test's {name: value} into typed interaction options plus the resolved objects."""

    def __init__(self, world: World, guild_id: int | None) -> None:
        self.world = world
        self.guild_id = guild_id
        self.resolved: dict[str, dict[str, Any]] = {}

    def build(
        self, definitions: list[dict[str, Any]], values: dict[str, Any], focused: str | None = None
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in definitions}
        unknown = set(values) - set(by_name)
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; the command takes {sorted(by_name)}")
        options = []
        for definition in definitions:
            name = definition["name"]
            if name not in values:
                if definition.get("required") and focused is None:
                    raise ValueError(f"option {name!r} is required")
                continue
            if name == focused:
                options.append({"name": name, "type": definition["type"], "value": str(values[name]), "focused": True})
            else:
                options.append({"name": name, "type": definition["type"], "value": self.value(definition["type"], values[name])})
        return options

    def value(self, kind: int, raw: Any) -> Any:
        if kind == STRING:
            return str(raw)
        if kind == INTEGER:
            return int(raw)
        if kind == NUMBER:
            return float(raw)
        if kind == BOOLEAN:
            return bool(raw)
        if kind == ATTACHMENT:
            attachment = dict(raw)
            self.resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        object_id = int(raw.id if isinstance(raw, FakeUser) else raw)
        if kind in (USER, MENTIONABLE) and object_id in self.world.users:
            self.resolve_user(object_id)
        elif kind == CHANNEL:
            channel = self.world.channels[object_id]
            self.resolved.setdefault("channels", {})[str(object_id)] = self.world.channel_payload(channel) | {
                "permissions": str(ALL_PERMISSIONS)
            }
        elif kind in (ROLE, MENTIONABLE) and self.guild_id is not None:
            role = self.world.guilds[self.guild_id].roles[object_id]
            self.resolved.setdefault("roles", {})[str(object_id)] = role.payload()
        return str(object_id)

    def resolve_user(self, user_id: int) -> None:
        self.resolved.setdefault("users", {})[str(user_id)] = self.world.users[user_id].payload()
        guild = self.world.guilds.get(self.guild_id or 0)
        if guild is not None and user_id in guild.members:
            member = self.world.member_payload(guild, user_id, with_permissions=True)
            member.pop("user")
            self.resolved.setdefault("members", {})[str(user_id)] = member


def command_data(
    world: World,
    command: dict[str, Any],
    guild_id: int | None,
    path: list[str],
    values: dict[str, Any],
    focused: str | None = None,
) -> dict[str, Any]:
    """data for a chat-input command, walking 'group sub' names down to the leaf's options."""
    builder = OptionBuilder(world, guild_id)
    definitions = command.get("options") or []
    nested: list[dict[str, Any]] = []
    top = nested
    for name in path:
        sub = next((o for o in definitions if o["name"] == name and o["type"] in (SUBCOMMAND, GROUP)), None)
        if sub is None:
            raise LookupError(f"/{command['name']} has no subcommand or group {name!r}")
        entry: dict[str, Any] = {"name": name, "type": sub["type"], "options": []}
        nested.append(entry)
        nested = entry["options"]
        definitions = sub.get("options") or []
    if any(o["type"] in (SUBCOMMAND, GROUP) for o in definitions):
        raise LookupError(f"/{command['name']} {' '.join(path)} needs a subcommand")
    nested.extend(builder.build(definitions, values, focused))
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": top}
    if builder.resolved:
        data["resolved"] = builder.resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def context_menu_data(
    world: World, command: dict[str, Any], guild_id: int | None, target_user: int | None, target_message: dict[str, Any] | None
) -> dict[str, Any]:
    """data for a user (type 2) or message (type 3) context menu command."""
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": command["type"]}
    if target_user is not None:
        builder = OptionBuilder(world, guild_id)
        builder.resolve_user(target_user)
        data["target_id"] = str(target_user)
        data["resolved"] = builder.resolved
    elif target_message is not None:
        data["target_id"] = target_message["id"]
        data["resolved"] = {"messages": {target_message["id"]: target_message}}
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    """Search rows, containers, sections and labels for the component with this custom_id."""
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        children = list(component.get("components") or [])
        for key in ("accessory", "component"):
            if component.get(key):
                children.append(component[key])
        found = find_component(children, custom_id)
        if found is not None:
            return found
    return None


def modal_components(modal: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """What a member 'types' into a modal, shaped as the submit payload Discord sends back."""

    def answer(component: dict[str, Any]) -> dict[str, Any]:
        value = values.get(component.get("custom_id", ""), component.get("value", ""))
        entry: dict[str, Any] = {"type": component["type"], "custom_id": component.get("custom_id")}
        if component["type"] == 4:
            entry["value"] = str(value)
        else:
            entry["values"] = list(value) if isinstance(value, list | tuple) else [str(value)]
        return entry

    result = []
    for top in modal.get("components", []):
        if top["type"] == 1:
            result.append({"type": 1, "components": [answer(c) for c in top.get("components", [])]})
        elif top["type"] == 18 and top.get("component"):
            result.append({"type": 18, "component": answer(top["component"])})
    return result
