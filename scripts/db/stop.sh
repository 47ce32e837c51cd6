#!/usr/bin/env bash
# Stop the PostgreSQL or MariaDB server that start.sh started from
# $GLIMPSE_DB_STATE/<kind> (default /tmp/glimpse-db/<kind>) and remove its
# data directory.
#
# usage: stop.sh postgresql|mariadb [--purge]
#
# Signals only the PID recorded in the state dir, and only while it is
# still a postgres / mariadbd process working in that data directory:
# PostgreSQL gets SIGINT (its "fast shutdown", which disconnects clients;
# its SIGTERM would wait for them to leave), MariaDB SIGTERM; after
# GLIMPSE_DB_STOP_TIMEOUT seconds (30) its process group and children get
# SIGKILL. Then the data directory, sockets and env file go; the logs stay
# for a post-mortem unless --purge, which removes the whole state dir.
# Exits 0 when nothing was running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() {
	echo "usage: $0 postgresql|mariadb [--purge]" >&2
	exit 2
}
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"
parse_args purge 15 "$@"
PURGE=$FLAG_SET
set_kind "$KIND_ARG" || usage

if pid="$(running_pid)"; then
	stop_server "$pid" || die "PID $pid is still running; not removing $S"
	echo "stop.sh: stopped $KIND (PID $pid)" >&2
else
	recorded="$(head -n1 "$S/pid" 2>/dev/null || true)"
	if [ -n "$recorded" ] && alive "$recorded" && ! is_ours "$recorded"; then
		echo "stop.sh: PID $recorded is no longer ours; leaving it alone" >&2
	fi
	echo "stop.sh: no $KIND running from $S" >&2
fi

if [ -d "$S" ]; then
	if [ "$PURGE" = 1 ]; then
		wipe_state all
		echo "stop.sh: removed $S" >&2
	elif [ -e "$S/data" ]; then
		wipe_state
		echo "stop.sh: removed the data directory $S/data (logs kept in $S)" >&2
	fi
fi
