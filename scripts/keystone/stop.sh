#!/usr/bin/env bash
# Stop the Keystone that start.sh started from $KEYSTONE_STATE
# (default /tmp/glimpse-keystone).
#
# usage: stop.sh [--purge]
#
# Signals only the PIDs recorded in $KEYSTONE_STATE/pids, and only those
# that are still uwsgi processes working in $KEYSTONE_STATE: SIGTERM to the
# master (it takes its worker along), then after KEYSTONE_STOP_TIMEOUT
# seconds (10) SIGKILL to whatever recorded PID is left. --purge then
# deletes the state dir. Exits 0 when nothing was running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PURGE=0
for a in "$@"; do
	case "$a" in
	--purge) PURGE=1 ;;
	*)
		echo "usage: $0 [--purge]" >&2
		exit 2
		;;
	esac
done
. "$HERE/lib.sh"
check_state_path
PIDS_FILE="$KEYSTONE_STATE/pids"
TIMEOUT=${KEYSTONE_STOP_TIMEOUT:-10}

ours=""
if [ -f "$PIDS_FILE" ]; then
	while read -r pid; do
		case "$pid" in '' | *[!0-9]*) continue ;; esac
		if is_ours "$pid"; then
			ours="$ours $pid"
		elif alive "$pid"; then
			echo "stop.sh: PID $pid is no longer ours; leaving it alone" >&2
		fi
	done <"$PIDS_FILE"
fi

if [ -z "$ours" ]; then
	echo "stop.sh: nothing running from $KEYSTONE_STATE"
else
	master="${ours# }"
	master="${master%% *}"
	kill -TERM "$master" 2>/dev/null || true
	deadline=$(($(date +%s) + TIMEOUT))
	while :; do
		left=""
		for p in $ours; do is_ours "$p" && left="$left $p"; done
		[ -n "$left" ] || break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "stop.sh: still running after ${TIMEOUT} s:$left; SIGKILL" >&2
			for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
			sleep 0.5
			break
		fi
		sleep 0.1
	done
	echo "stop.sh: stopped keystone (PIDs$ours)"
fi
rm -f "$PIDS_FILE" "$KEYSTONE_STATE/uwsgi.pid"

if [ "$PURGE" = 1 ] && [ -d "$KEYSTONE_STATE" ]; then
	[ -e "$KEYSTONE_STATE/$STATE_MARKER" ] || die "$KEYSTONE_STATE was not made by start.sh; not removing it"
	rm -rf -- "$KEYSTONE_STATE"
	echo "stop.sh: removed $KEYSTONE_STATE"
fi
