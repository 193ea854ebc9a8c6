"""Messages the fake Discord holds: building them from what the bot sends, edits, and uploaded files."""

from __future__ import annotations

import copy
import io
import json
import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes.discord_world import FakeUser, World, iso_now, snowflake

EPHEMERAL = 1 << 6
LOADING = 1 << 7
_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass(frozen=True)
class SentFile:
    """A file the bot uploaded: what a member would download."""

    filename: str
    data: bytes
    content_type: str


@dataclass
class Upload:
    """A parsed request body: the JSON part and any files."""

    payload: dict[str, Any]
    files: list[SentFile]


async def read_body(request: web.Request) -> Upload:
    """Parse a JSON or multipart (payload_json + files[n]) request body."""
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        files: list[SentFile] = []
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""  # type: ignore[union-attr]
            raw = await part.read()  # type: ignore[union-attr]
            if name == "payload_json":
                payload = json.loads(raw)
            elif part.filename:  # type: ignore[union-attr]
                content_type = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                files.append(SentFile(part.filename, bytes(raw), content_type))  # type: ignore[union-attr]
        return Upload(payload, files)
    text = await request.text()
    return Upload(json.loads(text) if text.strip() else {}, [])


def _content_type(file: SentFile) -> str:
    """The file's type as Discord reports it: guessed from the name when the upload didn't say."""
    if file.content_type and file.content_type != "application/octet-stream":
        return file.content_type
    return mimetypes.guess_type(file.filename)[0] or "application/octet-stream"


def _picture_size(file: SentFile) -> dict[str, int]:
    """Discord gives an image attachment its width and height."""
    if not _content_type(file).startswith("image/"):
        return {}
    try:
        from PIL import Image

        with Image.open(io.BytesIO(file.data)) as picture:
            return {"width": picture.width, "height": picture.height}
    except Exception:  # not a picture Pillow reads: Discord leaves the size out too
        return {}


