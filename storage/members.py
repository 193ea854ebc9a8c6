"""Members, their Spotify tokens and link state, single-use OAuth states, and the servers they are in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from storage.connection import Connections

LINK_NONE, LINK_OK, LINK_BROKEN = "none", "linked", "broken"
UNFINISHED_PLAYLISTS = "unfinished_playlists"  # key of the saved-recommendations payload (see utils.music.recommend)


class MemberStore(Connections):
    """Queries on members, tokens, OAuth states, servers and server settings."""

    # -- users ----------------------------------------------------------------------------------

    def ensure_user(self, discord_id: int, display_name: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO users (discord_id, display_name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(discord_id) DO UPDATE SET display_name = COALESCE(excluded.display_name, display_name)",
                (discord_id, display_name, time.time()),
            )

    def get_user(self, discord_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM users WHERE discord_id = ?", (discord_id,))
        return rows[0] if rows else None

    def set_link_state(self, discord_id: int, state: str, *, spotify_user_id: str | None = None,
                       spotify_display_name: str | None = None) -> None:
        with self.transaction() as conn:
            before = conn.execute("SELECT spotify_user_id FROM users WHERE discord_id = ?", (discord_id,)).fetchone()
            if spotify_user_id is not None and before is not None and before[0] not in (None, spotify_user_id):
                forget_unfinished_playlists(conn, discord_id)  # another Spotify account: those are not theirs
            conn.execute(
                "UPDATE users SET link_state = ?, spotify_user_id = COALESCE(?, spotify_user_id), "
                "spotify_display_name = COALESCE(?, spotify_display_name), "
                "linked_at = CASE WHEN ? = 'linked' THEN ? ELSE linked_at END WHERE discord_id = ?",
                (state, spotify_user_id, spotify_display_name, state, time.time(), discord_id),
            )

    def unlink_user(self, discord_id: int) -> None:
        """Forget the Spotify link (tokens) but keep listening data until the member asks to forget it."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM tokens WHERE discord_id = ?", (discord_id,))
            conn.execute("UPDATE users SET link_state = 'none' WHERE discord_id = ?", (discord_id,))
            forget_unfinished_playlists(conn, discord_id)  # the next link may be another Spotify account

    def set_hidden(self, discord_id: int, hidden: bool) -> None:
        self.ensure_user(discord_id)
        with self.transaction() as conn:
            conn.execute("UPDATE users SET hidden = ? WHERE discord_id = ?", (int(hidden), discord_id))

    def linked_user_ids(self) -> list[int]:
        return [row["discord_id"] for row in self.query(
            "SELECT discord_id FROM users WHERE link_state = 'linked' ORDER BY discord_id")]

    def users_due_for_sync(self, synced_before: float) -> list[int]:
        rows = self.query(
            "SELECT discord_id FROM users WHERE link_state = 'linked' "
            "AND (last_synced_at IS NULL OR last_synced_at < ?) ORDER BY COALESCE(last_synced_at, 0)",
            (synced_before,))
        return [row["discord_id"] for row in rows]

    def display_names(self, discord_ids: Iterable[int]) -> dict[int, str]:
        ids = list(discord_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(f"SELECT discord_id, display_name FROM users WHERE discord_id IN ({marks})", ids)
        return {row["discord_id"]: row["display_name"] or f"member {row['discord_id']}" for row in rows}

    # -- tokens (ciphertext only: spotify_auth encrypts before calling these) ----------------------

    def save_tokens(self, discord_id: int, access_token: bytes, refresh_token: bytes, expires_at: float,
                    scope: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO tokens (discord_id, access_token, refresh_token, expires_at, scope, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(discord_id) DO UPDATE SET access_token = excluded.access_token, "
                "refresh_token = excluded.refresh_token, expires_at = excluded.expires_at, scope = excluded.scope, "
                "updated_at = excluded.updated_at",
                (discord_id, access_token, refresh_token, expires_at, scope, time.time()),
            )

    def get_tokens(self, discord_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM tokens WHERE discord_id = ?", (discord_id,))
        return rows[0] if rows else None

    def all_token_rows(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM tokens")

    # -- single-use states (OAuth `state`, upload links): stored as hashes ------------------------

    def create_state(self, state_hash: str, purpose: str, discord_id: int, guild_id: int | None,
                     ttl_seconds: float) -> None:
        now = time.time()
        with self.transaction() as conn:
            conn.execute("DELETE FROM auth_states WHERE expires_at < ?", (now - 86400,))
            conn.execute(
                "INSERT INTO auth_states (state_hash, purpose, discord_id, guild_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (state_hash, purpose, discord_id, guild_id, now, now + ttl_seconds))

    def peek_state(self, state_hash: str, purpose: str) -> tuple[str, dict[str, Any] | None]:
        """Check a state without spending it: 'ok', 'unknown', 'expired' or 'used'."""
        rows = self.query("SELECT * FROM auth_states WHERE state_hash = ? AND purpose = ?", (state_hash, purpose))
        if not rows:
            return "unknown", None
        row = rows[0]
        if row["used_at"] is not None:
            return "used", row
        if row["expires_at"] < time.time():
            return "expired", row
        return "ok", row

    def spend_state(self, state_hash: str, purpose: str) -> tuple[str, dict[str, Any] | None]:
        """Atomically use a state once: 'ok' for the first caller only."""
        with self.transaction() as conn:
            status, row = self.peek_state(state_hash, purpose)
            if status == "ok":
                conn.execute("UPDATE auth_states SET used_at = ? WHERE state_hash = ?", (time.time(), state_hash))
        return status, row

    # -- guilds ------------------------------------------------------------------------------------

    def set_guild_members(self, guild_id: int, discord_ids: Iterable[int]) -> None:
        """Replace the known members of a guild with those of `discord_ids` that we hold data on."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM guild_members WHERE guild_id = ?", (guild_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO guild_members (guild_id, discord_id) "
                "SELECT ?, discord_id FROM users WHERE discord_id = ?", [(guild_id, uid) for uid in discord_ids])

    def add_guild_member(self, guild_id: int, discord_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO guild_members (guild_id, discord_id) "
                         "SELECT ?, discord_id FROM users WHERE discord_id = ?", (guild_id, discord_id))

    def add_member_guilds(self, discord_id: int, guild_ids: Iterable[int]) -> int:
        """Record the member in each of these guilds (if we hold data on them); return how many were new."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("INSERT INTO guild_members (guild_id, discord_id) "
                             "SELECT ?, discord_id FROM users WHERE discord_id = ? ON CONFLICT DO NOTHING",
                             [(guild_id, discord_id) for guild_id in dict.fromkeys(guild_ids)])
            return conn.total_changes - before

    def remove_guild_member(self, guild_id: int, discord_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM guild_members WHERE guild_id = ? AND discord_id = ?", (guild_id, discord_id))

    def remove_guild(self, guild_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM guild_members WHERE guild_id = ?", (guild_id,))
            conn.execute("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
            for table in ("crowns", "crown_changes", "crown_settings"):
                conn.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))

    def visible_members(self, guild_id: int) -> list[int]:
        """Members of the guild who count in community features: not hidden, with some listening data."""
        rows = self.query(
            "SELECT gm.discord_id FROM guild_members gm JOIN users u ON u.discord_id = gm.discord_id "
            "WHERE gm.guild_id = ? AND u.hidden = 0 AND (EXISTS (SELECT 1 FROM plays p WHERE p.discord_id = u.discord_id) "
            "OR EXISTS (SELECT 1 FROM top_tracks t WHERE t.discord_id = u.discord_id)) ORDER BY gm.discord_id",
            (guild_id,))
        return [row["discord_id"] for row in rows]

    def guild_ids(self) -> list[int]:
        return [row["guild_id"] for row in self.query("SELECT DISTINCT guild_id FROM guild_members")]

    def get_guild_settings(self, guild_id: int) -> dict[str, Any]:
        rows = self.query("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return rows[0] if rows else {"guild_id": guild_id, "community_enabled": 1, "digest_channel_id": None,
                                     "last_digest_at": None}

    def update_guild_settings(self, guild_id: int, **changes: Any) -> dict[str, Any]:
        allowed = {"community_enabled", "digest_channel_id", "last_digest_at"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        merged = {**self.get_guild_settings(guild_id), **changes}
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO guild_settings (guild_id, community_enabled, digest_channel_id, last_digest_at) "
                "VALUES (:guild_id, :community_enabled, :digest_channel_id, :last_digest_at) "
                "ON CONFLICT(guild_id) DO UPDATE SET community_enabled = excluded.community_enabled, "
                "digest_channel_id = excluded.digest_channel_id, last_digest_at = excluded.last_digest_at", merged)
        return merged

    def digest_guilds(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM guild_settings WHERE digest_channel_id IS NOT NULL AND community_enabled = 1")

    # -- catalogue ---------------------------------------------------------------------------------


def forget_unfinished_playlists(conn: Any, discord_id: int) -> None:
    """Drop the half-made playlists remembered in the member's saved recommendations (utils.music.recommend).

    In Python rather than with SQLite's json_remove, so it reads the same on PostgreSQL; `conn` is in a transaction.
    """
    row = conn.execute("SELECT payload FROM saved_recommendations WHERE discord_id = ?", (discord_id,)).fetchone()
    try:
        payload = json.loads(row[0]) if row is not None else None
    except ValueError:
        return  # not JSON: nothing of ours to forget in it
    if isinstance(payload, dict) and UNFINISHED_PLAYLISTS in payload:
        del payload[UNFINISHED_PLAYLISTS]
        conn.execute("UPDATE saved_recommendations SET payload = ? WHERE discord_id = ?",
                     (json.dumps(payload), discord_id))
