"""The server process as a server, around every route (central/app.py installs them):

body_limit.py       a request body read under a size limit
input_guard.py      paths and query strings that cannot be text: 400 before any route
load_shedding.py    503 beyond N requests in flight; a deadline on request bodies
health.py           GET /healthz
metrics.py          GET /metrics, the database-wide figures
process_metrics.py  GET /metrics, this process's own counters
openapi.py          /openapi.json, message schemas from sync's dataclasses
"""
