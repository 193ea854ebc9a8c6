"""The real discord.py bot, end to end over sockets, against the fake Discord."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from discord_endpoints import DEFAULT_API_URL, configure_discord_endpoints
from fakes.discord_messages import EPHEMERAL
from fakes.discord_server import FakeDiscord

# ---- a throwaway bot, just enough to exercise every path the fake serves ----------------------------


class Picker(discord.ui.View):
    """A button and a select, as the music cogs use them."""

    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Like", custom_id="like", style=discord.ButtonStyle.success)
    async def like(self, interaction: discord.Interaction, button: discord.ui.Button[Picker]) -> None:
        await interaction.response.edit_message(content=f"Liked by {interaction.user.display_name}", view=self)

    @discord.ui.select(
        custom_id="genre",
        options=[discord.SelectOption(label="Rock", value="rock"), discord.SelectOption(label="Jazz", value="jazz")],
    )
    async def genre(self, interaction: discord.Interaction, select: discord.ui.Select[Picker]) -> None:
        await interaction.response.send_message(f"You picked {', '.join(select.values)}", ephemeral=True)


class Music(commands.Cog):
    def __init__(self, bot: ThrowawayBot) -> None:
        self.bot = bot

    @commands.hybrid_command(description="Say pong")
    async def ping(self, ctx: commands.Context[ThrowawayBot]) -> None:
        await ctx.send("pong")

    @commands.hybrid_command(description="Think, then answer")
    async def slow(self, ctx: commands.Context[ThrowawayBot]) -> None:
        await ctx.defer()
        await asyncio.sleep(0.05)
        await ctx.send("Here are your picks", embed=discord.Embed(title="Top tracks", description="1. Song"))

    @app_commands.command(description="Pick something")
    async def pick(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Pick a genre", view=Picker())

    @app_commands.command(description="Import a listening history file")
    async def upload(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = json.loads(await file.read())
        export = io.BytesIO(json.dumps({"plays": len(data)}).encode())
        await interaction.response.send_message(
            f"Read {len(data)} plays from {file.filename}", file=discord.File(export, "export.json"), ephemeral=True
        )

    @app_commands.command(description="Send me a DM")
    async def dm(self, interaction: discord.Interaction) -> None:
        await interaction.user.send("Hello in your DMs")
        await interaction.response.send_message("Check your DMs", ephemeral=True)

    @app_commands.command(description="Admins only")
    @app_commands.default_permissions(manage_guild=True)
    async def admin(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    @app_commands.command(description="Find a genre")
    async def find(self, interaction: discord.Interaction, genre: str, count: int = 1) -> None:
        await interaction.response.send_message(f"{count} x {genre}")

    @find.autocomplete("genre")
    async def find_genre(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = ["rock", "rap", "jazz"]
        return [app_commands.Choice(name=n.title(), value=n) for n in names if n.startswith(current)]

    @app_commands.command(description="Show a card titled as asked")
    async def card(self, interaction: discord.Interaction, title: str, deferred: bool = False) -> None:
        """Like a real cog answering with an embed: if Discord refuses it, say so instead."""
        embed = discord.Embed(title=title, description="A card")
        try:
            if deferred:
                await interaction.response.defer()
                await interaction.followup.send(embed=embed)
            else:
                await interaction.response.send_message(embed=embed)
        except discord.HTTPException as exc:
            self.bot.refusals.append(exc)
            text = "Discord refused that card."
            if interaction.response.is_done():
                await interaction.followup.send(text)
            else:
                await interaction.response.send_message(text)

    server = app_commands.Group(name="server", description="Server stats")

    @server.command(name="top", description="Top listeners")
    async def server_top(self, interaction: discord.Interaction, who: discord.Member) -> None:
        await interaction.response.send_message(f"Top: {who.display_name}")

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.bot.joined.append(member.id)

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        self.bot.left.append(member.id)


class ThrowawayBot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.members = True
        # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before "ready".
        super().__init__(command_prefix="!", intents=intents, help_command=None, guild_ready_timeout=0.05)
        self.guild_id = guild_id
        self.joined: list[int] = []
        self.left: list[int] = []
        self.refusals: list[discord.HTTPException] = []

    async def setup_hook(self) -> None:
        await self.add_cog(Music(self))

        @self.tree.context_menu(name="Profile")
        async def profile(interaction: discord.Interaction, member: discord.Member) -> None:
            await interaction.response.send_message(f"Profile of {member.display_name}", ephemeral=True)

        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)


# ---- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[ThrowawayBot]:
    """The bot logged in, commands synced, gateway ready; closed cleanly afterwards."""
    await asyncio.to_thread(configure_discord_endpoints, fake.api_url)
    try:
        async with fake.running(ThrowawayBot(fake.guild.id)) as bot:
            yield bot
    finally:
        configure_discord_endpoints(DEFAULT_API_URL)


# ---- tests ------------------------------------------------------------------------------------------------


async def test_login_sync_and_guild_state(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    guild = bot.get_guild(fake.guild.id)
    assert guild is not None and {c.name for c in guild.text_channels} == {"general", "music"}
    assert {m.name for m in guild.members} >= {"alice", "bob", "carol"}
    assert guild.get_member(fake.user("alice").id).guild_permissions.administrator
    assert not guild.get_member(fake.user("bob").id).guild_permissions.administrator
    names = {c["name"] for c in await fake.wait_commands(fake.guild)}
    assert names == {"ping", "slow", "pick", "upload", "dm", "admin", "find", "card", "server", "Profile"}


async def test_slash_reply_arrives_promptly(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    general = fake.guild.channel("general")
    rec = await fake.slash(fake.user("bob"), fake.guild, general, "ping")
    response = await rec.wait_response()
    assert response["type"] == 4 and response["elapsed"] < 3 and not response["late"]
    assert rec.original["content"] == "pong" and not rec.ephemeral
    assert [m["content"] for m in fake.messages(general)] == ["pong"]


async def test_deferred_reply_then_follow_up_fills_the_thinking_message(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    rec = await fake.slash(fake.user("bob"), fake.guild, fake.guild.channel("music"), "slow")
    assert (await rec.wait_response())["type"] == 5
    [followup] = await rec.wait_followups(1)
    assert followup["content"] == "Here are your picks"
    assert followup["embeds"][0]["title"] == "Top tracks"
    assert (await rec.wait_original())["id"] == followup["id"]


async def test_button_click_edits_the_message(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    rec = await fake.slash(fake.user("bob"), fake.guild, fake.guild.channel("general"), "pick")
    message = await rec.wait_original()
    click = await fake.click(message, "like", fake.user("carol"))
    assert (await click.wait_response())["type"] == 7
    assert fake.message(message["id"])["content"] == "Liked by Carol"
    assert click.original["id"] == message["id"]


async def test_select_choice_answers_only_the_chooser(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    rec = await fake.slash(fake.user("bob"), fake.guild, fake.guild.channel("general"), "pick")
    message = await rec.wait_original()
    choice = await fake.select(message, "genre", ["jazz"], fake.user("alice"))
    reply = await choice.wait_original()
    assert reply["content"] == "You picked jazz" and reply["flags"] & EPHEMERAL
    assert "You picked jazz" not in [m["content"] for m in fake.messages(fake.guild.channel("general"))]


async def test_prefix_command_answers_in_channel(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    general = fake.guild.channel("general")
    await fake.send_message(fake.user("bob"), general, "!ping")
    answer = await fake.wait_message(general)
    assert answer["content"] == "pong"


async def test_dm_and_attachment_upload(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    bob = fake.user("bob")
    rec = await fake.slash(bob, fake.guild, fake.guild.channel("general"), "dm")
    await rec.wait_original()
    assert (await fake.wait_dm(bob))["content"] == "Hello in your DMs"

    history = fake.host_file("history.json", json.dumps([{"track": "a"}, {"track": "b"}]).encode(), "application/json")
    rec = await fake.slash(bob, fake.guild, fake.guild.channel("general"), "upload", {"file": history})
    reply = await rec.wait_original()
    assert reply["content"] == "Read 2 plays from history.json" and rec.ephemeral
    [sent] = rec.files()
    assert sent.filename == "export.json" and json.loads(sent.data) == {"plays": 2}
    assert reply["attachments"][0]["filename"] == "export.json"


async def test_autocomplete_group_and_context_menu(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    alice, carol, general = fake.user("alice"), fake.user("carol"), fake.guild.channel("general")
    rec = await fake.autocomplete(alice, fake.guild, general, "find", {"genre": "r"}, focused="genre")
    response = await rec.wait_response()
    assert response["type"] == 8 and [c["value"] for c in response["data"]["choices"]] == ["rock", "rap"]

    rec = await fake.slash(alice, fake.guild, general, "find", {"genre": "rock", "count": "3"})
    assert (await rec.wait_original())["content"] == "3 x rock"

    rec = await fake.slash(alice, fake.guild, general, "server top", {"who": carol})
    assert (await rec.wait_original())["content"] == "Top: Carol"

    rec = await fake.user_command(alice, fake.guild, general, "Profile", carol)
    assert (await rec.wait_original())["content"] == "Profile of Carol"


async def test_driver_refuses_what_discord_would_not_show(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    general = fake.guild.channel("general")
    with pytest.raises(PermissionError):
        await fake.slash(fake.user("bob"), fake.guild, general, "admin")
    rec = await fake.slash(fake.user("alice"), fake.guild, general, "admin")
    assert (await rec.wait_original())["content"] == "ok"
    with pytest.raises(ValueError, match="required"):
        await fake.slash(fake.user("bob"), fake.guild, general, "find", {})
    with pytest.raises(LookupError):
        await fake.slash(fake.user("bob"), fake.guild, general, "nope")


async def test_member_join_and_leave_reach_the_bot(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    dave = fake.add_user("dave", "Dave")
    await asyncio.to_thread(fake.add_member, fake.guild, dave)
    for _ in range(100):
        if bot.joined:
            break
        await asyncio.sleep(0.02)
    assert bot.joined == [dave.id] and bot.get_guild(fake.guild.id).get_member(dave.id) is not None
    await asyncio.to_thread(fake.remove_member, fake.guild, dave)
    for _ in range(100):
        if bot.left:
            break
        await asyncio.sleep(0.02)
    assert bot.left == [dave.id]


async def test_resume_after_dropped_connection(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    general = fake.guild.channel("general")
    assert await asyncio.to_thread(fake.drop_connection) == 1
    # Sent while the bot is away: the fake keeps it and replays it on RESUME.
    await fake.send_message(fake.user("bob"), general, "!ping")
    await fake.wait_resumed()
    assert (await fake.wait_message(general))["content"] == "pong"
    rec = await fake.slash(fake.user("bob"), fake.guild, general, "ping")
    assert (await rec.wait_original())["content"] == "pong"
    assert fake.gateway.identify_count == 1


async def test_unknown_route_is_answered_404_and_logged(
    fake: FakeDiscord, bot: ThrowawayBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fakes.discord")
    route = discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=fake.guild.id)
    with pytest.raises(discord.NotFound):
        await bot.http.request(route)
    assert ("GET", f"/api/v10/guilds/{fake.guild.id}/bans") in fake.unknown_routes
    assert "no route for GET" in caplog.text


async def test_late_answer_is_marked_and_refused(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    fake.response_deadline = 0.0
    rec = await fake.slash(fake.user("bob"), fake.guild, fake.guild.channel("general"), "ping")
    response = await rec.wait_response()
    assert response["late"] and rec.original is None


async def test_endpoints_fall_back_to_plain_gateway_without_token(fake: FakeDiscord) -> None:
    try:
        await asyncio.to_thread(configure_discord_endpoints, fake.api_url)
        assert fake.api_url == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    finally:
        configure_discord_endpoints(DEFAULT_API_URL)
    assert discord.http.Route.BASE == DEFAULT_API_URL
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


# ---- Discord's limits: what real Discord refuses, the fake refuses too ---------------------------------------


@pytest.mark.parametrize("embed, where", [
    (discord.Embed(title="t" * 257), "embeds.0.title"),
    (discord.Embed(description="d" * 4097), "embeds.0.description"),
    (discord.Embed(title="ok").add_field(name="n" * 257, value="v"), "embeds.0.fields.0.name"),
    (discord.Embed(title="ok").add_field(name="n", value="v" * 1025), "embeds.0.fields.0.value"),
    (discord.Embed(title="ok").set_footer(text="f" * 2049), "embeds.0.footer.text"),
    (discord.Embed(title="ok").set_author(name="a" * 257), "embeds.0.author.name"),
])
async def test_a_message_over_an_embed_limit_is_refused(
    fake: FakeDiscord, bot: ThrowawayBot, embed: discord.Embed, where: str
) -> None:
    channel = bot.get_channel(fake.guild.channel("general").id)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(embed=embed)
    assert refused.value.status == 400 and refused.value.code == 50035
    assert f"In {where}: Must be" in refused.value.text
    assert fake.messages(fake.guild.channel("general")) == [], "members see nothing"


async def test_embed_totals_and_counts_are_refused_and_edits_are_checked(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    channel = bot.get_channel(fake.guild.channel("general").id)
    big = discord.Embed(title="Big", description="d" * 4000)
    for n in range(3):
        big.add_field(name=f"Field {n}", value="v" * 1000)  # each part fits; together over 6000
    with pytest.raises(discord.HTTPException, match="Embed size exceeds maximum size of 6000"):
        await channel.send(embed=big)
    many = discord.Embed(title="Many")
    for n in range(26):
        many.add_field(name=f"F{n}", value="v")
    with pytest.raises(discord.HTTPException, match=r"In embeds\.0\.fields: Must be 25 or fewer"):
        await channel.send(embed=many)
    with pytest.raises(discord.HTTPException, match=r"In embeds\.0\.fields\.0\.value: This field is required"):
        await channel.send(embed=discord.Embed(title="Empty").add_field(name="Name", value=""))

    fits = discord.Embed(title="t" * 256, description="d" * 4096).set_footer(text="f" * 1000)
    message = await channel.send(embed=fits)  # right at the limits: accepted
    with pytest.raises(discord.HTTPException, match=r"In embeds\.0\.title"):
        await message.edit(embed=discord.Embed(title="t" * 300))
    assert [m["embeds"][0]["title"] for m in fake.messages(fake.guild.channel("general"))] == ["t" * 256]
    assert len(fake.rejected) == 4


async def test_an_interaction_answer_over_a_limit_is_refused(fake: FakeDiscord, bot: ThrowawayBot) -> None:
    general = fake.guild.channel("general")
    rec = await fake.slash(fake.user("bob"), fake.guild, general, "card", {"title": "x" * 300})
    assert (await rec.wait_original())["content"] == "Discord refused that card."
    assert "In data.embeds.0.title: Must be 256 or fewer in length." in bot.refusals[0].text
    rec = await fake.slash(fake.user("bob"), fake.guild, general, "card", {"title": "y" * 300, "deferred": True})
    [followup] = await rec.wait_followups(1)
    assert followup["content"] == "Discord refused that card." and not followup["embeds"]
    assert "In embeds.0.title: Must be 256 or fewer in length." in bot.refusals[1].text
    rec = await fake.slash(fake.user("bob"), fake.guild, general, "card", {"title": "Fine"})
    assert (await rec.wait_original())["embeds"][0]["title"] == "Fine"
    assert [path.split("/")[3] for _, path, _ in fake.rejected] == ["interactions", "webhooks"]
