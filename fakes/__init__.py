"""Local stand-ins for Discord (REST and gateway), Spotify, Last.fm, ListenBrainz and an image host, speaking real
HTTP on 127.0.0.1 in the shapes of the real services, for the tests, the benchmarks and `main.py --demo`.

The bot's own code never imports them (only `main.py --demo` does); they may import anything in the project.
"""
