"""Fonts that draw names in any script, from the font packages requirements.txt installs (never downloaded).

Noto Sans draws Latin (with accents), Greek and Cyrillic; Noto Sans CJK Japanese, Korean and Chinese (and any
other letter it has); Noto Sans Arabic the Arabic script. Text is split into runs by font, each drawn in turn.
Noto Sans goes first where it can: a TrueType font draws about twice as fast as the CJK font's outlines.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont
# Arabic script blocks (letters, supplement, extended, presentation forms): drawn with the Arabic font.
_ARABIC = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_NOT_A_CHARACTER = "\uffff"  # no font maps it: it draws the font's missing-glyph box


class FontsMissing(RuntimeError):
    """The font packages are not installed (run `pip install -r requirements.txt`)."""


def _main_path() -> Path:
    try:
        import noto_cjk_sans_jp_regular
    except ImportError as error:  # pragma: no cover - an install step was skipped
        raise FontsMissing("noto-cjk-sans-jp-regular is not installed") from error
    return Path(str(noto_cjk_sans_jp_regular.FONT_PATH))


def _latin_path() -> Path:
    try:
        import fontpkg_noto_sans
    except ImportError as error:  # pragma: no cover
        raise FontsMissing("fontpkg-noto-sans is not installed") from error
    return next(iter(sorted((Path(fontpkg_noto_sans.ROOT) / "files").glob("NotoSans[[]*.ttf"))))


def _arabic_path() -> Path:
    try:
        import fontpkg_noto_sans_arabic
    except ImportError as error:  # pragma: no cover
        raise FontsMissing("fontpkg-noto-sans-arabic is not installed") from error
    return next(iter(sorted((Path(fontpkg_noto_sans_arabic.ROOT) / "files").glob("*.ttf"))))


@functools.lru_cache(maxsize=64)
def main_font(size: int) -> Font:
    return ImageFont.truetype(str(_main_path()), size)


@functools.lru_cache(maxsize=64)
def latin_font(size: int) -> Font:
    return ImageFont.truetype(str(_latin_path()), size)


@functools.lru_cache(maxsize=64)
def arabic_font(size: int) -> Font:
    return ImageFont.truetype(str(_arabic_path()), size)


def is_arabic(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _ARABIC)


def is_latin(char: str) -> bool:
    """Latin, Greek, Cyrillic (with their accents and combining marks) and common punctuation."""
    code = ord(char)
    return code < 0x0530 or 0x1E00 <= code <= 0x1FFF or 0x2000 <= code <= 0x206F


def font_for(char: str, size: int) -> Font:
    if is_latin(char):
        return latin_font(size)
    return arabic_font(size) if is_arabic(char) else main_font(size)


def runs(text: str, size: int) -> list[tuple[str, Font]]:
    """`text` cut into pieces that one font draws, in reading order of the pieces."""
    pieces: list[tuple[str, Font]] = []
    for char in text:
        font = font_for(char, size)
        if pieces and (pieces[-1][1] is font or char.isspace()):
            pieces[-1] = (pieces[-1][0] + char, pieces[-1][1])  # spaces stay in the current run
        else:
            pieces.append((char, font))
    return pieces


def text_width(text: str, size: int) -> float:
    return sum(font.getlength(piece) for piece, font in runs(text, size))


def fit(text: str, size: int, width: float) -> str:
    """`text`, cut short with an ellipsis when it is wider than `width` pixels."""
    if text_width(text, size) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + "\u2026", size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "\u2026" if low else ""


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int,
              fill: tuple[int, ...] = (255, 255, 255), *, shadow: bool = False, anchor: str = "ls") -> float:
    """Draw `text` (any script) with its baseline at `xy`; returns the width drawn. `anchor` 'ms' centres it."""
    x, y = xy
    if anchor.startswith("m"):
        x -= text_width(text, size) / 2
    for piece, font in runs(text, size):
        if shadow:
            draw.text((x + 1, y + 1), piece, font=font, fill=(0, 0, 0), anchor="ls")
        draw.text((x, y), piece, font=font, fill=fill, anchor="ls")
        x += font.getlength(piece)
    return x - xy[0]


def _mask(char: str, font: Font) -> bytes:
    image = Image.new("L", (font.size * 2, font.size * 2), 0)
    ImageDraw.Draw(image).text((font.size // 2, font.size // 2), char, font=font, fill=255)
    return image.tobytes()


def missing_glyphs(text: str, size: int = 24) -> list[str]:
    """The letters of `text` our fonts would draw as the missing-glyph box (none, for the scripts we cover)."""
    missing = []
    for char in dict.fromkeys(c for c in text if not c.isspace()):
        font = font_for(char, size)
        if _mask(char, font) == _mask(_NOT_A_CHARACTER, font):
            missing.append(char)
    return missing
