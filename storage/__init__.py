"""Storage: the SQLite file's connections, schema (versioned migrations), name keys and queries.

`database.Database` is the front door that puts these pieces together. Modules here import only the
standard library and each other: never a service (`utils`), a cog or `discord`.
"""
