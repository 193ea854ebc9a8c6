"""Work that several bot processes share one database for: who syncs which member, who posts which digest.

Each claim is one conditional write, so whichever process writes first wins and the others see 0 rows
changed; a claim that is never finished (its process died) expires and may be taken again.
"""

from __future__ import annotations

from storage.connection import Connections

_EVER = 1e18  # a time after every other: "no limit"


class Coordination(Connections):
    """Leases on members for the scheduled sync, claims on servers for the weekly digest."""

    def users_due_for_scheduled_sync(self, synced_before: float, now: float) -> list[int]:
        """Linked members not synced since `synced_before` and not held by any process's lease."""
        rows = self.query(
            "SELECT u.discord_id FROM users u LEFT JOIN sync_leases l ON l.discord_id = u.discord_id "
            "WHERE u.link_state = 'linked' AND (u.last_synced_at IS NULL OR u.last_synced_at < ?) "
            "AND (l.expires_at IS NULL OR l.expires_at <= ?) ORDER BY COALESCE(u.last_synced_at, 0), u.discord_id",
            (synced_before, now))
        return [row["discord_id"] for row in rows]

    def claim_sync(self, discord_id: int, holder: str, until: float, now: float,
                   synced_before: float | None = None) -> bool:
        """Take the member for a sync until `until`, unless another process holds them; True if taken.

        With `synced_before`, only while they are still due (not synced since): a member another process
        synced a moment ago is not taken again, whatever the state of the leases.
        """
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sync_leases (discord_id, holder, expires_at) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE discord_id = ? "
                "AND (last_synced_at IS NULL OR last_synced_at < ?)) "
                "ON CONFLICT (discord_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE sync_leases.expires_at <= ?",
                (discord_id, holder, until, discord_id, _EVER if synced_before is None else synced_before, now))
            return cursor.rowcount == 1

    def extend_sync_claim(self, discord_id: int, holder: str, until: float) -> None:
        """Keep the member (done for this round) until `until`; nothing if another process holds them now."""
        with self.transaction() as conn:
            conn.execute("UPDATE sync_leases SET expires_at = ? WHERE discord_id = ? AND holder = ?",
                         (until, discord_id, holder))

    def sync_lease(self, discord_id: int) -> dict[str, object] | None:
        rows = self.query("SELECT holder, expires_at FROM sync_leases WHERE discord_id = ?", (discord_id,))
        return rows[0] if rows else None

    def claim_digest(self, guild_id: int, now: float, due_before: float) -> bool:
        """Take this week's digest of a server: True for the one process that moved `last_digest_at` to `now`."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE guild_settings SET last_digest_at = ? WHERE guild_id = ? "
                "AND (last_digest_at IS NULL OR last_digest_at <= ?)", (now, guild_id, due_before))
            return cursor.rowcount == 1

    def users_joined_since(self, since: float) -> list[int]:
        """Members who linked Spotify, first reached the bot or imported history since `since`, through any process."""
        rows = self.query("SELECT discord_id FROM users WHERE linked_at > ? UNION "
                          "SELECT discord_id FROM users WHERE created_at > ? UNION "
                          "SELECT discord_id FROM imports WHERE created_at > ?", (since, since, since))
        return sorted(row["discord_id"] for row in rows)
