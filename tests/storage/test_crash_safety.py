"""A writer killed mid-write (SIGKILL, no clean-up) leaves a sound database holding every committed row."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from database import Database

REPO = Path(__file__).resolve().parents[2]
BATCH = 500

# Runs in the child: endless insert_plays transactions, each reported on stdout once committed.
WRITER = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from database import Database

db = Database(sys.argv[1]).open()
db.upsert_tracks([{{"track_id": "tr_1", "name": "Song", "artist_name": "Band"}}])
db.ensure_user(1, "Alice")
batch = 0
while True:
    db.store_sync(1, artists=[], tracks=[], top_tracks={{"short_term": ["tr_1"] * (batch % 5 + 1)}}, top_artists={{}},
                  plays=[(batch * {BATCH} + i, "tr_1", i) for i in range({BATCH})],
                  recent_cursor_ms=batch, synced_at=float(batch))
    print(batch, flush=True)
    batch += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_writer_killed_mid_bulk_write_loses_no_committed_row(database_target: str | Path) -> None:
    path = database_target  # a SQLite file, or a PostgreSQL schema in that run (the server sees the client die)
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        reported = []
        deadline = time.monotonic() + 60
        while len(reported) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported.append(int(line))
        os.kill(child.pid, signal.SIGKILL)  # mid-transaction: it never stops writing
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert len(reported) >= 40, "the writer did not get going"
    last_committed = reported[-1]

    if isinstance(path, Path):
        with sqlite3.connect(path) as conn:  # a plain connection, as any tool would open it
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db = Database(path).open()
    try:
        plays = {row["played_at"] for row in db.query("SELECT played_at FROM plays WHERE discord_id = 1")}
        assert set(range((last_committed + 1) * BATCH)) <= plays, "a committed play was lost"
        assert len(plays) % BATCH == 0, "half a transaction survived"
        synced = db.get_user(1)["last_synced_at"]
        assert synced >= last_committed and len(plays) == (int(synced) + 1) * BATCH  # rows and sync mark agree
        assert db.insert_plays(1, [(10**12, "tr_1", 1, "spotify", 0)]) == 1  # and it takes new writes
    finally:
        db.close()
