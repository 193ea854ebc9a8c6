"""Server features over stored listening: server top lists, who knows an artist, taste matches, blends, digests.

May import `database`, `storage.keys`, `utils.engine` and the shared `utils` modules, and `utils.listening.reads`
for reading listening as items; never `utils.music.service`, a cog or `discord`.
"""
