"""Server features over stored listening: server top lists, who knows an artist, taste matches and /affinity,
blends, digests, crowns, and a year in music (recap).

May import `database`, `storage.keys`, `utils.engine` and the shared `utils` modules, and `utils.listening`
for reading listening as items and periods; never `utils.music.service`, a cog or `discord`.
"""
