"""A tiny image host over real HTTP on 127.0.0.1 for the fetcher's tests: good, slow, missing, huge, not an image,
a decompression bomb, redirects. Paths:

    /ok.jpg /ok.png          real pictures            /missing      404
    /slow.jpg[?anything]     waits `slow_seconds`     /drip.jpg     a JPEG start, then a byte every 0.2 s
    /huge.jpg                6 MB that start like a JPEG (and say so in Content-Length)
    /huge-unsized.jpg        the same without Content-Length (chunked)
    /page.html               a web page, not a picture    /bomb.png   a PNG header claiming 50,000 x 50,000
    /big.png                 a PNG header claiming 6,000 x 6,000 (under Pillow's own limit, over ours)
    /redirect-same           302 to /ok.jpg           /redirect-other   302 to the same file on another host name
"""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


def picture(kind: str = "JPEG", colour: tuple[int, int, int] = (200, 40, 90), side: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, kind)
    return out.getvalue()


def png_bomb(side: int = 50_000) -> bytes:
    """A tiny PNG whose header claims `side` x `side` pixels (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # the default 5 refuses connections when a test opens eight at once on a busy host
    daemon_threads = True


class ImageServer:
    def __init__(self, slow_seconds: float = 2.0) -> None:
        self.slow_seconds = slow_seconds
        self.hits: list[str] = []
        self.in_flight = 0
        self.most_at_once = 0  # the most requests being answered at the same moment
        self._count = threading.Lock()
        self.files = {"/ok.jpg": (picture("JPEG"), "image/jpeg"), "/ok.png": (picture("PNG", (20, 160, 90)), "image/png"),
                      "/page.html": (b"<!doctype html><html><body>Hello</body></html>" * 20, "text/html"),
                      "/bomb.png": (png_bomb(), "image/png"), "/big.png": (png_bomb(6000), "image/png")}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.append(self.path)
                with server._count:
                    server.in_flight += 1
                    server.most_at_once = max(server.most_at_once, server.in_flight)
                try:
                    server.answer(self)
                finally:
                    with server._count:
                        server.in_flight -= 1

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="image-server", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> ImageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]  # /slow.jpg?n=3: a different address for the same picture
        if path in self.files:
            self._send(handler, *self.files[path])
        elif path == "/slow.jpg":
            time.sleep(self.slow_seconds)
            self._send(handler, *self.files["/ok.jpg"])
        elif path == "/drip.jpg":
            self._drip(handler)
        elif path.startswith("/huge"):
            body = b"\xff\xd8\xff\xe0" + b"\0" * (6 * 1024 * 1024)
            self._send(handler, body, "image/jpeg", sized=path == "/huge.jpg")
        elif path == "/redirect-same":
            self._redirect(handler, "/ok.jpg")
        elif path == "/redirect-other":
            self._redirect(handler, self.url("/ok.jpg", host="localhost"))
        else:
            self._send(handler, b"not found", "text/plain", status=404)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, body: bytes, content_type: str, *, status: int = 200,
              sized: bool = True) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if sized:
            handler.send_header("Content-Length", str(len(body)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the fetcher stopped reading, as it should
            handler.wfile.write(body)
        if not sized:
            handler.close_connection = True

    @staticmethod
    def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    @staticmethod
    def _drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        try:
            handler.wfile.write(b"\xff\xd8\xff\xe0" + b"\0" * 16)
            for _ in range(50):
                handler.wfile.flush()
                time.sleep(0.2)
                handler.wfile.write(b"\0")
        except (BrokenPipeError, ConnectionResetError):
            pass
