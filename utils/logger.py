"""Logging set-up: console and a size-capped rotating file, with every secret masked before it is written."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

MASK = "[hidden]"
_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

# Shapes of secrets that can turn up in any message, whoever wrote it (a library's debug line included).
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|bot|token)\s+[A-Za-z0-9._~+/=-]+"), rf"\1\2 {MASK}"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"(?i)([\"']?(?:access_token|refresh_token|client_secret|code|token|state|upload_token)[\"']?"
                r"\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]{6,}"), rf"\1{MASK}"),
    # `sk`: a Last.fm session key in an API call's query string
    (re.compile(r"(?i)([?&](?:code|state|access_token|refresh_token|token|sk)=)[^&\s\"']+"), rf"\1{MASK}"),
    (re.compile(r"(/import/)[A-Za-z0-9_-]{16,}"), rf"\1{MASK}"),  # a history upload link
    (re.compile(r"\b[MN][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}\b"), MASK),  # Discord bot token
]


class SecretFilter(logging.Filter):
    """Masks known secret values and secret-shaped text in a record's final message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Register exact values to mask (tokens of the moment, the client secret); short values are ignored."""
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= 6)

    def known(self) -> list[str]:
        """The exact values masked (for a process of the bot's own, which masks the same)."""
        with self._lock:
            return sorted(self._secrets)

    def mask(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        masked = self.mask(message)
        record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


SECRET_FILTER = SecretFilter()


def register_secrets(*secrets: str) -> None:
    """Mask these exact values in every log line from now on."""
    SECRET_FILTER.add_secrets(secrets)


def setup_logging(level: str = "INFO", log_dir: str | None = "logs", secrets: Iterable[str] = (),
                  max_bytes: int = 2_000_000, backups: int = 5) -> logging.Logger:
    """Configure the root logger once: console plus rotating file, both behind the secret filter."""
    SECRET_FILTER.add_secrets(secrets)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_ours", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(Path(log_dir) / "bot.log", maxBytes=max_bytes, backupCount=backups,
                                            encoding="utf-8"))
    for handler in handlers:
        handler._ours = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(SECRET_FILTER)
        root.addHandler(handler)
    # discord.py logs gateway payloads at DEBUG; keep its chatter at INFO unless asked.
    logging.getLogger("discord").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return logging.getLogger("bot")


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"bot.{name}")
