"""CPU of one member's recommendation in one process: read their inputs, rank, show and save (no bot, no Discord).

    python scripts/bench_recommend_cpu.py [--folder DIR] [--listeners 200] [--rounds 3] [--profile]
                                          [--dump FILE] [--compare FILE]

Builds bench_bot's listeners' SQLite database once under `--folder` (kept for later runs), fits the server's model,
then times what an engine thread does for a member with nothing cached (`MusicService._load_and_pick`: inputs,
ranking, showing and saving, source links) for every listener, a few rounds, and prints milliseconds per member.
`--profile` prints a cProfile of one round (inflated by the profiler). `--dump FILE` writes every member's list and
reasons in every mode (with the server's model, alone, and with likes and dislikes) as JSON; `--compare FILE`
checks them against an earlier dump, so a faster path can be shown to give the very same lists.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from database import Database  # noqa: E402
from utils.community.model import fit_community  # noqa: E402
from utils.engine.hybrid import Hybrid  # noqa: E402
from utils.music import recommend as personal  # noqa: E402
from utils.music.service import MODES  # noqa: E402
from utils.sources.catalogue import CatalogueExpander  # noqa: E402


def build(folder: Path, listeners: int) -> tuple[list[int], int]:
    """The listeners' database (made once, with their ids noted beside it) and their Discord ids and guild id."""
    noted = folder / f"listeners-{listeners}.json"
    if (folder / "bot.db").exists() and noted.exists():
        known = json.loads(noted.read_text())
        return known["ids"], known["guild"]
    from scripts.bench_bot import Bench

    (folder / "bot.db").unlink(missing_ok=True)
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        bench = Bench(folder, 0.0)
        try:
            bench.import_listeners(listeners)
            store_catalogue(folder / "bot.db", bench.spotify.catalogue)
            ids = [bench.discord.user(f"listener{i}").id for i in range(listeners)]
            guild = bench.discord.guild.id
        finally:
            bench.stop()
    finally:
        sys.argv = argv
    noted.write_text(json.dumps({"ids": ids, "guild": guild}))
    return ids, guild


def store_catalogue(path: Path, catalogue: Any) -> None:
    """Every artist (with its genres) and song of the fake Spotify, as the linked members' syncs and the catalogue
    look-ups store them on a live server: the imported histories alone carry no genres and few songs per artist."""
    db = Database(path).open()
    try:
        db.upsert_artists([{"artist_id": a.id, "name": a.name, "genres": list(a.genres), "fetched_at": 1.0}
                           for a in catalogue.artists.values()])
        db.upsert_tracks([{"track_id": t.id, "name": t.name, "artist_id": t.artist_ids[0],
                           "artist_name": catalogue.artists[t.artist_ids[0]].name, "album_id": t.album_id,
                           "duration_ms": t.duration_ms} for t in catalogue.tracks.values()])
    finally:
        db.close()


def one(db: Database, expander: CatalogueExpander, member: int, now: float, model: Any, guild: int | None,
        mode: str = "balanced", count: int = 10) -> list[Any]:
    """What `MusicService._load_and_pick` does for a member with nothing cached."""
    data = personal.load_personal(db, member, now, {})
    personal.add_genre_tracks(data, expander.genre_tracks(data.top_genres))
    picks = personal.rank(data, model, count, mode)
    recs = personal.show_and_save(db, member, picks, mode, guild) if picks else []
    if recs:
        db.source_links(member)
    return recs


