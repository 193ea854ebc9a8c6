"""/chart (yours, a member's, the server's) against the fakes: one PNG in the embed, with alt text and the list as text."""

from __future__ import annotations

import io

from PIL import Image

from tests.cogs.support import BotWorld, custom_id, embed_text
from utils.images.draw import name_colour


def picture(world: BotWorld, message: dict) -> Image.Image:
    files = world.discord.files(message)
    assert [f.filename for f in files] == ["chart.png"]
    assert files[0].content_type in ("image/png", "application/octet-stream")
    image = Image.open(io.BytesIO(files[0].data))
    assert image.format == "PNG"
    return image.convert("RGB")


def squares(image: Image.Image, grid: int) -> list[bytes]:
    side = image.width // grid
    return [image.crop((x * side, y * side, (x + 1) * side, (y + 1) * side)).tobytes()
            for y in range(grid) for x in range(grid)]


async def test_chart_is_a_picture_of_real_covers_with_alt_text_and_the_list(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "chart", {"size": "3x3", "kind": "albums",
                                                                           "range": "all_time"}), timeout=20)
    embed = message["embeds"][0]
    assert embed["title"] == "Your top albums · All time"
    attachment = message["attachments"][0]
    assert embed["image"]["url"] == attachment["url"]  # the picture shows in the embed, as Discord rewrites it
    assert (attachment["width"], attachment["height"]) == (900, 900) == (embed["image"]["width"], embed["image"]["height"])
    lines = embed["description"].splitlines()
    assert len(lines) == 9 and lines[0].startswith("` 1.`") and "play" in lines[0]
    image = picture(linked, message)
    assert image.size == (900, 900)
    assert len(set(squares(image, 3))) == 9
    assert attachment["description"].startswith("A 3 by 3 grid of album covers, in order: ")
    assert attachment["content_type"] == "image/png"
    # the covers came from the fake Spotify's image host, not drawn tiles: no square has its name's colour
    for line, number in zip(lines, range(9), strict=True):
        name = line.split("**")[1]
        x, y = number % 3 * 300, number // 3 * 300
        assert image.getpixel((x + 2, y + 2)) != name_colour(name), name


async def test_chart_sizes_kinds_labels_off_and_by_prefix(linked: BotWorld) -> None:
    clean = await linked.answer(await linked.slash("alice", "chart", {"size": "5x5", "kind": "artists",
                                                                         "labels": "off"}), timeout=20)
    assert picture(linked, clean).size == (1000, 1000)
    assert clean["embeds"][0]["title"] == "Your top artists · Last 6 months"
    reply = await linked.prefix("bob", "chart 4x4 tracks long", timeout=20)
    assert reply["embeds"][0]["title"] == "Your top tracks · Last year"
    assert picture(linked, reply).size == (1000, 1000)
    alice = linked.user("alice").id
    reply = await linked.prefix("bob", f"chart artists all time off <@{alice}>", timeout=20)
    assert reply["embeds"][0]["title"] == "Alice's top artists · All time"
    assert picture(linked, reply).size == (900, 900)


async def test_chart_of_another_member_and_of_the_server(linked: BotWorld) -> None:
    theirs = await linked.answer(await linked.slash("bob", "chart", {"member": linked.user("alice"),
                                                                        "kind": "tracks"}), timeout=20)
    assert theirs["embeds"][0]["title"] == "Alice's top tracks · Last 6 months"
    server = await linked.answer(await linked.slash("carol", "chart", {"server": True, "size": "3x3", "range": "all_time"}),
                                 timeout=20)
    assert server["embeds"][0]["title"] == "Top albums in Test Server · All time"
    assert picture(linked, server).size == (900, 900)
    typed = await linked.prefix("carol", "chart server 4x4 tracks all time", timeout=20)
    assert typed["embeds"][0]["title"] == "Top tracks in Test Server · All time"
    assert picture(linked, typed).size == (1000, 1000)
    assert "takes no member" in embed_text(await linked.prefix("carol", f"chart server <@{linked.user('alice')}>"))


async def test_bad_sizes_and_no_data_get_plain_words(linked: BotWorld) -> None:
    text = embed_text(await linked.prefix("alice", "chart 12x12"))
    assert "3x3 to 10x10" in text
    assert "A chart is square" in embed_text(await linked.prefix("alice", "chart 3x5 albums"))
    text = embed_text(await linked.answer(await linked.slash("carol", "chart", {"kind": "albums"})))
    assert "/connect" in text and not linked.discord.files(await linked.answer(
        await linked.slash("carol", "chart", {"kind": "artists"})))


async def test_taste_gets_a_match_card_with_a_drawn_face_for_avatars_off_the_list(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "taste", {"member": linked.user("bob")}), timeout=20)
    files = linked.discord.files(message)
    assert [f.filename for f in files] == ["taste.png"]
    card = Image.open(io.BytesIO(files[0].data)).convert("RGB")
    assert card.size == (900, 420)
    # Discord's avatar host is not in the test IMAGE_HOSTS, so each face is the member's drawn tile
    assert card.getpixel((150, 80)) == name_colour("Alice")
    assert message["embeds"][0]["image"]["url"].endswith("taste.png")
    score = message["embeds"][0]["description"].split("%")[0].strip("*")
    assert message["attachments"][0]["description"].startswith(f"Taste match card: Alice and Bob, {score}% match.")


async def test_server_top_and_the_weekly_digest_carry_a_chart(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("carol", "server top", {"kind": "artists", "range": "all_time"}),
                                  timeout=20)
    assert picture(linked, message).size == (900, 900)
    assert message["embeds"][0]["image"]["url"] == message["attachments"][0]["url"]
    turned = await linked.discord.click(message, custom_id(message, "Next"), linked.user("carol"))
    await turned.wait_response()
    page_two = linked.discord.message(message["id"])
    assert "Page 2" in page_two["embeds"][0]["footer"]["text"]
    assert page_two["embeds"][0]["image"]["url"] == message["attachments"][0]["url"]  # the picture stays
    music = linked.guild.channel("music")
    await linked.answer(await linked.slash("alice", "settings digest", {"channel": music.id}))
    await linked.bot._digest_tick()
    digest = await linked.discord.wait_message(music)
    assert picture(linked, digest).size == (900, 900)
    assert digest["attachments"][0]["description"].startswith("A 3 by 3 grid of artist pictures")
