"""The terminal's SQLite store: schema and migrations, the single writer, chain, outbox, purge.

Only this package talks to SQLite. See docs/registry.md for the schema, the event chain and the
outbox states.
"""
