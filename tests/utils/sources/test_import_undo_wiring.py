"""Undoing an import, as the bot wires it: the removed plays stop counting for the server at once."""

from __future__ import annotations

import io
import time
from pathlib import Path

from cryptography.fernet import Fernet

import app
from config import Settings
from database import Database
from tests.utils.sources.test_export_import import MEMBER, export_zip

GUILD = 77
OTHER = 4242


async def test_undoing_an_import_drops_the_server_model_holding_those_plays_at_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "bot.db").open()
    settings = Settings(discord_token="not-a-real-token", spotify_client_id="id", spotify_client_secret="secret",
                        token_encryption_keys=(Fernet.generate_key().decode(),), database_path=str(tmp_path / "bot.db"),
                        log_dir="")
    built = app.build_services(db, settings)
    try:
        db.ensure_user(OTHER, "Other")
        db.upsert_tracks([{"track_id": "othertrack", "name": "Song", "artist_name": "Band"}])
        db.insert_plays(OTHER, [(1_700_000_000_000 + i, "othertrack", 180_000, "spotify", 0) for i in range(3)])
        await built.importer.import_file(MEMBER, "Member", io.BytesIO(export_zip()), "my_spotify_data.zip")
        models = built.community.models
        fitted = models.get(db, GUILD, [MEMBER, OTHER], time.time())
        assert fitted.has(MEMBER) and fitted.tracks_of(MEMBER)
        assert await built.importer.undo(MEMBER) == 3
        # the member took those plays back: no model built on them may answer anyone, not even while refitting
        assert models.serve(db, GUILD, [MEMBER, OTHER], time.time()) is None
    finally:
        built.workers.close()
        db.close()
