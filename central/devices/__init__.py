"""What terminals send, in the order it arrives (docs/protocol.md):

enrolment.py       sites, one-time tokens, enrolment (token -> device id + secret)
authentication.py  signed requests: headers first, then the body against its announced hash
ingest.py          a batch of events stored idempotently, one answer per event
storable.py        can this event be stored identically on SQLite and PostgreSQL?
chain_faults.py    sequence gaps and hash-chain breaks, recorded, never refused
event_time.py      device clock offsets and corrected event times
heartbeat.py       device health and nil reports
handover.py        replacing and retiring a terminal

Stored stays are central/stays/; this package imports nothing of police/, accounts/, web/ or
fleet (tests/test_central_layout.py).
"""
