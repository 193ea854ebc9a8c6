"""Server features: taste, the Compare taste menu, who knows, server charts and picks, blends."""

from __future__ import annotations

import asyncio
import re

from tests.cogs.support import BotWorld, custom_id, embed_text


async def test_taste_is_public_and_scored(linked: BotWorld) -> None:
    record = await linked.slash("alice", "taste", {"member": linked.user("bob")})
    message = await linked.answer(record)
    assert not record.ephemeral
    assert message["embeds"][0]["title"] == "Alice × Bob"
    assert "% match" in message["embeds"][0]["description"]


async def test_compare_taste_menu_does_what_taste_does(linked: BotWorld) -> None:
    record = await linked.discord.user_command(linked.user("bob"), linked.guild, linked.general, "Compare taste",
                                               linked.user("alice"))
    message = await linked.answer(record)
    assert message["embeds"][0]["title"] == "Bob × Alice"


async def test_taste_with_yourself_or_someone_without_data(linked: BotWorld) -> None:
    text = embed_text(await linked.answer(await linked.slash("alice", "taste", {"member": linked.user("alice")})))
    assert "That's you!" in text
    text = embed_text(await linked.answer(await linked.slash("alice", "taste", {"member": linked.user("carol")})))
    assert "no listening data on this server yet" in text
    assert "/link lastfm" in text and "/link listenbrainz" in text  # the quickest way in, for most members


async def test_whoknows_with_autocomplete(linked: BotWorld) -> None:
    record = await linked.discord.autocomplete(linked.user("alice"), linked.guild, linked.general, "whoknows",
                                               {"artist": ""}, focused="artist")
    choices = (await record.wait_response())["data"]["choices"]
    assert choices
    alice_top = linked.spotify.top_artists("alice", "medium_term")[0]
    name = linked.db.query("SELECT name FROM artists WHERE artist_id = ?", (alice_top,))[0]["name"]
    message = await linked.answer(await linked.slash("bob", "whoknows", {"artist": name}))
    embed = message["embeds"][0]
    assert embed["title"] == f"Who knows {name} in Test Server?"
    assert "Alice" in embed["description"]


async def test_server_top_and_server_recommend(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("carol", "server top", {"kind": "artists", "range": "all_time"}))
    assert message["embeds"][0]["title"] == "Top artists in Test Server · All time"
    assert "listener" in message["embeds"][0]["description"]
    picks = await linked.answer(await linked.slash("carol", "server recommend"))
    assert picks["embeds"][0]["title"] == "Picks for Test Server"
    assert "↳" in picks["embeds"][0]["description"]


async def test_server_top_by_prefix(linked: BotWorld) -> None:
    reply = await linked.prefix("bob", "server top tracks short")
    assert reply["embeds"][0]["title"] == "Top tracks in Test Server · Last 4 weeks"


async def test_blend_with_save_button_only_for_the_asker(linked: BotWorld) -> None:
    record = await linked.slash("alice", "blend", {"member1": linked.user("bob")})
    message = await linked.answer(record)
    assert message["embeds"][0]["title"] == "Blend" and "Alice, Bob" in message["embeds"][0]["description"]
    refused = await linked.discord.click(message, custom_id(message, "Save to my Spotify"), linked.user("bob"))
    assert "belong to the person" in (await refused.wait_original())["content"]
    save = await linked.discord.click(message, custom_id(message, "Save to my Spotify"), linked.user("alice"))
    assert "Playlist saved" in embed_text((await save.wait_followups(1, timeout=10))[0])


async def test_server_features_switched_off_by_an_admin(linked: BotWorld) -> None:
    assert "turned off" not in embed_text(await linked.answer(await linked.slash("bob", "server top")))
    await linked.prefix("alice", "settings community off")  # the prefix takes on/off whatever the slash option is
    text = embed_text(await linked.answer(await linked.slash("bob", "server top")))
    assert "Server features are turned off here" in text
    assert "A server admin can turn them on with `/settings community on`." in text
    # personal commands keep working
    assert "Bob's music" in embed_text(await linked.answer(await linked.slash("bob", "profile")))
    await linked.prefix("alice", "settings community on")
    assert "turned off" not in embed_text(await linked.answer(await linked.slash("bob", "server top")))


async def test_community_commands_refuse_direct_messages(linked: BotWorld) -> None:
    reply = await linked.discord.send_dm(linked.user("bob"), "!taste alice")
    answer = await linked.discord.wait_dm(linked.user("bob"), lambda m: int(m["id"]) > int(reply["id"]))
    assert "only works inside a server" in embed_text(answer)


