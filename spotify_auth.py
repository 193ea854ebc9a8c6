"""Linking a member's Spotify account: the Authorization Code flow and the encrypted token vault.

`create_link` makes a single-use `state` bound to the member (only its hash is stored) and returns the
authorise URL; the web server's `/callback` calls `handle_callback`, which spends the state, swaps the
code for tokens, asks Spotify who the member is, and stores the tokens encrypted. `access_token` hands
out a live token, refreshing it (once, under a per-member lock) shortly before it expires.

Everything here is blocking: async callers use `await db.run(auth.method, ...)` or `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyOAuth

from config import Settings
from database import LINK_BROKEN, LINK_NONE, LINK_OK, Database
from utils.errors import LinkBroken, NotAllowlisted, NotLinked, RateLimited, SpotifyUnavailable
from utils.logger import get_logger, register_secrets

if TYPE_CHECKING:
    from utils.sources.spotify_client import SpotifyClient

log = get_logger("spotify_auth")

SCOPES = ("user-top-read", "user-read-recently-played", "playlist-modify-private", "playlist-modify-public",
          "user-read-private")
STATE_PURPOSE = "spotify"
STATE_TTL_SECONDS = 600.0
REFRESH_MARGIN_SECONDS = 60.0
# A forced refresh (the client saw a 401) within this long after the last one reuses its result, so ten
# callers that all saw the same 401 cause one refresh, not ten.
FORCED_REFRESH_REUSE_SECONDS = 10.0
HTTP_TIMEOUT = (5.0, 15.0)
# A refresh that met a 5xx or a network error is tried this many more times, after 0.5 s then 1 s (plus a little
# jitter): it is safe to repeat (the same refresh token), and one hiccup should not fail a member's command.
REFRESH_RETRIES = 2
REFRESH_BACKOFF = 0.5


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback page shows. `reason` is a stable short word for logs and tests."""

    ok: bool
    status_code: int
    title: str
    message: str
    discord_id: int | None = None
    guild_id: int | None = None
    reason: str = "linked"


def hash_state(state: str) -> str:
    """Only this hash of a state reaches the database, so a leaked database cannot complete a link."""
    return hashlib.sha256(state.encode()).hexdigest()


class TokenVault:
    """Fernet encryption of tokens: the first key encrypts, every key decrypts (so keys can rotate)."""

    def __init__(self, keys: tuple[str, ...] | list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, cipher: bytes | str) -> str:
        """Raise InvalidToken when no key we hold can open it."""
        data = cipher.encode() if isinstance(cipher, str) else bytes(cipher)
        return self._fernet.decrypt(data).decode()

    def rotate(self, cipher: bytes | str) -> bytes:
        """Re-encrypt under the first key (no-op in meaning, new ciphertext)."""
        data = cipher.encode() if isinstance(cipher, str) else bytes(cipher)
        return self._fernet.rotate(data)


