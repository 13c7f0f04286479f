"""The change feed for police systems (docs/feed.md).

log.py      the write side: one record per stored event, in commit order (ingest's hook)
records.py  what a record holds: the event and its stay's state after it
tokens.py   feed tokens: issued by an administrator for a named system, district-limited,
            rate-limited, revocable; audited
pages.py    the read side: a page's positions, its audit row, then its records streamed
consumer.py the reference consumer (`anju central feed pull`)
"""