def _numbered_lines(description: str) -> list[str]:
    return [line for line in description.splitlines() if re.match(r"`\s*\d+\.`", line)]


def _count(line: str, word: str) -> int:
    found = re.search(rf"(\d+) {word}s?\b", line)
    return int(found.group(1)) if found else 0


async def test_blend_saves_exactly_the_songs_it_shows_and_says_how_many(linked: BotWorld) -> None:
    await linked.link("carol")
    record = await linked.slash("alice", "blend", {"member1": linked.user("bob"), "member2": linked.user("carol")})
    message = await linked.answer(record)
    embed = message["embeds"][0]
    lines = _numbered_lines(embed["description"])
    footer = embed["footer"]["text"]
    total = int(re.match(r"(\d+) songs", footer).group(1))  # type: ignore[union-attr]
    assert lines and total >= len(lines)
    if total > len(lines):
        assert f"showing the first {len(lines)}" in footer
    assert "Everyone takes turns" in footer and "round-robin" not in footer
    save = await linked.discord.click(message, custom_id(message, "Save to my Spotify"), linked.user("alice"))
    saved = embed_text((await save.wait_followups(1, timeout=10))[0])
    assert f"with {total} songs" in saved
    assert "Blend: Alice, Bob, Carol" in saved and "Server blend" not in saved
    (playlist,) = linked.spotify.playlists.values()
    assert playlist.name.startswith("Blend: Alice, Bob, Carol")
    shown = ["spotify:track:" + found for found in re.findall(r"open\.spotify\.com/track/(\w+)", "\n".join(lines))]
    assert len(playlist.uris) == total and list(playlist.uris[:len(shown)]) == shown


async def test_a_double_press_on_blend_save_saves_once(linked: BotWorld) -> None:
    linked.spotify.set_delay(0.3)
    message = await linked.answer(await linked.slash("alice", "blend", {"member1": linked.user("bob")}))
    cid = custom_id(message, "Save to my Spotify")
    first, second = await asyncio.gather(linked.discord.click(message, cid, linked.user("alice")),
                                         linked.discord.click(message, cid, linked.user("alice")))
    answers = [embed_text((await first.wait_followups(1, timeout=20))[0]),
               embed_text(await second.wait_original(timeout=20))]
    linked.spotify.set_delay(0)
    assert "Playlist saved" in answers[0] and "already saving this to your Spotify" in answers[1]
    assert len(linked.spotify.playlists) == 1


async def test_server_top_order_follows_the_numbers_it_shows(linked: BotWorld) -> None:
    await linked.link("carol")
    for kind in ("artists", "tracks"):
        message = await linked.answer(await linked.slash("carol", "server top", {"kind": kind}))
        embed = message["embeds"][0]
        shown = [(_count(line, "listener"), _count(line, "play")) for line in _numbered_lines(embed["description"])]
        assert len(shown) > 3
        assert shown == sorted(shown, reverse=True), shown
        assert embed["footer"]["text"].endswith("Ranked by how many members listen, then by plays, then by places in "
                                                "their Spotify top lists. Members who hid their listening aren't counted.")
    # all time has no Spotify top list, so the footer doesn't mention one
    message = await linked.answer(await linked.slash("carol", "server top", {"kind": "artists", "range": "all_time"}))
    assert message["embeds"][0]["footer"]["text"].endswith(
        "Ranked by how many members listen, then by plays. Members who hid their listening aren't counted.")


async def test_taste_shows_the_score_once(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "taste", {"member": linked.user("bob")}))
    description = message["embeds"][0]["description"]
    score = re.match(r"\*\*(\d+)% match\*\*", description).group(1)  # type: ignore[union-attr]
    assert description.count(score) == 1 and "/100" not in description


async def test_taste_with_a_hidden_member_says_who_and_how_to_undo_it(linked: BotWorld) -> None:
    await linked.answer(await linked.slash("bob", "privacy visibility", {"setting": "hide"}))
    text = embed_text(await linked.answer(await linked.slash("alice", "taste", {"member": linked.user("bob")})))
    assert "Bob keeps their listening private" in text and "this server" not in text
    text = embed_text(await linked.answer(await linked.slash("bob", "blend", {"member1": linked.user("alice")})))
    assert "You've hidden your listening, so" in text
    assert "Run `/privacy visibility show` to share it again." in text and "this server" not in text


async def test_taste_without_data_points_to_import_file(linked: BotWorld) -> None:
    text = embed_text(await linked.answer(await linked.slash("alice", "taste", {"member": linked.user("carol")})))
    assert "/import file" in text


