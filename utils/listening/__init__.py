"""Stored listening, read: items members see, weighted input for the engine, and the periods they ask about.

Shared by `utils.music` (one member) and `utils.community` (a server). May import `database`, `storage.keys`
and the shared `utils` modules only.
"""
