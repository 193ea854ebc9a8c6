"""One member's music: their profile and top lists, recommendations with reasons, and saving playlists.

`service.MusicService` is what the Discord layer calls. May import `database`, `utils.sources`,
`utils.community`, `utils.recommendations`/`utils.engine` and the shared `utils` modules; never a cog or `discord`.
"""
