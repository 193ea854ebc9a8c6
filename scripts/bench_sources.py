"""Benchmark: a whole Last.fm history pulled from the fake Last.fm into the database, and /whoknows after linking.

    python scripts/bench_sources.py            # 200,000 scrobbles
    python scripts/bench_sources.py 50000

Prints (nothing is asserted):
- plays stored per second once fetched: the time spent writing pages (keys, track rows, the cross-source check,
  inserts, the link's progress, one transaction a page) against the plays stored;
- the fetch time (HTTP to the fake on 127.0.0.1 and JSON decoding), for comparison, and a baseline measured in
  the same run (bare inserts of as many plays into the same tables), since this shared machine's speed drifts;
- memory: this process's resident memory when 20,000 plays are in, and its peak from there to the end (the walk
  streams pages, so it should barely grow), plus the peak of traced Python allocations in that stretch;
- the time from the end of the Last.fm link (our /lastfm/callback answered) to the first /whoknows that names the
  new member, with the real bot against the fake Discord (a history of 20,000 scrobbles there).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from database import Database  # noqa: E402
from fakes.lastfm_server import FakeLastFm  # noqa: E402
from spotify_auth import TokenVault  # noqa: E402
from utils.sources.history_sync import HistorySync  # noqa: E402
from utils.sources.lastfm import LastFmClient  # noqa: E402

MEMBER = 1001


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Watch:
    """Times the page writes and samples memory after each."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store_seconds = 0.0
        self.stored = 0
        self.rss_at_20k: float | None = None
        self.peak_after_20k = 0.0
        self._store = db.store_source_page

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        added = self._store(*args, **kwargs)
        self.store_seconds += time.perf_counter() - started
        self.stored += len(args[2])
        if self.rss_at_20k is None and self.stored >= 20_000:
            self.rss_at_20k = _rss_mb()
        if self.rss_at_20k is not None:
            self.peak_after_20k = max(self.peak_after_20k, _rss_mb())
        return added


def bench_backfill(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder, FakeLastFm("bench-key", "bench-secret") as fake:
        fake.add_made_up_user("big", count, newest_uts=int(time.time()) - 60, step=60)
        db = Database(Path(folder) / "bot.db").open()
        vault = TokenVault([Fernet.generate_key().decode()])
        db.ensure_user(MEMBER)
        db.save_source_link(MEMBER, "lastfm", "big", vault.encrypt(fake.session_key_for("big")))
        client = LastFmClient(fake.api_url, fake.auth_url, "bench-key", "bench-secret", min_gap=0.0)
        history = HistorySync(db, vault, lastfm=client, listenbrainz=None)
        watch = _Watch(db)
        db.store_source_page = watch  # type: ignore[method-assign]
        started = time.perf_counter()
        outcome = history.run_link(MEMBER, "lastfm")
        total = time.perf_counter() - started
        history.close()
        stored = db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ?", (MEMBER,))
        db.close()
    print(f"Backfill of {count:,} scrobbles from the fake Last.fm: {outcome}, {stored:,} plays stored")
    print(f"  whole walk: {total:.1f} s ({count / total:,.0f} plays/s, fetching included)")
    print(f"  storing: {watch.store_seconds:.2f} s -> {watch.stored / watch.store_seconds:,.0f} plays/s once fetched "
          "(target >= 20,000)")
    print(f"  fetching and decoding: {total - watch.store_seconds:.1f} s")
    if watch.rss_at_20k is not None:
        print(f"  memory: {watch.rss_at_20k:.0f} MB resident at 20,000 plays, peak {watch.peak_after_20k:.0f} MB after "
              f"-> growth {watch.peak_after_20k - watch.rss_at_20k:.1f} MB (target < 50 MB)")


def bench_baseline(count: int) -> float:
    """Bare inserts of as many plays into the same tables (5,000 a transaction): what the machine does today."""
    from storage.keys import local_id

    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "bot.db").open()
        db.ensure_user(MEMBER)
        rows = [(MEMBER, 1_000_000 + i * 60_000, local_id(str(i % 4000)), None, "lastfm", 0) for i in range(count)]
        started = time.perf_counter()
        for start in range(0, count, 5000):
            with db.transaction() as conn:
                conn.executemany("INSERT OR IGNORE INTO plays (discord_id, played_at, track_id, ms_played, source, "
                                 "skipped) VALUES (?, ?, ?, ?, ?, ?)", rows[start:start + 5000])
        took = time.perf_counter() - started
        db.close()
    return count / took


async def bench_first_whoknows(count: int) -> None:
    import requests

    from fakes.world import bot_world, embed_text

    with tempfile.TemporaryDirectory() as folder:
        async with bot_world(Path(folder)) as world:
            assert world.lastfm is not None
            await world.link("alice")
            world.lastfm.add_made_up_user("carol_fm", count, newest_uts=int(time.time()) - 60, step=120)
            artist = "Aurora Lane"  # in every made-up history
            reply = await world.answer(await world.slash("carol", "link lastfm"))
            url = next(c["url"] for row in reply["components"] for c in row["components"] if c.get("url"))
            page = await asyncio.to_thread(requests.get, url, params={"login_as": "carol_fm"}, timeout=30)
            linked = time.perf_counter()
            assert page.status_code == 200, page.text[:300]
            tries = 0
            while True:
                tries += 1
                text = embed_text(await world.answer(await world.slash("bob", "whoknows", {"artist": artist}),
                                                     timeout=30))
                if "Carol" in text:
                    break
                await asyncio.sleep(0.05)
            took = time.perf_counter() - linked
            link = world.db.source_link(world.user("carol").id, "lastfm") or {}
            print(f"First /whoknows naming the new member: {took:.2f} s after the Last.fm link ({tries} asks; "
                  f"{link.get('plays_fetched', 0):,} of {count:,} plays in by then)")
            await world.wait_history("carol", "lastfm", timeout=300)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    threading.current_thread().name = "bench"
    bench_backfill(count)
    print(f"  baseline, same run: bare inserts of {count:,} plays, 5,000 a transaction: "
          f"{bench_baseline(count):,.0f} plays/s")
    asyncio.run(bench_first_whoknows(20_000))


if __name__ == "__main__":
    main()
