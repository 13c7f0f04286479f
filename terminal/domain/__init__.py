"""The registration domain: stays, guests, documents, events, capture checks and the fold.

Pure Python: no SQLite, no I/O beyond reading the packaged code tables.
"""
