"""The services under the Discord layer, by feature: `sources/` (where listening comes from), `listening/` (reading
it), `music/` (one member), `community/` (a server), `images/` (pictures), `engine/` (behind `recommendations.py`).

Shared plumbing sits at this level: `errors`, `models`, `logger`, `cache`, `events`, `workers`, `privacy`.
Nothing under `utils/` imports `discord`, a cog, `bot` or `keep_alive`; each package says what else it may import.
"""
