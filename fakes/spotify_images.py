"""Real small JPEG covers for the fake Spotify's catalogue, drawn from each image id (same id, same picture)."""

from __future__ import annotations

import functools
import hashlib
import io
import time
from collections.abc import Callable

from flask import Flask, Response

COVER_SIDE = 300
IMAGE_ID_LENGTH = 40


@functools.lru_cache(maxsize=1024)
def cover_jpeg(image_id: str, side: int = COVER_SIDE) -> bytes:
    """A cover: two colours and a shape picked by the id's hash, saved as a small JPEG."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha1(image_id.encode()).digest()
    back = (digest[0], digest[1], digest[2])
    front = (255 - digest[3] // 2, digest[4], 255 - digest[5] // 2)
    image = Image.new("RGB", (side, side), back)
    draw = ImageDraw.Draw(image)
    inset = side // 6 + digest[6] % (side // 6)
    box = (inset, inset, side - inset, side - inset)
    shape = digest[7] % 3
    if shape == 0:
        draw.ellipse(box, fill=front)
    elif shape == 1:
        draw.rectangle(box, fill=front)
    else:
        draw.polygon([(side // 2, inset), (side - inset, side - inset), (inset, side - inset)], fill=front)
    for line in range(digest[8] % 4):
        y = side // 8 + line * side // 5
        draw.line((0, y, side, y + side // 3), fill=(digest[9 + line],) * 3, width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def add_image_routes(app: Flask, delay: Callable[[], float]) -> None:
    """`GET /image/<id>`: the cover JPEG, like Spotify's image host (no token needed); `delay()` seconds first."""

    @app.get("/image/<image_id>")
    def image(image_id: str) -> Response:
        wait = delay()
        if wait:
            time.sleep(wait)
        if len(image_id) != IMAGE_ID_LENGTH or not all(c in "0123456789abcdef" for c in image_id):
            return Response("Not found", status=404, mimetype="text/plain")
        response = Response(cover_jpeg(image_id), mimetype="image/jpeg")
        response.headers["Cache-Control"] = "public, max-age=31536000"
        return response
