"""What police officers do, each act checked, bounded and audited (web/ calls acts.py):

acts.py            the acts: role check, a bounded query, the audit row, then the answer
search.py          stays with their guests, filtered, paginated, district-limited
stay.py            one stay with every event and how it arrived
costay.py          who else was in the same room at the same time
record.py          everything a terminal registered for a stay, in words
export.py          a search's results as XLSX or CSV (exportrows.py: the rows; xlsx.py)
photos.py          guests' card photos: found in the events, decoded by the vendor's library
words.py           codes as Chinese names
audit_view.py      the audit log for people
freshness.py       how far behind a standby's data is
query_deadline.py  a time bound on every police query

The audit log itself is central/accounts/audit.py (account admin writes it too).
"""
