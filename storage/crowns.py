"""Crowns: who holds each artist's crown in a server, what changed hands and when, and each server's settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from storage.connection import Connections, chunks
from storage.listening import TRACK_ARTIST_KEY

DEFAULT_CROWN_THRESHOLD = 30


class CrownStore(Connections):
    """Queries on crowns, crown changes and crown settings (mixed into Database)."""

    def crown_settings(self, guild_id: int) -> dict[str, Any]:
        rows = self.query("SELECT enabled, threshold, built_at FROM crown_settings WHERE guild_id = ?", (guild_id,))
        return rows[0] if rows else {"enabled": 1, "threshold": DEFAULT_CROWN_THRESHOLD, "built_at": None}

    def set_crown_settings(self, guild_id: int, **changes: Any) -> dict[str, Any]:
        unknown = set(changes) - {"enabled", "threshold", "built_at"}
        if unknown:
            raise ValueError(f"unknown crown settings: {sorted(unknown)}")
        merged = {**self.crown_settings(guild_id), **changes, "guild_id": guild_id}
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO crown_settings (guild_id, enabled, threshold, built_at) "
                "VALUES (:guild_id, :enabled, :threshold, :built_at) ON CONFLICT (guild_id) DO UPDATE SET "
                "enabled = excluded.enabled, threshold = excluded.threshold, built_at = excluded.built_at", merged)
        return merged

    def artist_play_counts(self, discord_ids: Sequence[int], min_plays: int,
                           artist: str | None = None) -> list[dict[str, Any]]:
        """Listens per member and artist key, only pairs with at least `min_plays` (one artist key if given)."""
        rows: list[dict[str, Any]] = []
        only = f"AND {TRACK_ARTIST_KEY} = ?" if artist is not None else ""
        for chunk in chunks(list(discord_ids), 900):
            marks = ",".join("?" * len(chunk))
            params: list[Any] = [*chunk, *([artist] if artist is not None else []), min_plays]
            rows += self.query(
                f"SELECT p.discord_id, {TRACK_ARTIST_KEY} AS key, COUNT(*) AS plays FROM plays p "
                f"JOIN tracks t ON t.track_id = p.track_id LEFT JOIN artists a ON a.artist_id = t.artist_id "
                f"WHERE p.discord_id IN ({marks}) AND p.skipped = 0 {only} "
                f"GROUP BY p.discord_id, {TRACK_ARTIST_KEY} HAVING COUNT(*) >= ?", params)
        return rows

    def guild_crowns(self, guild_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT artist_key, discord_id, plays, since FROM crowns WHERE guild_id = ?", (guild_id,))

    def crown(self, guild_id: int, artist_key: str) -> dict[str, Any] | None:
        rows = self.query("SELECT artist_key, discord_id, plays, since FROM crowns WHERE guild_id = ? AND artist_key = ?",
                          (guild_id, artist_key))
        return rows[0] if rows else None

    def member_crowns(self, guild_id: int, discord_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT artist_key, discord_id, plays, since FROM crowns WHERE guild_id = ? AND discord_id = ? "
                          "ORDER BY plays DESC, artist_key", (guild_id, discord_id))

    def crown_counts(self, guild_id: int) -> list[dict[str, Any]]:
        """Crowns held per member in a server, most first."""
        return self.query("SELECT discord_id, COUNT(*) AS crowns, SUM(plays) AS plays FROM crowns WHERE guild_id = ? "
                          "GROUP BY discord_id ORDER BY crowns DESC, plays DESC, discord_id", (guild_id,))

    def save_crowns(self, guild_id: int, held: Iterable[tuple[str, int, int, float]], dropped: Iterable[str],
                    changes: Iterable[tuple[str, int, int | None, int, float]]) -> None:
        """In one transaction: set crowns `(artist_key, holder, plays, since)`, drop crowns by artist key, and
        record changes `(artist_key, new holder, previous holder, plays, at)`."""
        with self.transaction() as conn:
            conn.executemany("DELETE FROM crowns WHERE guild_id = ? AND artist_key = ?",
                             [(guild_id, key) for key in dropped])
            conn.executemany(
                "INSERT INTO crowns (guild_id, artist_key, discord_id, plays, since) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (guild_id, artist_key) DO UPDATE SET discord_id = excluded.discord_id, "
                "plays = excluded.plays, since = excluded.since", [(guild_id, *row) for row in held])
            conn.executemany(
                "INSERT INTO crown_changes (guild_id, artist_key, discord_id, previous_id, plays, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", [(guild_id, *row) for row in changes])

    def crown_changes_since(self, guild_id: int, since: float) -> list[dict[str, Any]]:
        return self.query("SELECT artist_key, discord_id, previous_id, plays, changed_at FROM crown_changes "
                          "WHERE guild_id = ? AND changed_at >= ? ORDER BY changed_at DESC", (guild_id, since))

    def clear_crowns(self, guild_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM crowns WHERE guild_id = ?", (guild_id,))
