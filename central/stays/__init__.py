"""The stored stays, between devices/ (which writes them) and police/ and feed/ (which read):

ownership.py  a stay is its first writer's; other devices' events for it are refused
state.py      a stay's events folded into its current state (stays, stay_guests)
"""