class _TokenError(Exception):
    """The token endpoint said no. `error` is Spotify's OAuth error code, e.g. "invalid_grant"."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"token endpoint answered {status} ({error})")
        self.status = status
        self.error = error


def _page(reason: str, status: int, title: str, message: str, discord_id: int | None = None,
          guild_id: int | None = None) -> CallbackOutcome:
    return CallbackOutcome(False, status, title, message, discord_id, guild_id, reason)


_TRY_AGAIN = "Go back to Discord and run /connect to get a fresh link."
DENIED = ("denied", 400, "Spotify wasn't linked",
          "You chose not to give the bot access, so nothing was linked and nothing was saved. "
          "If you change your mind, run /connect in Discord.")
MISSING = ("missing", 400, "This link is incomplete",
           "This page needs the details Spotify adds when it sends you back here, and they are missing. "
           + _TRY_AGAIN)
UNKNOWN = ("unknown_state", 400, "We don't recognise this link",
           "This link wasn't made by the bot, or it was copied incompletely, so nothing was linked. " + _TRY_AGAIN)
EXPIRED = ("expired_state", 410, "This link has expired",
           "Links to connect Spotify work for 10 minutes, and this one is older than that. " + _TRY_AGAIN)
USED = ("used_state", 410, "This link has already been used",
        "Each link to connect Spotify works only once, and this one has been used already. If your account "
        "is linked, you're all set; otherwise, go back to Discord and run /connect for a new link.")
EXCHANGE_FAILED = ("exchange_failed", 400, "Spotify didn't accept this link",
                   "Spotify refused to finish linking your account (the approval may have timed out). "
                   "Nothing was saved. " + _TRY_AGAIN)
SPOTIFY_DOWN = ("spotify_unavailable", 502, "Spotify isn't answering",
                "We couldn't reach Spotify to finish linking your account, so nothing was saved. "
                "Please wait a few minutes, then run /connect in Discord again.")
NOT_ALLOWLISTED = ("not_allowlisted", 403, "Spotify hasn't allowed this account yet", NotAllowlisted().user_message
                   .replace("`/connect`", "/connect"))


class SpotifyAuth:
    """The OAuth flow plus the token vault for every member."""

    def __init__(self, settings: Settings, db: Database, *, session: requests.Session | None = None,
                 refresh_retries: int = REFRESH_RETRIES, refresh_backoff: float = REFRESH_BACKOFF) -> None:
        self.settings = settings
        self.refresh_retries = refresh_retries
        self.refresh_backoff = refresh_backoff
        self.db = db
        self.vault = TokenVault(settings.token_encryption_keys)
        self._session = session or requests.Session()
        self._token_url = settings.spotify_accounts_url + "api/token"
        self._api_url = settings.spotify_api_url
        self._oauth = self._make_oauth()
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._last_refresh: dict[int, float] = {}
        register_secrets(settings.spotify_client_secret)

    def _make_oauth(self) -> SpotifyOAuth:
        """spotipy builds the authorise URL; its class-level URLs are overridden on this instance only."""
        oauth = SpotifyOAuth(client_id=self.settings.spotify_client_id, client_secret=self.settings.spotify_client_secret,
                             redirect_uri=self.settings.spotify_redirect_uri, scope=list(SCOPES),
                             cache_handler=MemoryCacheHandler(), requests_session=self._session, open_browser=False)
        oauth.OAUTH_AUTHORIZE_URL = self.settings.spotify_accounts_url + "authorize"
        oauth.OAUTH_TOKEN_URL = self._token_url
        return oauth

    # -- starting a link ------------------------------------------------------------------------

    def create_link(self, discord_id: int, guild_id: int | None, display_name: str | None = None) -> str:
        """A fresh authorise URL for this member; its state works once, for 10 minutes."""
        state = secrets.token_urlsafe(32)  # 32 random bytes
        self.db.ensure_user(discord_id, display_name)
        self.db.create_state(hash_state(state), STATE_PURPOSE, discord_id, guild_id, STATE_TTL_SECONDS)
        return self._oauth.get_authorize_url(state=state)

    # -- the callback -----------------------------------------------------------------------------

    def handle_callback(self, args: Mapping[str, str]) -> CallbackOutcome:
        """Check and spend the state, swap the code, learn who the member is, store the tokens."""
        state, code, error = args.get("state") or "", args.get("code") or "", args.get("error") or ""
        if error:
            row = self.db.spend_state(hash_state(state), STATE_PURPOSE)[1] if state else None
            log.info("Spotify link declined at Spotify (%r)", error[:40])
            return _page(*DENIED, *_ids(row))
        if not state or not code:
            return _page(*MISSING)
        status, row = self.db.spend_state(hash_state(state), STATE_PURPOSE)
        if status != "ok" or row is None:
            reason = {"unknown": UNKNOWN, "expired": EXPIRED, "used": USED}[status]
            log.info("Spotify callback refused: %s state", status)
            return _page(*reason, *_ids(row))
        discord_id, guild_id = _ids(row)
        assert discord_id is not None
        try:
            tokens = self._post_token({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": self.settings.spotify_redirect_uri})
            me = self._get_me(tokens["access_token"])
            self._store(discord_id, tokens, refresh_fallback=None)
        except _TokenError as exc:
            log.warning("Spotify refused the code exchange for a member: %s", exc)
            return _page(*EXCHANGE_FAILED, discord_id, guild_id)
        except NotAllowlisted:
            log.info("A member's Spotify account is not on the app's allowlist; nothing stored")
            return _page(*NOT_ALLOWLISTED, discord_id, guild_id)
        except (SpotifyUnavailable, RateLimited) as exc:
            log.warning("Spotify unavailable during a link: %s", type(exc).__name__)
            return _page(*SPOTIFY_DOWN, discord_id, guild_id)
        self.db.set_link_state(discord_id, LINK_OK, spotify_user_id=me["id"],
                               spotify_display_name=me.get("display_name") or me["id"])
        log.info("Spotify account linked for a member")
        return CallbackOutcome(True, 200, "Spotify is linked!", self._linked_text(discord_id, me),
                               discord_id, guild_id, "linked")

    def _linked_text(self, discord_id: int, me: Mapping[str, Any]) -> str:
        """Names both sides, so someone who approved a link another member forwarded can tell, and undo it."""
        name = me.get("display_name") or "your account"
        member = (self.db.get_user(discord_id) or {}).get("display_name")
        if not member:
            return (f"You're connected as {name}. You can close this tab and go back to Discord: "
                    "the bot will send you a message and fetch your listening in a moment.")
        return (f"You're connected as {name}, for {member} on Discord. You can close this tab and go back to "
                f"Discord: the bot will send you a message and fetch your listening in a moment. Not {member}? "
                "Then someone sent you their link: remove this app in your Spotify account settings (under Apps) "
                "and it can't read anything more.")

    # -- tokens -------------------------------------------------------------------------------------

    def access_token(self, discord_id: int, force_refresh: bool = False) -> str:
        """A live access token for this member; refreshes 60 s before expiry. Raises NotLinked/LinkBroken."""
        with self._lock_for(discord_id):
            access, refresh, expires_at = self._load(discord_id)
            now = time.time()
            fresh = expires_at - REFRESH_MARGIN_SECONDS > now
            if fresh and not force_refresh:
                return access
            if fresh and now - self._last_refresh.get(discord_id, 0.0) < FORCED_REFRESH_REUSE_SECONDS:
                return access  # someone refreshed a moment ago, after the 401 this caller saw
            return self._refresh(discord_id, refresh)

    def token_provider(self, discord_id: int) -> Callable[[bool], str]:
        """The callable SpotifyClient asks for a token (True after a 401)."""
        return lambda force_refresh=False: self.access_token(discord_id, force_refresh)

    def client_for(self, discord_id: int) -> SpotifyClient:
        """A Spotify client acting as this member. Raises NotLinked / LinkBroken at once if unusable."""
        from utils.sources.spotify_client import SpotifyClient

        self.link_state(discord_id, require=True)
        return SpotifyClient(self.token_provider(discord_id), self._api_url)

    def link_state(self, discord_id: int, *, require: bool = False) -> str:
        """'none', 'linked' or 'broken'; with require=True raise NotLinked / LinkBroken unless linked."""
        user = self.db.get_user(discord_id)
        state = (user or {}).get("link_state") or LINK_NONE
        if require and state == LINK_BROKEN:
            raise LinkBroken()
        if require and state != LINK_OK:
            raise NotLinked()
        return state

    def disconnect(self, discord_id: int) -> None:
        """Forget the member's tokens (blocking; async callers: `await db.run(auth.disconnect, id)`)."""
        with self._lock_for(discord_id):
            self.db.unlink_user(discord_id)
            self._last_refresh.pop(discord_id, None)

    def reencrypt_all(self) -> int:
        """After adding a new first key, re-encrypt every stored token under it; return how many rows."""
        done = 0
        for row in self.db.all_token_rows():
            discord_id = row["discord_id"]
            with self._lock_for(discord_id):
                current = self.db.get_tokens(discord_id)
                if current is None:
                    continue
                try:
                    access = self.vault.rotate(current["access_token"])
                    refresh = self.vault.rotate(current["refresh_token"])
                except InvalidToken:
                    log.warning("Tokens of one member can't be opened with any current key; left as they are")
                    continue
                self.db.save_tokens(discord_id, access, refresh, current["expires_at"], current["scope"])
                done += 1
        return done

    # -- internals ----------------------------------------------------------------------------------

    def _lock_for(self, discord_id: int) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(discord_id)
            if lock is None:
                lock = self._locks[discord_id] = threading.Lock()
            return lock

    def _load(self, discord_id: int) -> tuple[str, str, float]:
        self.link_state(discord_id, require=True)
        row = self.db.get_tokens(discord_id)
        if row is None:  # linked without tokens can only come from a half-finished erase: treat as broken
            log.warning("A linked member has no stored tokens; marking the link broken")
            self.db.set_link_state(discord_id, LINK_BROKEN)
            raise LinkBroken()
        try:
            access = self.vault.decrypt(row["access_token"])
            refresh = self.vault.decrypt(row["refresh_token"])
        except InvalidToken:
            # The key that wrote them is gone: the member must link again; the ciphertext stays for the owner.
            log.error("Stored tokens can't be decrypted with the configured keys (was a key removed?)")
            self.db.set_link_state(discord_id, LINK_BROKEN)
            raise LinkBroken() from None
        register_secrets(access, refresh)
        return access, refresh, float(row["expires_at"])

    def _refresh(self, discord_id: int, refresh_token: str) -> str:
        try:
            tokens = self._post_refresh(refresh_token)
        except _TokenError as exc:
            if exc.error == "invalid_grant":
                log.warning("A member's Spotify refresh token was refused (expired or revoked); link marked broken")
                self.db.set_link_state(discord_id, LINK_BROKEN)
                raise LinkBroken() from None
            log.error("Token refresh failed: %s (check SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)", exc)
            raise SpotifyUnavailable() from None
        self._store(discord_id, tokens, refresh_fallback=refresh_token)
        self._last_refresh[discord_id] = time.time()
        return tokens["access_token"]

    def _post_refresh(self, refresh_token: str) -> dict[str, Any]:
        """The refresh grant, tried again after a 5xx or a network error (never after a refusal or a 429)."""
        for attempt in range(self.refresh_retries + 1):
            try:
                return self._post_token({"grant_type": "refresh_token", "refresh_token": refresh_token})
            except SpotifyUnavailable:
                if attempt >= self.refresh_retries:
                    log.warning("Spotify's token service kept failing; giving up after %d tries", attempt + 1)
                    raise
                delay = self.refresh_backoff * 2 ** attempt * random.uniform(1.0, 1.2)
                log.info("Spotify's token service failed; trying the refresh again in %.1f s", delay)
                time.sleep(delay)
        raise SpotifyUnavailable()  # not reached: the loop returns or raises

    def _store(self, discord_id: int, tokens: dict[str, Any], refresh_fallback: str | None) -> None:
        access = tokens["access_token"]
        refresh = tokens.get("refresh_token") or refresh_fallback
        if not refresh:
            raise SpotifyUnavailable()  # an authorization_code grant always carries one; be safe anyway
        register_secrets(access, refresh)
        expires_at = time.time() + float(tokens.get("expires_in") or 3600)
        scope = tokens.get("scope") or " ".join(SCOPES)
        self.db.save_tokens(discord_id, self.vault.encrypt(access), self.vault.encrypt(refresh), expires_at, scope)

    def _post_token(self, form: dict[str, str]) -> dict[str, Any]:
        """POST to the token endpoint (form-encoded, client by HTTP Basic). Our own request, not spotipy's:
        spotipy logs the Basic header and the body at DEBUG and hides the OAuth error code we act on."""
        try:
            response = self._session.post(self._token_url, data=form, timeout=HTTP_TIMEOUT,
                                          auth=(self.settings.spotify_client_id, self.settings.spotify_client_secret))
        except requests.RequestException as exc:
            # Only the class name: the request attached to the error carries the code or refresh token.
            log.warning("Could not reach Spotify: %s", type(exc).__name__)
            raise SpotifyUnavailable() from None
        if response.status_code == 429:
            raise RateLimited(_retry_after(response))
        if response.status_code >= 500:
            raise SpotifyUnavailable()
        body = _json(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            error = body.get("error")
            raise _TokenError(response.status_code, error if isinstance(error, str) else "unexpected_response")
        return body

    def _get_me(self, access_token: str) -> dict[str, Any]:
        """Who just linked. 403 here means the account isn't on the app's allowlist (Development Mode)."""
        try:
            response = self._session.get(self._api_url + "me", timeout=HTTP_TIMEOUT,
                                         headers={"Authorization": f"Bearer {access_token}"})
        except requests.RequestException as exc:
            # Only the class name: the request attached to the error carries the code or refresh token.
            log.warning("Could not reach Spotify: %s", type(exc).__name__)
            raise SpotifyUnavailable() from None
        if response.status_code == 403:
            raise NotAllowlisted()
        body = _json(response)
        if response.status_code != 200 or not isinstance(body.get("id"), str):
            raise SpotifyUnavailable()
        return body


def _ids(row: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    return (row["discord_id"], row["guild_id"]) if row else (None, None)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: requests.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "5")))
    except ValueError:
        return 5.0
