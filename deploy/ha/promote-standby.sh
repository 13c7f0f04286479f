#!/bin/sh
# Promote the PostgreSQL standby to primary once the primary is lost (docs/operations.md).
#
#   deploy/ha/promote-standby.sh 'host=db2 port=5432 user=postgres dbname=anju' [TIMEOUT_S]
#
# FENCE THE OLD PRIMARY FIRST (power it off, stop its postgres, or cut it off the network):
# the app servers' URL names both hosts with target_session_attrs=read-write, so an old primary
# that came back would take writes again beside the new one.
#
# Then: promotes (pg_promote, waiting up to TIMEOUT_S, default 60), and clears
# synchronous_standby_names on the new primary, which has no standby yet: otherwise every
# commit, hence every receipt, would wait for one. Until a new standby is attached (pg_basebackup
# from the new primary, docs/operations.md), a receipt means durable on one machine.
# The app servers find the new primary by themselves; nothing to restart.
# Exit status: 0 promoted, 1 not promoted (not a standby, unreachable, timed out).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 STANDBY_CONNINFO [TIMEOUT_S]" >&2; exit 2; }
conninfo=$1
timeout=${2:-60}
sql() { psql "$conninfo" -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

recovering=$(sql "SELECT pg_is_in_recovery()") || { echo "standby not reachable" >&2; exit 1; }
if [ "$recovering" != t ]; then
    echo "not a standby (already a primary?): nothing done" >&2
    exit 1
fi
promoted=$(sql "SELECT pg_promote(true, $timeout)")
if [ "$promoted" != t ]; then
    echo "promotion did not finish within $timeout s" >&2
    exit 1
fi
sql "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
echo "promoted: $(sql "SELECT 'primary since ' || now()::text")"
echo "no synchronous standby now: attach a new one (docs/operations.md)" >&2
