"""Entry point: read the settings, start the web server in a thread, then run the bot.

`python main.py --demo` needs no credentials: it runs the real bot against the local fakes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Spotify recommendations bot for Discord.")
    parser.add_argument("--demo", action="store_true",
                        help="run a short scripted session against local fake Discord and Spotify (no credentials)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.demo:
        from fakes.demo import run_demo

        return run_demo()

    from config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return 2

    from app import run_app

    try:
        asyncio.run(run_app(settings))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
