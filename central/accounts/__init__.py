"""Police users and the record of what they did:

principals.py      users, roles, passwords, sessions, tokens -> the Principal asking
admin.py           who manages whom (rank, district), each act audited
api_tokens.py      users' API tokens: lifetime, listing, revocation
login_throttle.py  failed password attempts counted per username and address
audit.py           the append-only, hash-chained audit log of every act
reasons.py         the rule a reason for looking at personal data must meet
"""
