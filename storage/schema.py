"""The database schema as versioned migrations: `MIGRATIONS[n]` upgrades a file from version n-1 to n.

Never edit a released migration; add the next one. `PRAGMA user_version` records where a file stands (on
PostgreSQL, the `schema_version` table). Write new migrations in portable SQL (see storage/dialect.py): they run
on both. Keys are computed in Python (storage/keys.py): only SQLite connections have them as SQL functions.
"""

from __future__ import annotations

from storage.dialect import PostgresOnly, SqliteOnly

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

# Version 3: names in every script. The old keys folded names to ASCII, so every Japanese, Korean, Cyrillic, Greek,
# Arabic or Chinese name became "" (and "ø", "ß", "ł" vanished). Recompute every stored key with the Python
# functions Database registers on each connection (database.register_sql_functions): normalise(text),
# track_key(artist, title), local_id(key).
_V3 = [
    # Feedback and saved recommendations first: their old keys are found through the rows as they still are.
    # A key with no row stays as it is; two old keys that are now one item keep the newer feedback. An old key
    # that now means several items (every non-Latin name used to be "") can't say which one the member meant:
    # that feedback is dropped rather than pinned on an item they may never have heard.
    """CREATE TEMP TABLE rekeyed_feedback AS
    SELECT f.discord_id, f.item_kind, f.item_key AS old_key, f.value, f.created_at,
        CASE f.item_kind
            WHEN 'track' THEN (SELECT CASE COUNT(DISTINCT track_key(t.artist_name, t.name))
                                   WHEN 0 THEN NULL WHEN 1 THEN MIN(track_key(t.artist_name, t.name)) ELSE char(0) END
                               FROM tracks t WHERE t.name_key = f.item_key)
            WHEN 'artist' THEN COALESCE(
                (SELECT CASE COUNT(DISTINCT normalise(a.name))
                            WHEN 0 THEN NULL WHEN 1 THEN MIN(normalise(a.name)) ELSE char(0) END
                 FROM artists a WHERE a.name_key = f.item_key),
                (SELECT CASE COUNT(DISTINCT normalise(t.artist_name))
                            WHEN 0 THEN NULL WHEN 1 THEN MIN(normalise(t.artist_name)) ELSE char(0) END
                 FROM tracks t  -- keys starting "<artist> - ", as a range idx_tracks_key can serve
                 WHERE t.name_key >= f.item_key || ' - ' AND t.name_key < f.item_key || ' -!'))
        END AS new_key
    FROM feedback f""",
    """DELETE FROM feedback WHERE (discord_id, item_kind, item_key) IN (
        SELECT discord_id, item_kind, old_key FROM rekeyed_feedback WHERE new_key = char(0))""",
    "DELETE FROM rekeyed_feedback WHERE new_key = char(0)",
    "DELETE FROM rekeyed_feedback WHERE new_key IS NULL OR new_key = old_key",
    """DELETE FROM feedback WHERE (discord_id, item_kind, item_key) IN (
        SELECT discord_id, item_kind, old_key FROM rekeyed_feedback)""",
    """INSERT INTO feedback (discord_id, item_kind, item_key, value, created_at)
    SELECT discord_id, item_kind, new_key, value, created_at FROM rekeyed_feedback WHERE true ORDER BY created_at
    ON CONFLICT (discord_id, item_kind, item_key) DO UPDATE SET value = excluded.value,
        created_at = excluded.created_at WHERE excluded.created_at >= feedback.created_at""",
    "DROP TABLE rekeyed_feedback",
    # The last recommendations ("save as playlist", feedback buttons) name their tracks by key, next to the name
    # and artist shown, which say exactly which song it was: its new key is built from those.
    """UPDATE saved_recommendations SET payload = json_set(payload, '$.items', json((
        SELECT json_group_array(CASE
            WHEN json_type(i.value, '$.name') = 'text' AND json_type(i.value, '$.artist_name') = 'text'
                AND EXISTS (SELECT 1 FROM tracks t WHERE t.name_key = json_extract(i.value, '$.key'))
            THEN json_set(i.value, '$.key',
                          track_key(json_extract(i.value, '$.artist_name'), json_extract(i.value, '$.name')))
            ELSE json(i.value) END)
        FROM json_each(payload, '$.items') i)))
    WHERE json_valid(payload) AND json_type(payload, '$.items') = 'array'
        AND NOT EXISTS (SELECT 1 FROM json_each(payload, '$.items') WHERE type != 'object')""",
    "UPDATE tracks SET name_key = track_key(artist_name, name) WHERE name_key != track_key(artist_name, name)",
    "UPDATE artists SET name_key = normalise(name) WHERE name_key != normalise(name)",
    # Imports gave every artist a local id from its old key, so all the artists whose names were "" shared one id
    # (and one row, named after whichever came first). Give each its own, the id an import now gives it.
    """INSERT INTO artists (artist_id, name, name_key)
    SELECT local_id(normalise(t.artist_name)), MIN(t.artist_name), normalise(t.artist_name) FROM tracks t
    JOIN artists a ON a.artist_id = t.artist_id
    WHERE t.artist_id LIKE 'local:%' AND a.name_key != normalise(t.artist_name)
    GROUP BY normalise(t.artist_name)
    ON CONFLICT (artist_id) DO NOTHING""",
    """UPDATE tracks SET artist_id = local_id(normalise(artist_name))
    WHERE artist_id LIKE 'local:%'
        AND (SELECT a.name_key FROM artists a WHERE a.artist_id = tracks.artist_id) != normalise(artist_name)""",
]

