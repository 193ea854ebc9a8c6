"""The Discord layer: one extension per feature (account, music, community, server_life, charts, sources, history,
privacy, admin, and errors, which turns every failure into plain words), with shared pieces in `_base.py` and `ui/`.

Cogs stay thin: commands, views and embeds; the work is one call to a service in `utils/`. May import `discord`,
`utils`, `database` and `config`; `bot` only for type hints.
"""
