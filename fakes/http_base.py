"""A small base for the fakes that speak HTTP: a Flask app served by werkzeug on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """Keeps test output clean (and never prints a query string holding a token)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeHttpServer:
    """Start/stop and addresses; subclasses set `self.app` (a Flask app) before `start()`."""

    app: Flask
    thread_name = "fake-http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Any:
        """Start serving in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = make_server(self._host, self._port, self.app, threaded=True, request_handler=QuietHandler)
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not running")
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
