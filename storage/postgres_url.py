"""Reading a DATABASE_URL without the driver: is it well formed, and how to name it without its password."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

EXAMPLE = "postgresql://user:password@host:5432/dbname"


def describe_url(url: str) -> str:
    """The address without its password, safe to log or show: postgresql://user@host:port/db."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(an address that can't be read)"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def url_problem(url: str) -> str | None:
    """What is wrong with the form of a DATABASE_URL, or None; never repeats the password."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return f"DATABASE_URL can't be read: the port must be a number, as in {EXAMPLE}."
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        return f"DATABASE_URL must start with postgresql://, as in {EXAMPLE}."
    if not parts.hostname or not parts.path.strip("/"):
        return f"DATABASE_URL must name a server and a database, as in {EXAMPLE} (got {describe_url(url)})."
    return None
