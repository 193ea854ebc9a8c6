"""Where listening comes from: the Spotify client and its sync, catalogue look-ups, and the reader and store of
Spotify's downloadable history export (later Last.fm and ListenBrainz).

May import `database`, `storage.keys`, `config` and the shared `utils` modules (errors, models, events, logger);
never `utils.music`, `utils.community`, a cog or `discord`.
"""
