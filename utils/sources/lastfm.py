"""A small Last.fm API 2.0 client on requests (pylast always speaks https to a fixed host, so it can't be pointed
at a local fake): web authentication, signed calls, and the history as compact plays, 200 a page.

Blocking; from async code use `utils.sources.source_http.run_blocking`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from utils.logger import register_secrets
from utils.sources.source_http import (
    Answer,
    JsonHttp,
    LinkRefused,
    LinkRevoked,
    Play,
    PrivateProfile,
    SourceUnavailable,
    UnknownAccount,
    log,
)

SOURCE = "lastfm"
PAGE_SIZE = 200  # the most user.getRecentTracks gives per page
RATE_GAP = 0.2  # Last.fm's terms: about five requests a second


def api_signature(params: Mapping[str, str], secret: str) -> str:
    """md5 of every parameter as name+value, sorted by name, without `format`/`callback`, then the shared secret."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k not in ("format", "callback", "api_sig"))
    return hashlib.md5((text + secret).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RecentPage:
    """One page of a member's scrobbles, newest first, with Last.fm's totals for the whole range asked."""

    plays: list[Play]
    page: int
    total_pages: int
    total: int
    undated: int  # entries with no time that are not the song playing now (not plays; left out)


class LastFmClient:
    """Calls to Last.fm for the bot's API account."""

    def __init__(self, api_url: str, auth_url: str, api_key: str, shared_secret: str, *,
                 http: JsonHttp | None = None, min_gap: float = RATE_GAP) -> None:
        self.api_url, self.auth_page = api_url, auth_url
        self.api_key, self._secret = api_key, shared_secret
        register_secrets(shared_secret)
        self.http = http or JsonHttp(SOURCE, min_gap=min_gap, retry_after=lambda _answer: 10.0)

    def auth_url(self, callback: str) -> str:
        """Last.fm's page where a member allows the bot; Last.fm then sends them to `callback` + token."""
        return self.auth_page + "?" + urlencode({"api_key": self.api_key, "cb": callback})

    def get_session(self, token: str) -> tuple[str, str]:
        """Swap a web-auth token for (user name, session key); raises LinkRefused when Last.fm says no."""
        answer = self._call("auth.getSession", {"token": token}, signed=True)
        session = answer.body.get("session") or {}
        name, key = session.get("name"), session.get("key")
        if not isinstance(name, str) or not isinstance(key, str):
            raise LinkRefused(SOURCE, "Last.fm didn't confirm your account, so nothing was linked.")
        register_secrets(key)
        return name, key

    def user_info(self, user: str, session_key: str | None = None) -> dict[str, Any]:
        answer = self._call("user.getInfo", {"user": user}, session_key=session_key)
        info = answer.body.get("user") or {}
        return {"name": info.get("name") or user, "playcount": _int(info.get("playcount")),
                "registered": _int((info.get("registered") or {}).get("unixtime"))}

    def recent_page(self, user: str, page: int = 1, *, limit: int = PAGE_SIZE, since: int | None = None,
                    until: int | None = None, session_key: str | None = None) -> RecentPage:
        """One page of scrobbles (`since`/`until` are Unix seconds, Last.fm's `from`/`to`); now-playing left out."""
        params = {"user": user, "limit": str(limit), "page": str(page)}
        if since is not None:
            params["from"] = str(since)
        if until is not None:
            params["to"] = str(until)
        body = self._call("user.getRecentTracks", params, session_key=session_key).body
        recent = body.get("recenttracks") or {}
        attr = recent.get("@attr") or {}
        tracks = recent.get("track") or []
        if isinstance(tracks, dict):  # one track: older answers give the object itself
            tracks = [tracks]
        plays, undated = [], 0
        for track in tracks:
            play = _play(track)
            if play is None:
                undated += (track.get("@attr") or {}).get("nowplaying") != "true"
            else:
                plays.append(play)
        return RecentPage(plays, _int(attr.get("page")) or page, _int(attr.get("totalPages")), _int(attr.get("total")),
                          undated)

    def _call(self, method: str, params: dict[str, str], *, signed: bool = False,
              session_key: str | None = None) -> Answer:
        query = {"method": method, "api_key": self.api_key, **params}
        if session_key:
            query["sk"] = session_key
            signed = True
        if signed:
            query["api_sig"] = api_signature(query, self._secret)
        query["format"] = "json"
        answer = self.http.request("GET", self.api_url, params=query)
        error = answer.body.get("error")
        if error is None and answer.status == 200:
            return answer
        raise _error_for(error, params.get("user", ""))


def _error_for(code: Any, user: str) -> Exception:
    if code == 6:
        return UnknownAccount(SOURCE, user)
    if code == 17:
        return PrivateProfile(SOURCE)
    if code == 9:
        return LinkRevoked(SOURCE)
    if code in (4, 14, 15):
        return LinkRefused(SOURCE, "Last.fm didn't accept this link (it may be too old or already used), so nothing "
                                   "was linked. Run `/link lastfm` in Discord for a fresh one.")
    # 10, 13, 26: the bot's own API account is wrong; the owner reads the log
    log.error("Last.fm refused the bot's API account (error %s): check LASTFM_API_KEY and LASTFM_SHARED_SECRET", code)
    return SourceUnavailable(SOURCE)


def _play(track: Mapping[str, Any]) -> Play | None:
    """A dated scrobble as a Play; None for the now-playing entry or one without a time."""
    date = track.get("date")
    uts = _int(date.get("uts")) if isinstance(date, dict) else 0
    if uts <= 0:
        return None
    artist = track.get("artist") or {}
    artist_name = artist.get("#text") or artist.get("name") if isinstance(artist, dict) else str(artist)
    title = track.get("name")
    if not artist_name or not title:
        return None
    album = track.get("album") or {}
    album_name = album.get("#text") if isinstance(album, dict) else None
    return Play(uts, str(artist_name), str(title), album_name or None)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
