"""Where listening comes from: the Spotify client and its sync, catalogue look-ups and song matching, the reader
and store of Spotify's and ListenBrainz's history exports, and the Last.fm and ListenBrainz clients, links and sync.

May import `database`, `storage` (keys, and the errors of `storage.sources`), `config` and the shared `utils`
modules (errors, models, events, logger); never `utils.music`, `utils.community`, a cog or `discord`.
"""