class MessageStore:
    """Every message, by id, plus the files attached to each."""

    def __init__(self, world: World, base_url: str = "") -> None:
        self.world = world
        self.base_url = base_url
        self.by_id: dict[int, dict[str, Any]] = {}
        self.channel_of: dict[int, int] = {}
        self.files: dict[int, list[SentFile]] = {}
        self.hosted: dict[str, tuple[SentFile, int]] = {}
        self.ephemeral: set[int] = set()

    def host(self, file: SentFile) -> dict[str, Any]:
        """Serve a file from the fake and return its attachment dict."""
        attachment_id = snowflake()
        key = f"{attachment_id}/{file.filename}"
        self.hosted[key] = (file, attachment_id)
        return {
            "id": str(attachment_id),
            "filename": file.filename,
            "size": len(file.data),
            "url": f"{self.base_url}/attachments/{key}",
            "proxy_url": f"{self.base_url}/attachments/{key}",
            "content_type": _content_type(file),
            **_picture_size(file),
        }

    def create(
        self,
        channel_id: int,
        author: FakeUser,
        upload: Upload,
        *,
        flags: int = 0,
        interaction: dict[str, Any] | None = None,
        message_type: int = 0,
    ) -> dict[str, Any]:
        """Build and store a message as Discord would return it."""
        payload = upload.payload
        message_id = snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "type": message_type,
            "channel_id": str(channel_id),
            "author": author.payload(),
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": (int(payload.get("flags") or 0) | flags),
        }
        if payload.get("message_reference"):
            message["message_reference"] = payload["message_reference"]
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if interaction is not None:
            message["webhook_id"] = str(self.world.application_id)
            message["application_id"] = str(self.world.application_id)
            message["interaction_metadata"] = interaction
        self._set_mentions(message)
        self.by_id[message_id] = message
        self.channel_of[message_id] = channel_id
        self.files[message_id] = []
        self._attach(message, upload)
        self._resolve_embeds(message)
        if message["flags"] & EPHEMERAL:
            self.ephemeral.add(message_id)
        channel = self.world.channels.get(channel_id)
        if channel is not None and not message["flags"] & EPHEMERAL:
            channel.last_message_id = message_id
        return message

    def edit(self, message_id: int, upload: Upload) -> dict[str, Any]:
        """Apply an edit (content, embeds, components, attachments) and mark the message edited."""
        message = self.by_id[message_id]
        payload = upload.payload
        for key in ("content", "embeds", "components"):
            if key in payload:
                message[key] = payload[key] if payload[key] is not None else ("" if key == "content" else [])
        if "flags" in payload and payload["flags"] is not None:
            kept = message["flags"] & (EPHEMERAL | LOADING)
            message["flags"] = kept | int(payload["flags"])
        message["flags"] &= ~LOADING
        self._attach(message, upload)
        self._resolve_embeds(message)
        message["edited_timestamp"] = iso_now()
        self._set_mentions(message)
        return message

    def replace(self, message_id: int, upload: Upload) -> dict[str, Any]:
        """Fill a deferred 'thinking' message with its real content (the first follow-up does this)."""
        message = self.by_id[message_id]
        message["content"] = upload.payload.get("content") or ""
        message["embeds"] = upload.payload.get("embeds") or []
        message["components"] = upload.payload.get("components") or []
        message["flags"] &= ~LOADING
        self._attach(message, upload)
        self._resolve_embeds(message)
        self._set_mentions(message)
        return message

    def get(self, message_id: int) -> dict[str, Any] | None:
        """A copy of a message's current state, or None once deleted."""
        message = self.by_id.get(message_id)
        return copy.deepcopy(message) if message is not None else None

    def delete(self, message_id: int) -> bool:
        self.channel_of.pop(message_id, None)
        self.files.pop(message_id, None)
        return self.by_id.pop(message_id, None) is not None

    def in_channel(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages everyone in the channel can see, oldest first."""
        return [
            copy.deepcopy(m)
            for mid, m in self.by_id.items()
            if self.channel_of.get(mid) == channel_id and mid not in self.ephemeral
        ]

    def _attach(self, message: dict[str, Any], upload: Upload) -> None:
        message_id = int(message["id"])
        wanted = upload.payload.get("attachments")
        if wanted is None and not upload.files:
            return
        old = {a["id"]: a for a in message["attachments"]}
        old_files = dict(zip([a["id"] for a in message["attachments"]], self.files[message_id], strict=False))
        kept: list[dict[str, Any]] = []
        kept_files: list[SentFile] = []
        for entry in wanted or []:
            if str(entry.get("id")) in old:
                kept.append(old[str(entry["id"])])
                kept_files.append(old_files[str(entry["id"])])
        described = {str(e.get("id")): e for e in wanted or [] if str(e.get("id")) not in old}
        for index, file in enumerate(upload.files):
            hosted = self.host(file)
            entry = described.get(str(index), {})  # new files are named by their index in the upload
            if entry.get("description"):
                hosted["description"] = entry["description"]  # alt text, as Discord keeps it
            kept.append(hosted)
            kept_files.append(file)
        message["attachments"] = kept
        self.files[message_id] = kept_files

    @staticmethod
    def _resolve_embeds(message: dict[str, Any]) -> None:
        """An embed picture named `attachment://file` points at that attachment, as Discord rewrites it."""
        by_name = {a["filename"]: a for a in message["attachments"]}
        for embed in message["embeds"]:
            for slot in ("image", "thumbnail"):
                url = (embed.get(slot) or {}).get("url") or ""
                attachment = by_name.get(url.removeprefix("attachment://")) if url.startswith("attachment://") else None
                if attachment is not None:
                    embed[slot] = {"url": attachment["url"], "proxy_url": attachment["proxy_url"],
                                   **{k: attachment[k] for k in ("width", "height") if k in attachment}}

    def _set_mentions(self, message: dict[str, Any]) -> None:
        ids = {int(x) for x in _MENTION.findall(message["content"])}
        message["mentions"] = [self.world.users[i].payload() for i in ids if i in self.world.users]
