# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source it
# Settings and helpers shared by start.sh and stop.sh in this directory.
# Sourced, not run.
#
# One throw-away database server per kind (postgresql, mariadb), listening
# on 127.0.0.1 only, its state in $GLIMPSE_DB_STATE/<kind>:
#   .glimpse-db-state  marks a state dir made by start.sh (only those are wiped)
#   port, pid          the port and the server's PID
#   env                the export lines start.sh prints
#   server.log         the server's log
#   data/ run/ tmp/    data directory, sockets and pid file, temporary files
#                      (owned by the postgres / mysql system user)
#   my.cnf             MariaDB only: the server's only option file

# ---- where ---------------------------------------------------------------------
DB_HOST=127.0.0.1
DB_STATE_ROOT=${GLIMPSE_DB_STATE:-/tmp/glimpse-db}
STATE_MARKER=.glimpse-db-state
# The database and the account every kind gets (test values only).
DB_NAME=glance
DB_USER=glance
DB_PASSWORD=glance-secret

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# parse_args FLAG HELP_END ARGS...: the command line of start.sh and stop.sh,
# "KIND [--FLAG]". Sets KIND_ARG and FLAG_SET (1 with --FLAG); -h prints
# the script's header comment (lines 2 to HELP_END); anything else calls
# the script's usage.
parse_args() {
	local flag=$1 help_end=$2 a
	shift 2
	FLAG_SET=0
	KIND_ARG=""
	for a in "$@"; do
		case "$a" in
		"--$flag") FLAG_SET=1 ;;
		-h | --help)
			sed -n "2,${help_end}p" "$0"
			exit 0
			;;
		-*) usage ;;
		*)
			[ -z "$KIND_ARG" ] || usage
			KIND_ARG=$a
			;;
		esac
	done
}

# set_kind KIND: KIND (postgresql|mariadb, or the aliases below), S (its
# state dir), SVC_USER (the system user the server runs as), PORT_VAR (the
# environment variable that overrides the port), DEFAULT_PORT.
set_kind() {
	case "${1:-}" in
	postgresql | postgres | pg)
		KIND=postgresql SVC_USER=postgres PORT_VAR=GLIMPSE_PG_PORT DEFAULT_PORT=15432
		;;
	mariadb | mysql)
		KIND=mariadb SVC_USER=mysql PORT_VAR=GLIMPSE_MYSQL_PORT DEFAULT_PORT=13306
		;;
	*) return 1 ;;
	esac
	check_state_path
	S="$DB_STATE_ROOT/$KIND"
}

# check_state_path: $GLIMPSE_DB_STATE must be an absolute path strictly
# below /tmp unless GLIMPSE_DB_STATE_ANYWHERE=1, because start.sh and
# stop.sh delete what is in it.
check_state_path() {
	case "$DB_STATE_ROOT" in
	/*) ;;
	*) die "GLIMPSE_DB_STATE must be an absolute path (got '$DB_STATE_ROOT')" ;;
	esac
	local real
	real="$(realpath -m -- "$DB_STATE_ROOT")"
	case "$real" in
	/tmp/?*) ;;
	*)
		if [ "${GLIMPSE_DB_STATE_ANYWHERE:-0}" != 1 ] || [ "$real" = / ]; then
			die "refusing state dir '$DB_STATE_ROOT': not below /tmp (set GLIMPSE_DB_STATE_ANYWHERE=1 to allow)"
		fi
		;;
	esac
	DB_STATE_ROOT="$real"
}

# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# is_ours PID: a postgres / mariadbd process working in $S/data (both
# servers chdir to their data directory), so a reused PID is never hit.
is_ours() {
	alive "$1" || return 1
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$S/data" ] || return 1
	case "$(readlink "/proc/$1/exe" 2>/dev/null)" in
	*/postgres | */mariadbd | */mysqld) return 0 ;;
	*) return 1 ;;
	esac
}

# running_pid: print the recorded server PID if that process is still ours.
running_pid() {
	local pid
	pid="$(head -n1 "$S/pid" 2>/dev/null || true)"
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	is_ours "$pid" && echo "$pid"
}

# listening PORT: something accepts TCP connections on $DB_HOST:PORT.
listening() {
	(exec 3<>"/dev/tcp/$DB_HOST/$1") 2>/dev/null
}

# stop_server PID: stop our server: PostgreSQL gets SIGINT ("fast
# shutdown": it disconnects clients, as `pg_ctl stop` does; its SIGTERM
# would wait for every client to leave), MariaDB SIGTERM (a clean
# shutdown). After GLIMPSE_DB_STOP_TIMEOUT seconds (30) the server's
# process group (start.sh makes the server a session leader) and its child
# processes get SIGKILL.
stop_server() {
	local pid=$1 sig=TERM k timeout=${GLIMPSE_DB_STOP_TIMEOUT:-30} deadline
	[ "$KIND" != postgresql ] || sig=INT
	kill "-$sig" "$pid" 2>/dev/null || true
	deadline=$(($(date +%s) + timeout))
	while is_ours "$pid"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "${0##*/}: $KIND (PID $pid) still running after ${timeout} s; SIGKILL" >&2
			# PostgreSQL's backends lead process groups of their own: they
			# are taken as the server's children.
			local kids
			kids="$(ps -o pid= --ppid "$pid" | tr -d ' ' | tr '\n' ' ')"
			if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
				kill -KILL -- "-$pid" 2>/dev/null || true
			else
				kill -KILL "$pid" 2>/dev/null || true
			fi
			for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
			sleep 0.5
			break
		fi
		sleep 0.1
	done
	! is_ours "$pid"
}

# wipe_state [all]: remove what start.sh made in $S: all of it, or all but
# server.log (and the marker, so that the next start.sh may wipe it).
wipe_state() {
	[ -d "$S" ] || return 0
	[ -e "$S/$STATE_MARKER" ] || die "$S was not made by start.sh; not removing it"
	if [ "${1:-}" = all ]; then
		rm -rf -- "$S"
	else
		rm -rf -- "$S/data" "$S/run" "$S/tmp" "$S/pid" "$S/port" "$S/env" "$S/my.cnf"
	fi
}
