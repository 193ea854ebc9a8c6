"""Our own exception types, raised by the services and turned into friendly words in the Discord layer.

Each carries `user_message`: plain words a member can read, with no codes and no secrets.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error a member may be told about."""

    default_message = "Something went wrong on our side. Please try again in a moment."

    def __init__(self, user_message: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        super().__init__(self.user_message)


class NotLinked(BotError):
    default_message = (
        "You haven't linked your Spotify account yet. Run `/connect` to link it, "
        "or `/import file` to bring in your listening history without linking."
    )


class LinkBroken(BotError):
    default_message = (
        "Your Spotify link has stopped working (it may have expired or been removed). "
        "Run `/connect` again to fix it."
    )


class NotAllowlisted(BotError):
    default_message = (
        "Spotify hasn't allowed this bot to use your account yet. New Spotify apps can only serve people "
        "the bot owner has added by hand: ask the bot owner to add the e-mail address of your Spotify "
        "account to the app, then run `/connect` again."
    )


class RateLimited(BotError):
    """Spotify asked us to slow down; `retry_after` is in seconds."""

    def __init__(self, retry_after: float, user_message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(user_message or f"Spotify asked me to slow down. Please try again in "
                                        f"{describe_wait(retry_after)}.")


class SpotifyUnavailable(BotError):
    default_message = "Spotify isn't answering right now. Please try again in a few minutes."


class NotEnoughData(BotError):
    default_message = (
        "There isn't enough listening data yet. Bring yours in with `/link lastfm` or `/link listenbrainz` (your "
        "whole history), `/connect` (Spotify) or `/import file`; if you're linked already, give it a minute (or run "
        "`/sync` for Spotify) and try again."
    )


class BadImportFile(BotError):
    default_message = "That file doesn't look like a Spotify listening history export."


class LinkExpired(BotError):
    default_message = "This link has expired or has already been used. Ask the bot for a new one."


def describe_wait(seconds: float) -> str:
    """Turn a wait in seconds into everyday words ("about a minute", "about an hour")."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return "a few seconds" if seconds < 10 else "under a minute"
    minutes = round(seconds / 60)
    if minutes < 2:
        return "about a minute"
    if minutes < 55:
        return f"about {minutes} minutes"
    hours = round(seconds / 3600)
    if hours <= 1:
        return "about an hour"
    if hours < 24:
        return f"about {hours} hours"
    return "about a day" if hours < 36 else f"about {round(hours / 24)} days"
