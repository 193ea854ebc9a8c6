"""Drawing: the cover collage, drawn tiles for items without a picture, the taste match card, month bar charts.

Pure functions from plain values (and decoded Pillow images) to PNG bytes: no network, no database, no Discord.
They are blocking and CPU-bound: callers run them in a worker thread.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from utils.images.fonts import draw_text, fit

BACKGROUND = (24, 24, 27)
TEXT = (245, 245, 245)
MUTED = (170, 170, 178)
GREEN = (30, 215, 96)
MIN_SIZE, MAX_SIZE = 3, 10


@dataclass(frozen=True)
class Tile:
    """One square of a chart: what it shows and, when a cover could be had, the cover itself."""

    name: str
    subtitle: str | None = None  # the artist, for albums and tracks
    plays: int | None = None
    image: Image.Image | None = None


def tile_size(grid: int) -> int:
    """Pixels per square: big squares for small grids, and a 10x10 still under 1,200 pixels wide."""
    return max(120, min(300, 1000 // grid))


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1, compress_type=zlib.Z_RLE)  # fast, and smaller than level 1 alone
    return out.getvalue()


def name_colour(name: str) -> tuple[int, int, int]:
    """A calm colour that is always the same for the same name."""
    digest = hashlib.sha1(name.strip().lower().encode()).digest()
    red, green, blue = colorsys.hls_to_rgb(digest[0] / 255, 0.38 + digest[1] / 255 * 0.14, 0.45 + digest[2] / 255 * 0.3)
    return int(red * 255), int(green * 255), int(blue * 255)


def initials(name: str) -> str:
    """Up to two letters standing for `name`: "Daft Punk" -> "DP", "米津玄師" -> "米"."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = [w[0] for w in words[:2]]
    if not letters[0].isascii() and not letters[0].isalpha():
        return letters[0]
    if len(letters) == 1 or any(ord(c) > 0x2E80 for c in letters):  # one CJK sign says enough
        return letters[0].upper()
    return "".join(letters).upper()


