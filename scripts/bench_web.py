"""Load test of the web server: /health under 50 concurrent clients for 10 s, served by waitress.

    python scripts/bench_web.py [--threads 8] [--connections 50] [--duration 10] [--python]

Runs the real application (create_app + WebServer, a real SQLite file) and, as a baseline measured in
the same run on the same machine, a bare WSGI app on the same waitress settings; prints both and their
ratio, because these machines are shared and absolute figures drift. Uses `wrk` when installed
(a Python client on a 2-core machine measures itself as much as the server), else a Python client.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import multiprocessing
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet

from config import Settings
from database import Database
from keep_alive import WebContext, WebServer, create_app
from spotify_auth import SpotifyAuth
from utils.events import NullBridge

TARGET_RPS = 1000.0


def bare_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "15")])
    return [b'{"status":"ok"}']


def build_app(tmp: Path) -> tuple[Any, Database]:
    settings = Settings(discord_token="bench", spotify_client_id="bench", spotify_client_secret="bench-secret",
                        token_encryption_keys=(Fernet.generate_key().decode(),),
                        database_path=str(tmp / "bench.db"), log_dir="")
    db = Database(settings.database_path).open()
    ctx = WebContext(settings=settings, db=db, auth=SpotifyAuth(settings, db), bridge=NullBridge(connected=True))
    return create_app(ctx), db


# -- clients -----------------------------------------------------------------------------------------------------

def run_wrk(url: str, connections: int, duration: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return {"rps": rps, "requests": total, "errors": errors,
            "p50_ms": _wrk_latency(out, "50%"), "p99_ms": _wrk_latency(out, "99%")}


def _wrk_latency(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _python_worker(host: str, port: int, path: str, threads: int, duration: float, queue: Any) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def loop() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    bad += 1
            except OSError:
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((latencies, errors[0]))


def run_python(url: str, connections: int, duration: int) -> dict[str, float]:
    """Two client processes (so the client's GIL is not the server's), `connections` threads in all."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_python_worker,
                                     args=(host, int(port), path, connections // 2 + (i < connections % 2), duration, queue))
             for i in range(2)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(err for _, err in results)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [float("nan")] * 99
    return {"rps": len(latencies) / duration, "requests": len(latencies), "errors": errors,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


# -- main -----------------------------------------------------------------------------------------------------------

def measure(app: Any, threads: int, connections: int, duration: int, use_wrk: bool) -> dict[str, float]:
    server = WebServer(app, "127.0.0.1", 0, threads=threads, connection_limit=max(100, connections * 2)).start()
    try:
        url = f"http://127.0.0.1:{server.port}/health"
        client = run_wrk if use_wrk else run_python
        client(url, connections, 1)  # warm-up
        return client(url, connections, duration)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads (default 8, as WebServer)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--python", action="store_true", help="use the Python client even when wrk is installed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # Queue-depth warnings per request, and "canceling pending tasks" as each server stops mid-burst.
    logging.getLogger("waitress").setLevel(logging.ERROR)

    use_wrk = shutil.which("wrk") is not None and not args.python
    print(f"client: {'wrk -t2' if use_wrk else 'Python (2 processes, http.client keep-alive)'}; "
          f"{args.connections} connections, {args.duration} s each; waitress threads={args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        app, db = build_app(Path(tmp))
        try:
            baseline = measure(bare_app, args.threads, args.connections, args.duration, use_wrk)
            ours = measure(app, args.threads, args.connections, args.duration, use_wrk)
        finally:
            db.close()
    for name, result in (("bare WSGI app (baseline)", baseline), ("bot /health", ours)):
        print(f"{name:26s} {result['rps']:9.0f} req/s  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
              f"errors {int(result['errors'])}  ({int(result['requests'])} requests)")
    print(f"ratio bot/baseline: {ours['rps'] / baseline['rps']:.2f}")
    ok = ours["rps"] >= TARGET_RPS and ours["errors"] == 0
    print(f"target >= {TARGET_RPS:.0f} req/s with no errors: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
