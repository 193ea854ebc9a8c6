"""A small ListenBrainz client on requests: checking a user token, the listen count, and listens paged back by
`max_ts`. It reads the `X-RateLimit-*` headers on every answer and, when the allowance is spent, waits for the
window to reset before the next request (a 429 is waited out the same way, or raised when the wait is long).

liblistenbrainz would do, but it sleeps inside its own calls and knows no timeouts; this keeps the shared retry
policy of `utils.sources.source_http`. Blocking; from async code use `source_http.run_blocking`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from utils.sources.source_http import Answer, JsonHttp, LinkRefused, Play, SourceUnavailable, UnknownAccount

SOURCE = "listenbrainz"
PAGE_SIZE = 1000  # the most a listens request gives
_SPOTIFY_TRACK = "open.spotify.com/track/"
# A user token is a UUID; anything outside these characters can't be one, and would not even fit in a header.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")
WRONG_TOKEN = ("ListenBrainz didn't accept that token. Copy the user token from your ListenBrainz settings page "
               "(under \"User token\") and try again.")


class ListensPage(NamedTuple):
    """The plays of one answer, how many listens it held (usable or not) and the oldest time among them."""

    plays: list[Play]
    returned: int
    oldest: int | None


def _reset_in(answer: Answer) -> float:
    try:
        return max(1.0, float(answer.headers.get("X-RateLimit-Reset-In", "5")))
    except ValueError:
        return 5.0


class ListenBrainzClient:
    """Calls to ListenBrainz (public reads need no token; the token is only checked, never kept)."""

    def __init__(self, api_url: str, *, http: JsonHttp | None = None) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.http = http or JsonHttp(SOURCE, retry_after=_reset_in)
        self._resume_at = 0.0  # when the current rate-limit window has room again

    def validate_token(self, token: str) -> str:
        """The user name a token belongs to; raises LinkRefused for a wrong one."""
        token = token.strip()
        if not _TOKEN_SHAPE.fullmatch(token):  # e.g. a sentence or other script pasted by mistake: no request
            raise LinkRefused(SOURCE, WRONG_TOKEN)
        answer = self._get("1/validate-token", headers={"Authorization": f"Token {token}"})
        name = answer.body.get("user_name")
        if answer.status != 200 or not answer.body.get("valid") or not isinstance(name, str):
            raise LinkRefused(SOURCE, WRONG_TOKEN)
        return name

    def listen_count(self, user: str) -> int:
        answer = self._get(f"1/user/{quote(user, safe='')}/listen-count", user=user)
        return int((answer.body.get("payload") or {}).get("count") or 0)

    def listens(self, user: str, *, max_ts: int | None = None, min_ts: int | None = None,
                count: int = PAGE_SIZE) -> ListensPage:
        """Listens newest first, with listened_at < max_ts and > min_ts."""
        params: dict[str, Any] = {"count": count}
        if max_ts is not None:
            params["max_ts"] = max_ts
        if min_ts is not None:
            params["min_ts"] = min_ts
        answer = self._get(f"1/user/{quote(user, safe='')}/listens", user=user, params=params)
        listens = (answer.body.get("payload") or {}).get("listens") or []
        times = [t for t in (listen.get("listened_at") for listen in listens if isinstance(listen, dict))
                 if isinstance(t, int)]
        plays = [play for play in map(listen_to_play, listens) if play is not None]
        return ListensPage(plays, len(listens), min(times, default=None))

    def _get(self, path: str, *, user: str = "", **kwargs: Any) -> Answer:
        wait = self._resume_at - time.time()
        if wait > 0:
            self.http.sleep(wait)
        answer = self.http.request("GET", self.api_url + path, **kwargs)
        if answer.headers.get("X-RateLimit-Remaining") == "0":
            self._resume_at = time.time() + _reset_in(answer)
        if answer.status == 404:
            raise UnknownAccount(SOURCE, user)
        if answer.status not in (200, 401):
            raise SourceUnavailable(SOURCE)
        return answer


def listen_to_play(listen: Mapping[str, Any]) -> Play | None:
    """A ListenBrainz listen (API answer or export line) as a Play; None when it has no time or no names."""
    if not isinstance(listen, Mapping):
        return None
    meta = listen.get("track_metadata") or {}
    try:
        uts = int(listen.get("listened_at") or 0)
    except (TypeError, ValueError):
        return None
    artist, title = meta.get("artist_name"), meta.get("track_name")
    if uts <= 0 or not isinstance(artist, str) or not isinstance(title, str) or not artist or not title:
        return None
    info = meta.get("additional_info") or {}
    spotify = info.get("spotify_id") if isinstance(info, Mapping) else None
    spotify_id = None
    if isinstance(spotify, str) and _SPOTIFY_TRACK in spotify:
        spotify_id = spotify.rsplit("/", 1)[-1].split("?")[0] or None
    album = meta.get("release_name")
    return Play(uts, artist, title, album if isinstance(album, str) and album else None, spotify_id)