def dump(db: Database, expander: CatalogueExpander, ids: list[int], now: float, model: Any, guild: int) -> dict[str, Any]:
    """Every member's list in every mode: with the model, alone (first 40), with feedback (first 40)."""
    out: dict[str, Any] = {}

    def lists(label: str, members: list[int], with_model: Any) -> None:
        for mode in MODES:
            for member in members:
                recs = one(db, expander, member, now, with_model, guild, mode)
                out[f"{label}/{mode}/{member}"] = [[r.item.key, r.reason, r.score, r.source, r.item.name,
                                                    r.item.artist_name, r.item.spotify_id] for r in recs]

    lists("model", ids, model)
    lists("alone", ids[:40], None)
    # each part of the hybrid leading in turn, so every kind of reason is worded
    for part in ("item_cf", "user_knn", "popularity", "ridge"):
        lists(f"{part}-leads", ids[:40], leading(model, part))
    # as tuning may blend them in: iALS and EASE fitted on the server's listening
    blended = Hybrid(weights={"ials": 10.0, "ease": 3.0}).fit(model.model.data)
    lists("ials-ease", ids[:40], dataclasses.replace(model, model=blended))
    # likes and dislikes (a track, an artist) change the query, the reasons and push-down: set, list, then undo
    for n, member in enumerate(ids[:40]):
        data = personal.load_personal(db, member, now, {})
        tracks = sorted(data.listening.track_weights, key=lambda k: -data.listening.track_weights[k])
        catalogue = [t for ts in data.catalogue.values() for t in ts if t not in data.listening.track_weights]
        if len(tracks) < 2 or len(catalogue) < 2:
            continue
        db.set_feedback(member, "track", catalogue[0], 1)
        db.set_feedback(member, "track", catalogue[1], -1)
        db.set_feedback(member, "track", tracks[-1], -1)
        if n % 2 and data.favourites:
            db.set_feedback(member, "artist", data.favourites[-1], -1)
    lists("feedback", ids[:40], model)
    return out


def leading(community: Any, part: str) -> Any:
    """The server's model with one part weighing far more than the others (components shared, no refit)."""
    base = community.model
    view = Hybrid(base.components, {**base.weights, part: 10.0}, dislike_weight=base.dislike_weight,
                  variety=base.variety, pool=base.pool)
    view.data, view.item_cf = base.data, base.item_cf
    return dataclasses.replace(community, model=view)


def compare(old: dict[str, Any], new: dict[str, Any]) -> int:
    diffs = [key for key in old.keys() | new.keys() if old.get(key) != new.get(key)]
    for key in sorted(diffs)[:10]:
        print("DIFFERENT", key, "\n  before", old.get(key), "\n  after ", new.get(key))
    print(f"{len(old)} lists before, {len(new)} after, {len(diffs)} different")
    return 1 if diffs else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "bench-recommend-cpu")
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    ids, guild = build(args.folder, args.listeners)
    now = 1_790_000_000.0  # fixed, so dumps from different days compare (recency weights depend on it)
    if args.dump:
        work = Path(tempfile.mkdtemp())
        shutil.copy(args.folder / "bot.db", work / "bot.db")  # feedback is written to a copy
        db = Database(work / "bot.db").open()
        try:
            expander = CatalogueExpander(db)
            model = fit_community(db, guild, ids, now)
            lists = dump(db, expander, ids, now, model, guild)
        finally:
            db.close()
            shutil.rmtree(work)
        args.dump.write_text(json.dumps(lists, sort_keys=True))
        print(f"wrote {len(lists)} lists to {args.dump}")
        if args.compare:
            return compare(json.loads(args.compare.read_text()), lists)
        return 0
    db = Database(args.folder / "bot.db").open()
    expander = CatalogueExpander(db)
    started = time.perf_counter()
    model = fit_community(db, guild, ids, now)
    print(f"model fitted in {time.perf_counter() - started:.2f} s ({len(ids)} listeners)")
    for member in ids[:20]:
        one(db, expander, member, now, model, guild)
    for _ in range(args.rounds):
        started, cpu = time.perf_counter(), time.process_time()
        for member in ids:
            one(db, expander, member, now, model, guild)
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        print(f"per member: {wall / len(ids) * 1000:.2f} ms wall, {used / len(ids) * 1000:.2f} ms CPU")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for member in ids:
            one(db, expander, member, now, model, guild)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(50)
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
