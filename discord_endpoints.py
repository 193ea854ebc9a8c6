"""Point discord.py at another Discord API (the local fake used by tests and --demo)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import discord.gateway
import discord.http
import yarl

DEFAULT_API_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


def configure_discord_endpoints(api_url: str, token: str | None = None, timeout: float = 10.0) -> None:
    """Set discord.py's REST base to api_url and, when it is not Discord's own, its gateway from GET /gateway/bot.

    A plain commands.Bot never asks /gateway/bot; it connects straight to DEFAULT_GATEWAY, so that is
    what must change for the bot to reach another server.
    """
    api_url = api_url.rstrip("/")
    discord.http.Route.BASE = api_url
    if api_url == DEFAULT_API_URL:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(DEFAULT_GATEWAY)
        return
    try:
        gateway_url = _get_url(f"{api_url}/gateway/bot", token, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 401:
            raise
        # Without a (valid) bot token, the unauthenticated /gateway names the same gateway.
        gateway_url = _get_url(f"{api_url}/gateway", None, timeout)
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def _get_url(address: str, token: str | None, timeout: float) -> str:
    request = urllib.request.Request(address)
    if token:
        request.add_header("Authorization", f"Bot {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(json.loads(response.read())["url"])
