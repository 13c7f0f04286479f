"""`anju central ...` (the terminal's CLI loads central.cli.main:central by name):

context.py   what every command shares: options from the settings table, --db, the engine
main.py      the group: serve, migrate, site, token, devices, faults; adds the others
accounts.py  user, audit, site district
feed.py      feed tokens and the reference consumer
retention.py purge (the retention)
updates.py   rollout (set, status, list, cancel) and repo publish (docs/updates.md)
"""
