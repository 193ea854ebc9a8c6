"""The bot test world lives in fakes/world.py (the demo uses it too); re-exported here for the tests."""

from fakes.world import *  # noqa: F403
from fakes.world import CLIENT_ID, CLIENT_SECRET, BotWorld, bot_world, build_services  # noqa: F401
