"""Discord's limits on a message body, and the "Invalid Form Body" details it answers when a body breaks them."""

from __future__ import annotations

from typing import Any

# Discord's documented message limits (docs "Embed Limits"; RichEmbed* maxLength in discord-openapi/openapi.json).
CONTENT_MAX = 2000
EMBEDS_MAX = 10
FIELDS_MAX = 25
EMBED_TOTAL_MAX = 6000
_EMBED_TEXT_MAX = {("title",): 256, ("description",): 4096, ("footer", "text"): 2048, ("author", "name"): 256}
_FIELD_TEXT_MAX = {"name": 256, "value": 1024}


def _too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}


def _required() -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}


def _embed_errors(embed: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """What Discord would reject in one embed (its nested error shape), and the embed's counted characters."""
    errors: dict[str, Any] = {}
    total = 0
    for path, limit in _EMBED_TEXT_MAX.items():
        parent: Any = embed
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        text = parent.get(path[-1]) if isinstance(parent, dict) else None
        size = len(text or "")
        total += size
        if size > limit:
            where = errors
            for key in path[:-1]:
                where = where.setdefault(key, {})
            where[path[-1]] = _too_long(limit)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_MAX:
        errors["fields"] = _too_long(FIELDS_MAX)
    for index, field in enumerate(fields):
        for key, limit in _FIELD_TEXT_MAX.items():
            text = field.get(key)
            total += len(text or "")
            if not text or not str(text).strip():
                errors.setdefault("fields", {}).setdefault(str(index), {})[key] = _required()
            elif len(text) > limit:
                errors.setdefault("fields", {}).setdefault(str(index), {})[key] = _too_long(limit)
    return errors, total


def form_errors(payload: dict[str, Any]) -> dict[str, Any]:
    """Discord's "Invalid Form Body" details for a message body that breaks its limits; empty when it is fine."""
    errors: dict[str, Any] = {}
    if len(payload.get("content") or "") > CONTENT_MAX:
        errors["content"] = _too_long(CONTENT_MAX)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors["embeds"] = _too_long(EMBEDS_MAX)
        return errors
    grand_total = 0
    for index, embed in enumerate(embeds):
        found, total = _embed_errors(embed)
        grand_total += total
        if total > EMBED_TOTAL_MAX:
            found.setdefault("_errors", []).append(
                {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"})
        if found:
            errors.setdefault("embeds", {})[str(index)] = found
    if grand_total > EMBED_TOTAL_MAX and "embeds" not in errors:
        errors["embeds"] = {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED",
                                         "message": f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"}]}
    return errors
