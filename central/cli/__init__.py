"""`anju central ...` (the terminal's CLI loads central.cli.main:central by name):

main.py        the group: a table naming each command, loaded only when it runs (lazy.py)
context.py     what every command shares: options from the settings table, --db, the engine
server.py      serve, migrate
devices.py     site, token, devices, faults
accounts.py    user, audit, site district
feed.py        the feed group and its reference consumer (pull: no SQLAlchemy)
feed_tokens.py feed tokens
retention.py   purge (the retention)
updates.py     rollout (set, status, list, cancel) and repo publish (docs/updates.md)
"""
