"""Benchmark: importing an extended streaming history zip end to end (parse + store), at three sizes.

    python scripts/bench_import.py            # 50k, 100k, 200k plays
    python scripts/bench_import.py 20000 40000

Each size runs in a fresh process, so peak RSS belongs to that size alone. Prints wall time, plays/s,
peak traced Python memory (tracemalloc, a second timed-apart run since tracing slows things down) and
peak RSS, plus a JSON-decoding baseline measured in the same process so noisy machines can be compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SIZES = (50_000, 100_000, 200_000)


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not inherit the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_export(count: int, path: Path) -> tuple[float, float]:
    """Write a synthetic extended-history zip of `count` music plays; return (zip MB, JSON MB)."""
    from tests.helpers.export_files import make_zip, synthetic_extended

    files = synthetic_extended(count)
    path.write_bytes(make_zip(files))
    return path.stat().st_size / 1e6, sum(len(v) for v in files.values()) / 1e6


def run_one(count: int, path: Path) -> dict[str, float]:
    """Import the zip from disk in this fresh process: timed run first (so peak RSS is the import's), then traced."""
    from database import Database
    from utils.sources.export_import import HistoryImporter

    rss_start = _peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db").open()
        importer = HistoryImporter(db, None)
        start = time.perf_counter()
        with path.open("rb") as file:
            summary = importer.import_file_blocking(1, "bench", file, path.name)
        elapsed = time.perf_counter() - start
        rss_peak = _peak_rss_mb()
        assert summary.plays_added == count, summary
        db.close()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db").open()
        importer = HistoryImporter(db, None)
        tracemalloc.start()
        with path.open("rb") as file:
            importer.import_file_blocking(1, "bench", file, path.name)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.close()
    with zipfile.ZipFile(path) as archive:  # baseline: plain json.loads of every file, same machine, same moment
        start = time.perf_counter()
        for name in archive.namelist():
            json.loads(archive.read(name))
        baseline = time.perf_counter() - start
    return {"plays": count, "seconds": elapsed, "plays_per_s": count / elapsed, "traced_peak_mb": traced_peak / 1e6,
            "rss_peak_mb": rss_peak, "rss_start_mb": rss_start, "json_loads_baseline_s": baseline}


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--one":
        print(json.dumps(run_one(int(argv[1]), Path(argv[2]))))
        return 0
    sizes = [int(a) for a in argv] or list(DEFAULT_SIZES)
    print(f"{'plays':>8} {'zip MB':>7} {'json MB':>8} {'time s':>7} {'plays/s':>9} {'traced MB':>10} "
          f"{'RSS MB':>7} {'json.loads s':>13} {'ratio':>6}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "my_spotify_data.zip"
            zip_mb, json_mb = make_export(size, path)
            out = subprocess.run([sys.executable, __file__, "--one", str(size), str(path)], capture_output=True,
                                 text=True, check=True, cwd=ROOT)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['plays']:>8,} {zip_mb:>7.1f} {json_mb:>8.1f} {r['seconds']:>7.2f} "
              f"{r['plays_per_s']:>9,.0f} {r['traced_peak_mb']:>10.1f} {r['rss_peak_mb']:>7.0f} "
              f"{r['json_loads_baseline_s']:>13.2f} {r['seconds'] / r['json_loads_baseline_s']:>6.2f}")
    print("time: parse + store, end to end from the zip; ratio: import time / plain json.loads of the same files. "
          "RSS: peak of a fresh process that only imports (interpreter and imports included, "
          f"about {r['rss_start_mb']:.0f} MB before the import); traced: Python allocations of the import alone.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
