"""The fake Discord's world: users, guilds, channels, members, and the JSON shapes Discord uses for them."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1
# What a plain member may do in a friendly server: read, write, embed, attach, react, use apps, join voice.
DEFAULT_PERMISSIONS = (
    (1 << 6) | (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 20) | (1 << 21) | (1 << 31)
)

_counter = itertools.count()
_counter_lock = threading.Lock()


def snowflake() -> int:
    """Mint an id that carries the current time, as Discord's do (discord.py reads expiry from it)."""
    with _counter_lock:
        increment = next(_counter) & 0xFFF
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (1 << 17) | increment


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """An id of now (less a few ms) that Discord's rule `(id >> 22) % shard_count` deals to shard_id."""
    if not 0 <= shard_id < shard_count:
        raise ValueError(f"shard {shard_id} does not exist among {shard_count}")
    with _counter_lock:
        increment = next(_counter) & 0xFFF
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    ms -= (ms - shard_id) % shard_count
    return (ms << 22) | (1 << 17) | increment


def iso_now() -> str:
    """Current time in Discord's ISO-8601 form."""
    return datetime.now(UTC).isoformat()


@dataclass
class FakeUser:
    """A Discord account."""

    id: int
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeChannel:
    """A text channel in a guild (type 0) or a DM channel (type 1)."""

    id: int
    name: str | None
    guild_id: int | None = None
    type: int = 0
    recipient_id: int | None = None
    position: int = 0
    last_message_id: int | None = None


@dataclass
class FakeMember:
    """A user's membership of one guild."""

    user_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)


@dataclass
class FakeRole:
    """A guild role; the @everyone role shares the guild's id."""

    id: int
    name: str
    permissions: int
    position: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
            "description": None,
        }


@dataclass
class FakeGuild:
    """A server with its channels, roles and members."""

    id: int
    name: str
    owner_id: int
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    roles: dict[int, FakeRole] = field(default_factory=dict)

    @property
    def admin_role_id(self) -> int:
        return next(r.id for r in self.roles.values() if r.permissions & ADMINISTRATOR)

    def channel(self, name: str) -> FakeChannel:
        """Find a channel by name."""
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no channel named {name!r} in guild {self.name!r}")

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions of a member, as Discord computes them (owner and admins get all)."""
        member = self.members.get(user_id)
        if member is None:
            return 0
        value = self.roles[self.id].permissions
        for role_id in member.roles:
            value |= self.roles[role_id].permissions
        if user_id == self.owner_id or value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return value


class World:
    """Everything the fake Discord knows; mutated only on the fake's own loop once it runs."""

    def __init__(self, application_id: int | None = None, bot_name: str = "Music Bot") -> None:
        self.application_id = application_id or snowflake()
        self.bot = FakeUser(self.application_id, bot_name.lower().replace(" ", ""), bot_name, bot=True)
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.dm_by_user: dict[int, int] = {}

    # ---- building the world -------------------------------------------------------------------

    def add_user(
        self, username: str, global_name: str | None = None, avatar: str | None = None, user_id: int | None = None
    ) -> FakeUser:
        user = FakeUser(user_id or snowflake(), username, global_name if global_name is not None else username.title(), avatar)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str, channels: list[str] | tuple[str, ...] = ("general",), owner_id: int | None = None,
        guild_id: int | None = None,
    ) -> FakeGuild:
        guild_id = guild_id or snowflake()
        guild = FakeGuild(guild_id, name, owner_id or 0)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", DEFAULT_PERMISSIONS)
        admin_id = snowflake()
        guild.roles[admin_id] = FakeRole(admin_id, "Admin", ADMINISTRATOR, position=1)
        for position, channel_name in enumerate(channels):
            self.add_channel(guild, channel_name, position)
        guild.members[self.bot.id] = FakeMember(self.bot.id)
        self.guilds[guild_id] = guild
        return guild

    def add_channel(self, guild: FakeGuild, name: str, position: int | None = None) -> FakeChannel:
        channel = FakeChannel(snowflake(), name, guild.id, position=len(guild.channels) if position is None else position)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def join(self, guild_id: int, user_id: int, admin: bool = False, nick: str | None = None) -> FakeMember:
        guild = self.guilds[guild_id]
        member = FakeMember(user_id, [guild.admin_role_id] if admin else [], nick)
        guild.members[user_id] = member
        return member

    def dm_channel(self, user_id: int) -> FakeChannel:
        """The DM channel between the bot and a user, made on first use."""
        channel_id = self.dm_by_user.get(user_id)
        if channel_id is None:
            channel = FakeChannel(snowflake(), None, None, type=1, recipient_id=user_id)
            self.channels[channel.id] = channel
            self.dm_by_user[user_id] = channel.id
            return channel
        return self.channels[channel_id]

    # ---- lookups ------------------------------------------------------------------------------

    def user(self, key: int | str) -> FakeUser:
        """A user by id or username."""
        if isinstance(key, int):
            return self.users[key]
        for user in self.users.values():
            if user.username == key:
                return user
        raise KeyError(f"no user named {key!r}")

    def guild_of_channel(self, channel_id: int) -> FakeGuild | None:
        channel = self.channels.get(channel_id)
        return self.guilds.get(channel.guild_id) if channel and channel.guild_id else None

    # ---- payloads -----------------------------------------------------------------------------

    def member_payload(self, guild: FakeGuild, user_id: int, *, with_permissions: bool = False) -> dict[str, Any]:
        member = guild.members[user_id]
        data: dict[str, Any] = {
            "user": self.users[user_id].payload(),
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in member.roles],
            "joined_at": member.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
            "avatar_decoration_data": None,
            "collectibles": None,
        }
        if with_permissions:
            data["permissions"] = str(guild.permissions_of(user_id))
        return data

    def channel_payload(self, channel: FakeChannel) -> dict[str, Any]:
        if channel.type == 1:
            return {
                "id": str(channel.id),
                "type": 1,
                "flags": 0,
                "last_message_id": str(channel.last_message_id) if channel.last_message_id else None,
                "recipients": [self.users[channel.recipient_id].payload()] if channel.recipient_id else [],
            }
        return {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "flags": 0,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "permission_overwrites": [],
            "last_message_id": str(channel.last_message_id) if channel.last_message_id else None,
        }

    def guild_create_payload(self, guild: FakeGuild, *, with_members: bool = True) -> dict[str, Any]:
        members = [self.member_payload(guild, uid) for uid in guild.members] if with_members else [
            self.member_payload(guild, self.bot.id)
        ]
        channels = [self.channel_payload(c) for c in guild.channels.values()]
        for channel in channels:
            channel.pop("guild_id", None)  # GUILD_CREATE channels carry no guild_id
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "features": [],
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": guild.members[self.bot.id].joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": members,
            "channels": channels,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def guild_payload(self, guild: FakeGuild) -> dict[str, Any]:
        """A guild as GET /guilds/{id} and GUILD_UPDATE carry it: no members, channels or other gateway-only parts."""
        data = self.guild_create_payload(guild, with_members=False)
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large", "member_count"):
            data.pop(key, None)
        return data

    def application_payload(self) -> dict[str, Any]:
        owner = next((g.owner_id for g in self.guilds.values() if g.owner_id), self.bot.id)
        return {
            "id": str(self.application_id),
            "name": self.bot.global_name or self.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot.payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "flags_new": "0",
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "owner": self.users[owner].payload(),
            "approximate_guild_count": len(self.guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "team": None,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
            "tags": [],
        }
