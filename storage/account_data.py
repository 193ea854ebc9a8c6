"""App-wide state and counts, and a member's own data as a whole: export and erasure (GDPR)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from storage.connection import Connections, chunks
from storage.schema import USER_TABLES


class AccountData(Connections):
    """Key-value app state, status counts, and export/erasure over every table that holds a member's rows."""

    # -- app state, counts ----------------------------------------------------------------------------

    def set_state(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO app_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                         "value = excluded.value", (key, json.dumps(value)))

    def get_state(self, key: str, default: Any = None) -> Any:
        value = self.scalar("SELECT value FROM app_state WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    def last_sync_at(self) -> float | None:
        """When any sync last finished: the scheduled run, or one member's (/sync, the first after linking)."""
        scheduled = self.get_state("last_sync_at")
        member = self.scalar("SELECT MAX(last_synced_at) FROM users")
        times = [t for t in (scheduled, member) if isinstance(t, int | float)]
        return max(times, default=None)

    def counts(self) -> dict[str, int]:
        """Totals for status pages: no personal data."""
        return {
            "linked_users": self.scalar("SELECT COUNT(*) FROM users WHERE link_state = 'linked'"),
            "users_with_data": self.scalar("SELECT COUNT(DISTINCT discord_id) FROM plays"),
            "plays": self.scalar("SELECT COUNT(*) FROM plays"),
            "tracks": self.scalar("SELECT COUNT(*) FROM tracks"),
            "artists": self.scalar("SELECT COUNT(*) FROM artists"),
        }

    # -- privacy: export and erasure (GDPR) ----------------------------------------------------------------

    def export_user(self, discord_id: int) -> dict[str, Any]:
        """Everything held on one member, as plain data (tokens are omitted: they are secrets, not data)."""
        export: dict[str, Any] = {}
        for table, column in USER_TABLES:
            if table == "tokens":
                linked = self.scalar("SELECT COUNT(*) FROM tokens WHERE discord_id = ?", (discord_id,))
                export["spotify_link"] = {"linked": bool(linked), "tokens": "kept encrypted, not included"}
                continue
            rows = self.query(f"SELECT * FROM {table} WHERE {column} = ?", (discord_id,))
            if table == "auth_states":
                rows = [{k: v for k, v in row.items() if k != "state_hash"} for row in rows]
            export[table] = rows
        track_ids = {row["track_id"] for key in ("plays", "top_tracks") for row in export.get(key, [])}
        export["tracks"] = list(self.tracks_by_id(track_ids).values())
        return export

    def tracks_by_id(self, track_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(track_ids)
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.query(f"SELECT * FROM tracks WHERE track_id IN ({marks})", chunk):
                found[row["track_id"]] = row
        return found

    def erase_user(self, discord_id: int) -> None:
        """Delete every row held on one member, in every table, in one transaction."""
        with self.transaction() as conn:
            for table, column in USER_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (discord_id,))
            conn.execute("DELETE FROM users WHERE discord_id = ?", (discord_id,))
