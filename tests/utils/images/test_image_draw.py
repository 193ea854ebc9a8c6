"""The pictures themselves: sizes, squares that differ, names in every script drawn with real letters."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw

from utils.images import draw
from utils.images.draw import Tile, collage, fallback_tile, month_bars, taste_card
from utils.images.fonts import arabic_font, draw_text, latin_font, main_font, missing_glyphs, runs

NAMES = "米津玄師 ヨルシカ 아이유 周杰倫 Дельфин Σωκράτης Beyoncé Ñandú عمرو دياب"


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def square(image: Image.Image, grid: int, index: int) -> Image.Image:
    side = image.width // grid
    x, y = (index % grid) * side, (index // grid) * side
    return image.crop((x, y, x + side, y + side))


def test_every_script_our_members_use_has_real_letters() -> None:
    assert missing_glyphs(NAMES) == []
    # and the check can fail: letters no font of ours has (an emoji, Thai) are reported
    assert missing_glyphs("\U0001f600 \u0e01") == ["\U0001f600", "\u0e01"]


def test_a_japanese_name_draws_its_letters_not_the_missing_glyph_box() -> None:
    def drawn(text: str) -> Image.Image:
        image = Image.new("L", (400, 80), 0)
        draw_text(ImageDraw.Draw(image), (10, 60), text, 40, (255,))
        return image

    name = drawn("米津玄師")
    boxes = drawn("\uffff" * 4)  # what the font draws for a letter it lacks
    assert name.getbbox() is not None
    assert ImageChops.difference(name, boxes).getbbox() is not None
    # each letter differs from the next (four boxes would be four equal squares)
    cells = [name.crop((10 + 40 * i, 10, 50 + 40 * i, 70)).tobytes() for i in range(4)]
    assert len(set(cells)) == 4


def test_each_script_goes_to_a_font_that_has_it() -> None:
    assert [font for _, font in runs("Amr عمرو 米津 Ёж", 20)] == [latin_font(20), arabic_font(20), main_font(20),
                                                                 latin_font(20)]


@pytest.mark.parametrize("grid, side", [(3, 900), (5, 1000), (10, 1200)])
def test_collage_size_and_every_square_differs(grid: int, side: int) -> None:
    covers = [Image.new("RGB", (64, 64), (i * 2 % 256, 255 - i * 2 % 256, i * 7 % 256)) for i in range(grid * grid)]
    tiles = [Tile(f"Album {i}", "Someone", i + 1, covers[i] if i % 2 else None) for i in range(grid * grid)]
    image = opened(collage(tiles, grid))
    assert image.size == (side, side)
    squares = {square(image, grid, i).tobytes() for i in range(grid * grid)}
    assert len(squares) == grid * grid


def test_labels_off_gives_the_clean_covers() -> None:
    cover = Image.new("RGB", (300, 300), (10, 120, 200))
    tiles = [Tile("米津玄師", "Artist", 12, cover)] * 9
    clean = opened(collage(tiles, 3, labels=False))
    labelled = opened(collage(tiles, 3, labels=True))
    assert square(clean, 3, 0).getcolors() == [(300 * 300, (10, 120, 200))]
    assert len(square(labelled, 3, 0).getcolors(100_000)) > 10  # words and a shade were drawn on it


def test_a_failed_cover_is_a_drawn_tile_with_the_name_colour_and_initials() -> None:
    image = opened(collage([Tile("Daft Punk", None, 3, None)] * 9, 3, labels=False))
    first = square(image, 3, 0)
    assert first.getpixel((5, 5)) == draw.name_colour("Daft Punk")
    assert first.tobytes() == fallback_tile("Daft Punk", 300).tobytes()
    assert fallback_tile("Daft Punk", 300).tobytes() != fallback_tile("Air", 300).tobytes()
    assert draw.initials("Daft Punk") == "DP" and draw.initials("米津玄師") == "米" and draw.initials("") == "?"


def test_fewer_items_than_squares_leaves_the_rest_dark() -> None:
    image = opened(collage([Tile("Only one")], 3))
    assert square(image, 3, 8).getcolors() == [(300 * 300, draw.BACKGROUND)]


def test_grid_outside_3_to_10_is_refused() -> None:
    with pytest.raises(ValueError):
        collage([], 2)
    with pytest.raises(ValueError):
        collage([], 11)


def test_taste_card_shows_the_score_and_both_faces() -> None:
    face = Image.new("RGB", (128, 128), (250, 0, 0))
    high = opened(taste_card(("Alice", "ボブ"), (face, None), 91, ["Daft Punk", "周杰倫"]))
    low = opened(taste_card(("Alice", "ボブ"), (face, None), 12, ["Daft Punk", "周杰倫"]))
    assert high.size == (900, 420)
    assert high.getpixel((150, 125)) == (250, 0, 0)  # the first avatar, in its circle
    assert ImageChops.difference(high, low).getbbox() is not None


def test_month_bars_draws_a_bar_per_month_taller_for_more_plays() -> None:
    months = [("Jan", 10), ("Feb", 0), ("Mar", 40)]
    image = opened(month_bars(months, "Your year"))
    assert image.size == (960, 480)
    column = [image.getpixel((60 + int(2.5 * 290), y)) for y in range(80, 410)]
    short = [image.getpixel((60 + int(0.5 * 290), y)) for y in range(80, 410)]
    assert column.count(draw.GREEN) > 3 * short.count(draw.GREEN) > 0
    assert opened(month_bars([], "Nothing")).size == (960, 480)
