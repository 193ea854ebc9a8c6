"""The fake Spotify's error answers in the real shapes: Web API errors, accounts-service (token) errors, and
`ApiError`, which a route or a check raises to answer with one of them at once."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

_DEFAULT_MESSAGES = {400: "Bad request", 401: "Invalid access token", 403: "Forbidden", 404: "Resource not found",
                     429: "API rate limit exceeded", 500: "Server error", 502: "Bad gateway", 503: "Service unavailable"}


class ApiError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def api_error(status: int, message: str | None = None, reason: str | None = None) -> Response:
    """A Web API error in the real shape {"error": {"status", "message"}}."""
    err: dict[str, Any] = {"status": status, "message": message or _DEFAULT_MESSAGES.get(status, "Error")}
    if reason:
        err["reason"] = reason
    resp = jsonify({"error": err})
    resp.status_code = status
    return resp


def token_error(status: int, error: str, description: str) -> Response:
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    return resp
