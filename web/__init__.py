"""Web pages served by keep_alive: shared HTML helpers (pages.py) and optional blueprints (upload.py)."""
