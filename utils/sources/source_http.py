"""What the Last.fm and ListenBrainz clients share: their errors, plays as compact tuples, and one retry policy.

The policy is the Spotify client's: a 429 is waited out when the wait is short and turned into
`SourceRateLimited` when long; 5xx answers, dropped connections and timeouts are retried with exponential backoff
and jitter, then `SourceUnavailable`. Every request also keeps a minimum gap per service (Last.fm asks for no more
than about five a second). Calls block: async code uses `run_blocking`, a small shared pool off the event loop.
Logs carry the service and a status, never a query string (it can hold a session key or token).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

import requests

from utils.errors import BotError, describe_wait
from utils.logger import get_logger

log = get_logger("sources")
T = TypeVar("T")

_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sources")
HTTP_TIMEOUT = (5.0, 20.0)


class Play(NamedTuple):
    """One play from a listening service: Unix seconds, names, and a Spotify track id when the service knows it."""

    uts: int
    artist: str
    title: str
    album: str | None
    spotify_id: str | None = None


SOURCE_NAMES = {"lastfm": "Last.fm", "listenbrainz": "ListenBrainz"}


class SourceError(BotError):
    """A listening service said no, or could not be reached; `source` is 'lastfm' or 'listenbrainz'."""

    def __init__(self, source: str, user_message: str | None = None) -> None:
        self.source = source
        super().__init__(user_message)

    @property
    def service(self) -> str:
        return SOURCE_NAMES.get(self.source, self.source)


class SourceUnavailable(SourceError):
    def __init__(self, source: str) -> None:
        super().__init__(source, f"{SOURCE_NAMES.get(source, source)} isn't answering right now. "
                                 "Please try again in a few minutes.")


class SourceRateLimited(SourceError):
    def __init__(self, source: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(source, f"{SOURCE_NAMES.get(source, source)} asked me to slow down. Please try again in "
                                 f"{describe_wait(retry_after)}.")


class UnknownAccount(SourceError):
    """The linked account's name is gone. The member never typed it (the service gave it at linking), so the words
    say how to link again, not to check a spelling."""

    def __init__(self, source: str, name: str) -> None:
        super().__init__(source, f"{SOURCE_NAMES.get(source, source)} no longer has an account called \u201c{name}\u201d "
                                 f"(it may have been renamed or deleted). Run `/link {source}` to link the account "
                                 "you use now.")


class PrivateProfile(SourceError):
    def __init__(self, source: str) -> None:
        super().__init__(source, f"That {SOURCE_NAMES.get(source, source)} profile keeps its listening private, so "
                                 "I can't read it. Link again with `/link lastfm` (it lets me read your own "
                                 "listening), or make your recent listening public in your Last.fm privacy settings.")


class LinkRevoked(SourceError):
    def __init__(self, source: str) -> None:
        super().__init__(source, f"Your {SOURCE_NAMES.get(source, source)} link stopped working (the bot's access "
                                 f"was removed in your {SOURCE_NAMES.get(source, source)} settings). "
                                 f"Run `/link {source}` to link again; nothing you had here is lost.")


class LinkRefused(SourceError):
    """The service would not confirm who the member is (a bad or expired token)."""


def run_blocking(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run a blocking client call on the shared pool, awaitable from the event loop."""
    return asyncio.get_running_loop().run_in_executor(_EXECUTOR, lambda: function(*args))


class _Pacer:
    """A minimum gap between requests to one service, shared by every thread of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, key: str, gap: float, sleep: Callable[[float], None]) -> None:
        if gap <= 0:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(key, 0.0))
            self._next[key] = at + gap
        if at > now:
            sleep(at - now)


PACER = _Pacer()


class Answer(NamedTuple):
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


class JsonHttp:
    """GET/POST returning JSON, with the retry policy above. `retry_after` reads a 429's wait from an answer."""

    def __init__(self, source: str, *, session: requests.Session | None = None, max_retries: int = 3,
                 backoff_base: float = 0.5, backoff_max: float = 8.0, max_wait: float = 30.0, min_gap: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep,
                 retry_after: Callable[[Answer], float] | None = None) -> None:
        self.source = source
        self.session = session or requests.Session()
        self.max_retries, self.backoff_base, self.backoff_max = max_retries, backoff_base, backoff_max
        self.max_wait, self.min_gap, self.sleep = max_wait, min_gap, sleep
        self._retry_after = retry_after or (lambda answer: 5.0)

    def request(self, method: str, url: str, **kwargs: Any) -> Answer:
        for attempt in range(self.max_retries + 1):
            PACER.wait(self.source, self.min_gap, self.sleep)
            last = attempt >= self.max_retries
            try:
                response = self.session.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                log.info("%s could not be reached (%s)", self.source, type(exc).__name__)
                if last:
                    raise SourceUnavailable(self.source) from None
                self._backoff(attempt)
                continue
            answer = Answer(response.status_code, _json(response), response.headers)
            if answer.status == 429 or answer.body.get("error") == 29:
                wait = self._retry_after(answer)
                if last or wait > self.max_wait:
                    log.info("%s asked us to wait %.0f s", self.source, wait)
                    raise SourceRateLimited(self.source, wait)
                self.sleep(wait)
                continue
            if answer.status >= 500 or answer.body.get("error") in (8, 11, 16):
                log.info("%s answered %s", self.source, answer.status)
                if last:
                    raise SourceUnavailable(self.source)
                self._backoff(attempt)
                continue
            return answer
        raise SourceUnavailable(self.source)  # not reached: the loop returns or raises

    def _backoff(self, attempt: int) -> None:
        self.sleep(min(self.backoff_max, self.backoff_base * 2 ** attempt) * random.uniform(1.0, 1.25))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
