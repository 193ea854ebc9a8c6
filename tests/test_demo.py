"""`python main.py --demo` as someone trying the bot reads it in the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakes.demo import _run
from main import main


async def test_demo_shows_commands_as_a_member_types_them(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    await _run(tmp_path)  # as `python main.py --demo --save-images DIR`
    printed = capsys.readouterr().out
    commands = [line for line in printed.splitlines() if line.startswith("> ")]
    assert "> bob runs /taste member:@Alice" in commands
    assert "> alice runs /blend member1:@Bob member2:@Carol" in commands
    assert "> alice runs /top tracks range:Last 4 weeks" in commands
    assert "> alice runs /recommend count:5" in commands
    # no option dicts and no Discord ids
    assert not [line for line in commands if "{" in line or re.search(r"\d{6,}", line)]
    # the bot got the members those mentions name
    assert "Bob × Alice" in printed and "A mix for Alice, Bob, Carol" in printed
    assert "no answer" not in printed
    assert "more lines in Discord)" in printed  # the 4x4 server chart's list is longer than the terminal shows
    # one member linked through Last.fm's page, one through ListenBrainz's form, each with their whole history
    assert "> carol ran /link lastfm" in printed and "(1,500 plays added)" in printed
    assert "> bob ran /link listenbrainz" in printed and "(400 plays added)" in printed
    # every picture the demo posted is in the folder, as PNG, and the session says where
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["04-chart-chart.png", "05-taste-taste.png", "06-server-top-chart.png",
                     "07-chart-chart.png", "13-recap-chart.png"]
    # server life: who matches you, the crown on /whoknows, the crowns board, a year in music
    assert "> bob runs /affinity" in commands and "Who matches Bob best in Test Server" in printed
    assert "> carol runs /crowns server:True" in commands and "Crowns in Test Server" in printed
    assert "> carol runs /recap" in commands and re.search(r"Your \d{4} in music", printed)
    for name in saved:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG") and f"saved as {tmp_path / name}" in printed


def test_save_images_goes_with_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--save-images", "pictures"]) == 2
    assert "--save-images goes with --demo" in capsys.readouterr().err