async def test_whoknows_refuses_an_artist_name_too_long_to_look_up(linked: BotWorld) -> None:
    [command] = [c for c in linked.discord.commands[linked.guild.id] if c["name"] == "whoknows"]
    [option] = command["options"]
    assert (option["min_length"], option["max_length"]) == (1, 100), "Discord stops a member typing more"
    record = await linked.slash("alice", "whoknows", {"artist": "x" * 300})
    text = embed_text(await linked.answer(record))
    assert "That artist name is too long: I can look up names of up to 100 characters." in text
    assert "error id" not in text
    reply = embed_text(await linked.prefix("bob", "whoknows " + "y" * 300))
    assert "That artist name is too long" in reply and "error id" not in reply
    reply = await linked.prefix("bob", "whoknows " + "z" * 100)
    assert reply["embeds"][0]["title"] == f"Who knows {'z' * 100} in Test Server?"
    assert linked.discord.rejected == []


async def test_whoknows_cuts_long_names_to_fit_the_title(linked: BotWorld) -> None:
    long_server = ("Late_Night_Jazz_and_Lo-Fi_Beats_Club " * 3)[:100]
    await asyncio.to_thread(linked.discord.rename_guild, linked.guild, long_server)
    await linked.wait_for(lambda: linked.bot.get_guild(linked.guild.id).name == long_server, "the new server name")
    artist = "DJ_" * 33 + "X"  # 100 characters; with its markdown escaped, 133
    message = await linked.answer(await linked.slash("alice", "whoknows", {"artist": artist}))
    title = message["embeds"][0]["title"]
    assert title.startswith("Who knows DJ\\_DJ\\_") and title.endswith("\u2026?") and len(title) <= 256
    assert " in Late\\_Night\\_Jazz" in title
    assert "Nobody here listens to DJ\\_" in message["embeds"][0]["description"]
    assert linked.discord.rejected == []
    top = await linked.answer(await linked.slash("bob", "server top"))
    assert top["embeds"][0]["title"].startswith("Top artists in Late\\_Night")


async def test_blend_refuses_more_than_four_others_instead_of_leaving_one_out(linked: BotWorld) -> None:
    for name in ("dave", "erin", "frank"):
        await asyncio.to_thread(linked.discord.add_member, linked.guild, linked.discord.add_user(name, name.title()))
    mentions = " ".join(f"<@{linked.user(n).id}>" for n in ("bob", "carol", "dave", "erin", "frank"))
    reply = await linked.prefix("alice", f"blend {mentions}")
    text = embed_text(reply)
    assert "A blend has room for you and up to four others. Pick up to four members" in text
    assert not any(e.get("title") == "Blend" for e in reply["embeds"])
    text = embed_text(await linked.prefix("alice", f"blend <@{linked.user('bob').id}> @nobody"))
    assert "I couldn't find that member in this server. Mention them, like @name." in text
    reply = await linked.prefix("alice", f"blend <@{linked.user('bob').id}>")
    assert reply["embeds"][0]["title"] == "Blend" and "Alice, Bob" in reply["embeds"][0]["description"]


async def test_affinity_ranks_members_by_the_score_taste_shows(linked: BotWorld) -> None:
    import re

    await linked.link("carol")
    text = embed_text(await linked.answer(await linked.slash("alice", "affinity")))
    assert "Who matches Alice best in Test Server" in text and "same score as /taste" in text
    scores = {name: int(score) for name, score in re.findall(r"\*\*(\w+)\*\* · (\d+)% match", text)}
    assert set(scores) == {"Bob", "Carol"} and "Alice" not in scores
    for name, score in scores.items():
        taste = embed_text(await linked.answer(await linked.slash("alice", "taste",
                                                                  {"member": linked.user(name.lower()).id})))
        assert f"{score}%" in taste, (name, score, taste[:200])
    await linked.answer(await linked.slash("carol", "privacy visibility", {"setting": "hide"}))
    text = embed_text(await linked.answer(await linked.slash("alice", "affinity")))
    assert "Carol" not in text and "Bob" in text
    text = embed_text(await linked.answer(await linked.slash("carol", "affinity")))
    assert "hidden your listening" in text


def test_affinity_with_nobody_in_common_says_what_helps() -> None:
    from cogs.ui.server_embeds import affinity_embed

    text = affinity_embed("Alice", "Test Server", [], {}).description or ""
    assert "Nobody else here" in text and "/link lastfm" in text and "/connect" in text