# Version 4: Last.fm and ListenBrainz. A member links an account per service (one Discord member per account); the
# link keeps the Last.fm session key encrypted (ListenBrainz needs none), and where the history backfill stands, so
# it resumes after a restart, and which process walks it now (a lease, so several processes never walk one history
# twice at once). song_matches remembers every Spotify search for a song known only by name, misses too.
_V4 = [
    """CREATE TABLE IF NOT EXISTS source_links (
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        account_name TEXT NOT NULL,
        account_key TEXT NOT NULL,
        session_key BLOB,
        linked_at REAL NOT NULL,
        last_synced_at REAL,
        status TEXT NOT NULL DEFAULT 'backfill',
        backfill_cursor BIGINT,
        newest_seen BIGINT,
        plays_expected INTEGER,
        plays_fetched INTEGER NOT NULL DEFAULT 0,
        plays_added INTEGER NOT NULL DEFAULT 0,
        problem TEXT,
        walk_holder TEXT,
        walk_until REAL,
        PRIMARY KEY (discord_id, source)
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_source_links_account ON source_links (source, account_key)",
    """CREATE TABLE IF NOT EXISTS song_matches (
        name_key TEXT PRIMARY KEY,
        track_id TEXT,
        searched_at REAL NOT NULL
    )""",
]

# Version 5: crowns (the member who plays an artist most in a server, past a threshold), what changed hands and
# when (for /whoknows and the weekly digest), and each server's crown settings.
_V5 = [
    """CREATE TABLE IF NOT EXISTS crown_settings (
        guild_id INTEGER PRIMARY KEY,
        enabled INTEGER NOT NULL DEFAULT 1,
        threshold INTEGER NOT NULL DEFAULT 30,
        built_at REAL
    )""",
    """CREATE TABLE IF NOT EXISTS crowns (
        guild_id INTEGER NOT NULL,
        artist_key TEXT NOT NULL,
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        plays INTEGER NOT NULL,
        since REAL NOT NULL,
        PRIMARY KEY (guild_id, artist_key)
    )""",
    "CREATE INDEX IF NOT EXISTS idx_crowns_holder ON crowns (discord_id, guild_id)",
    """CREATE TABLE IF NOT EXISTS crown_changes (
        guild_id INTEGER NOT NULL,
        artist_key TEXT NOT NULL,
        discord_id INTEGER NOT NULL REFERENCES users (discord_id) ON DELETE CASCADE,
        previous_id INTEGER,
        plays INTEGER NOT NULL,
        changed_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_crown_changes_guild ON crown_changes (guild_id, changed_at)",
    "CREATE INDEX IF NOT EXISTS idx_crown_changes_holder ON crown_changes (discord_id)",
    "CREATE INDEX IF NOT EXISTS idx_crown_changes_previous ON crown_changes (previous_id)",
    # Who plays an artist (/whoknows, a crown check) walks the artist's plays by song; with `skipped` in the index
    # it never opens the plays themselves. It serves every look-up by song the old index did, so that one goes.
    "CREATE INDEX IF NOT EXISTS idx_plays_track_skipped ON plays (track_id, skipped)",
    "DROP INDEX IF EXISTS idx_plays_track",
]

# Version 6: several bot processes on one database (shards). A scheduled sync takes a member with a lease
# that expires, so each member is synced once per round whichever process gets there first; a process
# that dies mid-sync lets go when its lease runs out. Members who linked, arrived or imported recently are
# found by time, so every process can record them in its own servers.
_V6 = [
    """CREATE TABLE IF NOT EXISTS sync_leases (
        discord_id INTEGER PRIMARY KEY REFERENCES users (discord_id) ON DELETE CASCADE,
        holder TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_users_linked_at ON users (linked_at)",
    "CREATE INDEX IF NOT EXISTS idx_users_created_at ON users (created_at)",
    "CREATE INDEX IF NOT EXISTS idx_imports_created_at ON imports (created_at)",
]

# Version 7 (PostgreSQL support): a track keeps its artist's key, made in Python when the track is stored, so the
# artist of a track with no artist row is counted by SQL on PostgreSQL too (which has no `normalise`).
_V7 = [
    "ALTER TABLE tracks ADD COLUMN artist_key TEXT",
    SqliteOnly("UPDATE tracks SET artist_key = normalise(artist_name)"),
]

# Version 8: a profile read among many members, on PostgreSQL. There a table's rows live apart from its primary key's
# index (SQLite keeps a WITHOUT ROWID table's rows in the key itself), so a profile read both for its top lists and
# recent plays: a dozen pages from disk once the members outgrow the server's cache, nearly half the read's time.
# With the few other columns a profile reads carried in the key's index, PostgreSQL answers from the index alone
# (for rows its vacuum has marked visible to all). The same key, so the same rows are refused as duplicates.
_V8 = [
    PostgresOnly("ALTER TABLE top_tracks DROP CONSTRAINT top_tracks_pkey, "
                 "ADD PRIMARY KEY (discord_id, time_range, rank) INCLUDE (track_id)"),
    PostgresOnly("ALTER TABLE top_artists DROP CONSTRAINT top_artists_pkey, "
                 "ADD PRIMARY KEY (discord_id, time_range, rank) INCLUDE (artist_id)"),
    PostgresOnly("ALTER TABLE plays DROP CONSTRAINT plays_pkey, "
                 "ADD PRIMARY KEY (discord_id, played_at, track_id) INCLUDE (ms_played, source, skipped)"),
]

# Version 3 only re-keys rows stored before PostgreSQL support: a PostgreSQL database never holds such rows.
MIGRATIONS: dict[int, list[str]] = {1: _V1, 2: _V2, 3: [SqliteOnly(statement) for statement in _V3], 4: _V4, 5: _V5,
                                    6: _V6, 7: _V7, 8: _V8}
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
    ("source_links", "discord_id"),
    ("crowns", "discord_id"),
    ("crown_changes", "discord_id"),  # (a change naming them as the previous holder is unnamed on erasure)
    ("sync_leases", "discord_id"),
    ("users", "discord_id"),
]
