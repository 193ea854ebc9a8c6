"""The database schema as versioned migrations: `MIGRATIONS[n]` upgrades a file from version n-1 to n.

Never edit a released migration; add the next one. `PRAGMA user_version` records where a file stands.
"""

from __future__ import annotations

_V1 = [
    """CREATE TABLE users (
        discord_id INTEGER PRIMARY KEY,
        display_name TEXT,
        spotify_user_id TEXT,
        spotify_display_name TEXT,
        link_state TEXT NOT NULL DEFAULT 'none' CHECK (link_state IN ('none', 'linked', 'broken')),
        hidden INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL DEFAULT (unixepoch()),
        linked_at REAL,
        last_synced_at REAL,
        recent_cursor_ms INTEGER
    )""",
    "CREATE INDEX idx_users_link ON users (link_state, last_synced_at)",
    """CREATE TABLE tokens (
        discord_id INTEGER PRIMARY KEY REFERENCES users (discord_id) ON DELETE CASCADE,
        access_token BLOB NOT NULL,
        refresh_token BLOB NOT NULL,
        expires_at REAL NOT NULL,
        scope TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE auth_states (
        state_hash TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        guild_id INTEGER,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        used_at REAL
    )""",
    "CREATE INDEX idx_auth_states_user ON auth_states (discord_id)",
    "CREATE INDEX idx_auth_states_expiry ON auth_states (expires_at)",
    """CREATE TABLE guild_members (
        guild_id INTEGER NOT NULL,
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        PRIMARY KEY (guild_id, discord_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX idx_guild_members_user ON guild_members (discord_id)",
    """CREATE TABLE guild_settings (
        guild_id INTEGER PRIMARY KEY,
        community_enabled INTEGER NOT NULL DEFAULT 1,
        digest_channel_id INTEGER,
        last_digest_at REAL
    )""",
    """CREATE TABLE artists (
        artist_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        genres TEXT NOT NULL DEFAULT '[]',
        image_url TEXT,
        fetched_at REAL
    )""",
    "CREATE INDEX idx_artists_key ON artists (name_key)",
    """CREATE TABLE tracks (
        track_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        artist_id TEXT,
        artist_name TEXT NOT NULL,
        album_id TEXT,
        album_name TEXT,
        image_url TEXT,
        duration_ms INTEGER
    )""",
    "CREATE INDEX idx_tracks_key ON tracks (name_key)",
    "CREATE INDEX idx_tracks_artist ON tracks (artist_id)",
    """CREATE TABLE top_tracks (
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        time_range TEXT NOT NULL,
        rank INTEGER NOT NULL,
        track_id TEXT NOT NULL,
        PRIMARY KEY (discord_id, time_range, rank)
    ) WITHOUT ROWID""",
    "CREATE INDEX idx_top_tracks_track ON top_tracks (track_id)",
    """CREATE TABLE top_artists (
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        time_range TEXT NOT NULL,
        rank INTEGER NOT NULL,
        artist_id TEXT NOT NULL,
        PRIMARY KEY (discord_id, time_range, rank)
    ) WITHOUT ROWID""",
    "CREATE INDEX idx_top_artists_artist ON top_artists (artist_id)",
    """CREATE TABLE plays (
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        played_at INTEGER NOT NULL,
        track_id TEXT NOT NULL,
        ms_played INTEGER,
        PRIMARY KEY (discord_id, played_at, track_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX idx_plays_track ON plays (track_id)",
    """CREATE TABLE feedback (
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        item_kind TEXT NOT NULL,
        item_key TEXT NOT NULL,
        value INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (discord_id, item_kind, item_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE saved_recommendations (
        discord_id INTEGER PRIMARY KEY REFERENCES users (discord_id) ON DELETE CASCADE,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE TABLE app_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]

# Version 2: imported listening history. Plays learn where they came from and whether they were skips.
_V2 = [
    "ALTER TABLE plays ADD COLUMN source TEXT NOT NULL DEFAULT 'spotify'",
    "ALTER TABLE plays ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX idx_plays_source ON plays (discord_id, source)",
    """CREATE TABLE imports (
        import_id INTEGER PRIMARY KEY,
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        source_name TEXT NOT NULL,
        plays_added INTEGER NOT NULL,
        entries_skipped INTEGER NOT NULL
    )""",
    "CREATE INDEX idx_imports_user ON imports (discord_id)",
]

MIGRATIONS: dict[int, list[str]] = {1: _V1, 2: _V2}
SCHEMA_VERSION = max(MIGRATIONS)

# Every table holding rows about one member, with the column naming them: erasure and export walk this list.
USER_TABLES: list[tuple[str, str]] = [
    ("tokens", "discord_id"),
    ("auth_states", "discord_id"),
    ("guild_members", "discord_id"),
    ("top_tracks", "discord_id"),
    ("top_artists", "discord_id"),
    ("plays", "discord_id"),
    ("feedback", "discord_id"),
    ("saved_recommendations", "discord_id"),
    ("imports", "discord_id"),
    ("users", "discord_id"),
]