@functools.lru_cache(maxsize=512)
def fallback_tile(name: str, size: int) -> Image.Image:
    """A drawn square for an item with no picture: a colour from its name, and its initials."""
    colour = name_colour(name)
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    darker = tuple(int(c * 0.75) for c in colour)
    draw.polygon([(0, size), (size, size), (size, size // 3)], fill=darker)
    text_size = max(12, size // 3)
    draw_text(draw, (size / 2, size / 2 + text_size / 3), initials(name), text_size, TEXT, anchor="ms")
    return image


def cover(image: Image.Image, size: int) -> Image.Image:
    """`image` cropped to a centred square and scaled to `size`."""
    if image.size == (size, size) and image.mode == "RGB":
        return image  # scaled already (the image service keeps covers at each square size)
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side)) if width != height else image
    if square.mode != "RGB":
        square = square.convert("RGB")
    return square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)


@functools.lru_cache(maxsize=16)
def _label_shade(size: int) -> Image.Image:
    """A dark gradient over a tile's lower part, so white names read on any cover."""
    height = size // 2
    shade = Image.new("L", (1, height))
    shade.putdata([int(200 * (y / height) ** 1.4) for y in range(height)])
    return shade.resize((size, height))


@functools.lru_cache(maxsize=1024)
def label_overlay(name: str, subtitle: str | None, plays: int | None, size: int) -> Image.Image:
    """The lower part of a square with its name and play count, as a see-through image (kept: names repeat)."""
    shade = _label_shade(size)
    overlay = Image.new("RGBA", (size, shade.height), (0, 0, 0, 0))
    overlay.putalpha(shade)
    big = max(11, size // 13)
    small = max(10, size // 16)
    pad = max(4, size // 25)
    second = " \u00b7 ".join(p for p in (subtitle, _plays(plays)) if p)
    bottom = shade.height - pad
    lines = [(fit(second, small, size - 2 * pad), small, MUTED)] if second else []
    lines.append((fit(name, big, size - 2 * pad), big, TEXT))
    for text, text_size, colour in lines:
        # each line drawn once as a mask, then pasted twice: a dark shadow, then the letters
        mask = Image.new("L", overlay.size, 0)
        draw_text(ImageDraw.Draw(mask), (pad, bottom), text, text_size, (255,))
        overlay.paste((0, 0, 0, 255), (1, 1), mask)
        overlay.paste((*colour, 255), (0, 0), mask)
        bottom -= text_size + pad // 2
    return overlay


def _label(image: Image.Image, tile: Tile, x: int, y: int, size: int) -> None:
    overlay = label_overlay(tile.name, tile.subtitle, tile.plays, size)
    image.paste(overlay, (x, y + size - overlay.height), overlay)


def _plays(plays: int | None) -> str | None:
    if plays is None:
        return None
    return f"{plays:,} play" + ("" if plays == 1 else "s")


def collage(tiles: Sequence[Tile], grid: int, *, labels: bool = True) -> bytes:
    """A `grid` x `grid` PNG of covers in reading order, named on each square unless `labels` is off."""
    if not MIN_SIZE <= grid <= MAX_SIZE:
        raise ValueError(f"grid must be {MIN_SIZE} to {MAX_SIZE}")
    size = tile_size(grid)
    image = Image.new("RGB", (size * grid, size * grid), BACKGROUND)
    for index, tile in enumerate(tiles[: grid * grid]):
        x, y = (index % grid) * size, (index // grid) * size
        picture = cover(tile.image, size) if tile.image is not None else fallback_tile(tile.name, size)
        image.paste(picture, (x, y))
        if labels:
            _label(image, tile, x, y, size)
    return png(image)


def _circle(picture: Image.Image | None, name: str, size: int) -> tuple[Image.Image, Image.Image]:
    face = cover(picture, size) if picture is not None else fallback_tile(name, size)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    return face, mask


def taste_card(names: tuple[str, str], avatars: tuple[Image.Image | None, Image.Image | None], score: int,
               shared: Sequence[str]) -> bytes:
    """Both members' avatars, the match score large between them, and the artists they share."""
    width, height, face = 900, 420, 170
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for side, (name, avatar) in enumerate(zip(names, avatars, strict=True)):
        centre = 150 if side == 0 else width - 150
        picture, mask = _circle(avatar, name, face)
        image.paste(picture, (centre - face // 2, 40), mask)
        draw_text(draw, (centre, 40 + face + 36), fit(name, 26, 260), 26, TEXT, anchor="ms")
    score = max(0, min(100, int(score)))
    draw_text(draw, (width / 2, 165), f"{score}%", 84, GREEN, anchor="ms")
    draw_text(draw, (width / 2, 205), "taste match", 22, MUTED, anchor="ms")
    bar_left, bar_right = 330, width - 330
    draw.rounded_rectangle((bar_left, 228, bar_right, 244), 8, fill=(60, 60, 66))
    if score:
        draw.rounded_rectangle((bar_left, 228, bar_left + (bar_right - bar_left) * score // 100, 244), 8, fill=GREEN)
    line = ", ".join(shared[:5]) if shared else "No artists in common yet"
    heading = "You both play" if shared else ""
    if heading:
        draw_text(draw, (width / 2, 330), heading, 22, MUTED, anchor="ms")
    draw_text(draw, (width / 2, 372), fit(line, 28, width - 80), 28, TEXT, anchor="ms")
    return png(image)


def month_bars(values: Sequence[tuple[str, int]], title: str) -> bytes:
    """A bar chart PNG: one bar per (label, count), e.g. plays per month of a year, with `title` on top."""
    width, height = 960, 480
    left, right, top, bottom = 60, 30, 80, 70
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw_text(draw, (left, 50), fit(title, 30, width - left - right), 30, TEXT)
    highest = max((count for _, count in values), default=0)
    if not values or highest <= 0:
        draw_text(draw, (width / 2, height / 2), "No plays yet", 26, MUTED, anchor="ms")
        return png(image)
    slot = (width - left - right) / len(values)
    bar = max(4.0, slot * 0.7)
    area = height - top - bottom
    draw.line((left, height - bottom, width - right, height - bottom), fill=(70, 70, 76), width=2)
    label_size = 18 if slot >= 50 else 13
    for index, (label, count) in enumerate(values):
        x = left + index * slot + (slot - bar) / 2
        bar_height = area * max(0, count) / highest
        if count > 0:
            draw.rectangle((x, height - bottom - bar_height, x + bar, height - bottom), fill=GREEN)
            draw_text(draw, (x + bar / 2, height - bottom - bar_height - 8), f"{count:,}", 16, TEXT, anchor="ms")
        draw_text(draw, (x + bar / 2, height - bottom + 28), fit(label, label_size, slot), label_size, MUTED,
                  anchor="ms")
    return png(image)
