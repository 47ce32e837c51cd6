#!/usr/bin/env bash
# Start a throw-away PostgreSQL or MariaDB server (Debian's postgresql /
# mariadb-server) on 127.0.0.1 for glimpse's database tests, with a
# database "glance" and a user glance / glance-secret that has every right
# on it (and may create more databases named glance_*, for tests that want
# a fresh one each).
#
# usage: start.sh postgresql|mariadb [--fresh]
#
# stdout: only "export" lines (also written to $GLIMPSE_DB_STATE/<kind>/env):
#   GLIMPSE_PG_URL=postgresql://glance:glance-secret@127.0.0.1:15432/glance
#   GLIMPSE_MYSQL_URL=mysql+pymysql://glance:glance-secret@127.0.0.1:13306/glance?charset=utf8
# (SQLAlchemy-style, as Glance's [database] connection takes them) and the
# port, state dir and server PID, so
#   eval "$(scripts/db/start.sh postgresql)"
# works; progress goes to stderr. No process left running holds either
# stream, so $(...) returns. A server this script started from the same
# state dir that is still alive is reused (--fresh stops it and starts over
# on an empty data directory).
#
# Runs as root: it installs missing packages with apt-get, and runs the
# server as the postgres / mysql system user (never as root), in its own
# data directory: the system's default instance, its config in /etc and
# systemd are not used or touched.
#
# Environment: GLIMPSE_PG_PORT (15432), GLIMPSE_MYSQL_PORT (13306) — "auto"
# or 0 takes the first free port from the default up; GLIMPSE_DB_STATE
# (/tmp/glimpse-db, must be below /tmp unless GLIMPSE_DB_STATE_ANYWHERE=1);
# GLIMPSE_DB_START_TIMEOUT (seconds, 60); GLIMPSE_DB_FAST=1 (no fsync: for
# speed, loses data on a machine crash); GLIMPSE_DB_NO_INSTALL=1 (never run
# apt-get).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() {
	echo "usage: $0 postgresql|mariadb [--fresh]" >&2
	exit 2
}
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"
parse_args fresh 31 "$@"
FRESH=$FLAG_SET
set_kind "$KIND_ARG" || usage
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and runs the server as the $SVC_USER user)"

T0=$(date +%s.%N)
log() { echo "start.sh $KIND [$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s] $*" >&2; }

PORT=${!PORT_VAR:-$DEFAULT_PORT}
AUTO_PORT=0
case "$PORT" in
0 | auto) AUTO_PORT=1 ;;
'' | *[!0-9]*) die "bad $PORT_VAR '$PORT'" ;;
*) if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then die "bad $PORT_VAR '$PORT'"; fi ;;
esac
TIMEOUT=${GLIMPSE_DB_START_TIMEOUT:-60}
case "$TIMEOUT" in '' | *[!0-9]*) die "bad GLIMPSE_DB_START_TIMEOUT '$TIMEOUT'" ;; esac

# ---- packages -------------------------------------------------------------------
case "$KIND" in
postgresql) PACKAGES="postgresql" ;;
mariadb) PACKAGES="mariadb-server mariadb-client" ;;
esac
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "${GLIMPSE_DB_NO_INSTALL:-0}" != 1 ] || die "missing packages:$missing (GLIMPSE_DB_NO_INSTALL=1)"
	log "installing:$missing"
	# The packages' maintainer scripts start the system's default instance
	# through invoke-rc.d unless a policy-rc.d says no. Where there is none
	# (this machine's image has one that denies everything), one that denies
	# everything is in place for the install and removed after.
	POLICY=/usr/sbin/policy-rc.d
	made_policy=0
	if [ ! -e "$POLICY" ]; then
		printf '#!/bin/sh\n# written by glimpse scripts/db/start.sh for one apt-get run\nexit 101\n' >"$POLICY"
		chmod 0755 "$POLICY"
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	rc=0
	apt-get update -qq >&2 || rc=$?
	# shellcheck disable=SC2086
	[ "$rc" != 0 ] || apt-get install -y -qq --no-install-recommends $missing >&2 || rc=$?
	[ "$made_policy" = 0 ] || rm -f "$POLICY"
	[ "$rc" = 0 ] || die "apt-get install$missing failed"
fi
case "$KIND" in
postgresql)
	PGBIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)"
	[ -n "$PGBIN" ] || die "no /usr/lib/postgresql/<version>/bin"
	NEED=("$PGBIN/initdb" "$PGBIN/postgres" "$PGBIN/psql")
	;;
mariadb)
	NEED=(/usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/bin/mariadb-admin)
	;;
esac
for f in "${NEED[@]}" /usr/bin/setpriv /usr/bin/setsid; do
	[ -x "$f" ] || die "$f missing"
done
id "$SVC_USER" >/dev/null 2>&1 || die "no system user $SVC_USER (the $PACKAGES package makes it)"

# as_svc CMD...: run CMD as $SVC_USER with a clean environment.
as_svc() {
	setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME="$S" "$@"
}

# admin_sql SQL: run SQL as the server's superuser, over its Unix socket.
admin_sql() {
	case "$KIND" in
	postgresql) "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$S/run" -p "$PORT" -U postgres -d postgres -c "$1" ;;
	mariadb) /usr/bin/mariadb --no-defaults -S "$S/run/mysqld.sock" -u root -e "$1" ;;
	esac
}

# glance_ok: the glance user logs in over TCP to 127.0.0.1:$PORT.
glance_ok() {
	case "$KIND" in
	postgresql)
		[ "$(PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -At -h "$DB_HOST" -p "$PORT" \
			-U "$DB_USER" -d "$DB_NAME" -c 'SELECT current_user' 2>/dev/null)" = "$DB_USER" ]
		;;
	mariadb)
		[ "$(/usr/bin/mariadb --no-defaults --protocol=tcp --connect-timeout=5 -h "$DB_HOST" -P "$PORT" \
			-u "$DB_USER" -p"$DB_PASSWORD" -N -B -e 'SELECT DATABASE()' "$DB_NAME" 2>/dev/null)" = "$DB_NAME" ]
		;;
	esac
}

# ---- reuse a live instance ----------------------------------------------------------
if pid="$(running_pid)"; then
	recorded="$(cat "$S/port" 2>/dev/null || true)"
	[ "$AUTO_PORT" = 0 ] || PORT=$recorded
	if [ "$FRESH" = 1 ]; then
		log "--fresh: stopping the running server (PID $pid)"
		stop_server "$pid" || die "could not stop PID $pid"
	elif [ "$recorded" != "$PORT" ]; then
		die "the $KIND in $S (PID $pid) listens on port $recorded, not $PORT; stop it (stop.sh $KIND) or set $PORT_VAR=$recorded"
	elif glance_ok && [ -s "$S/env" ]; then
		log "reusing the running server (PID $pid) on $DB_HOST:$PORT (--fresh starts over)"
		cat "$S/env"
		exit 0
	else
		die "PID $pid (ours) is running but the glance user cannot log in on $DB_HOST:$PORT; run stop.sh $KIND"
	fi
fi
if [ "$AUTO_PORT" = 1 ]; then
	PORT=""
	for p in $(seq "$DEFAULT_PORT" $((DEFAULT_PORT + 99))); do
		listening "$p" || {
			PORT=$p
			break
		}
	done
	[ -n "$PORT" ] || die "no free port in $DEFAULT_PORT..$((DEFAULT_PORT + 99))"
elif listening "$PORT"; then
	die "something else already listens on $DB_HOST:$PORT; set $PORT_VAR (a port, or auto)"
fi

# ---- fresh state dir ------------------------------------------------------------------
if [ -e "$S" ]; then
	[ -d "$S" ] || die "$S exists and is not a directory"
	if [ ! -e "$S/$STATE_MARKER" ] && [ -n "$(ls -A "$S")" ]; then
		die "$S is not empty and was not made by start.sh; refusing to wipe it"
	fi
	rm -rf -- "$S"
fi
# The server user must be able to reach $S through $GLIMPSE_DB_STATE.
install -d -m 0755 "$DB_STATE_ROOT"
setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups test -x "$DB_STATE_ROOT" ||
	die "the $SVC_USER user cannot enter $DB_STATE_ROOT (or a directory above it)"
install -d -m 0755 -o "$SVC_USER" -g "$SVC_USER" "$S"
install -d -m 0700 -o "$SVC_USER" -g "$SVC_USER" "$S/data" "$S/run" "$S/tmp"
touch "$S/$STATE_MARKER"
echo "$PORT" >"$S/port"
: >"$S/server.log"
chown "$SVC_USER:$SVC_USER" "$S/server.log"

# If anything below fails, the server it launched is stopped again.
LAUNCHED=""
DONE=0
cleanup() {
	[ "$DONE" = 0 ] && [ -n "$LAUNCHED" ] || return 0
	if is_ours "$LAUNCHED"; then
		stop_server "$LAUNCHED" >/dev/null 2>&1 || true
	elif alive "$LAUNCHED" && [ "$(ps -o pgid= -p "$LAUNCHED" | tr -d ' ')" = "$LAUNCHED" ]; then
		kill -KILL -- "-$LAUNCHED" 2>/dev/null || true
	fi
	rm -f "$S/pid"
}
trap cleanup EXIT

# fail MESSAGE: the log's tail, then die.
fail() {
	echo "---- last lines of $S/server.log ----" >&2
	tail -n 40 "$S/server.log" >&2 || true
	echo "----" >&2
	die "$*"
}

# ---- initialise and launch ---------------------------------------------------------------
FAST="${GLIMPSE_DB_FAST:-0}"
case "$KIND" in
postgresql)
	# C.UTF-8 and UTF8, as a Debian cluster gets on this machine; password
	# logins (SCRAM) over TCP, trust on the socket, which only root and
	# postgres can reach ($S/run is 0700).
	as_svc "$PGBIN/initdb" -D "$S/data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 --no-sync >"$S/init.log" 2>&1 || {
		tail -n 30 "$S/init.log" >&2
		die "initdb failed (log: $S/init.log)"
	}
	log "initdb done ($("$PGBIN/postgres" --version))"
	opts=(-D "$S/data" -p "$PORT" -c listen_addresses="$DB_HOST" -c unix_socket_directories="$S/run"
		-c max_connections=200 -c logging_collector=off)
	[ "$FAST" != 1 ] || opts+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
	# setsid: the server leads its own session and process group (stop.sh
	# may SIGKILL that group) and is detached from the caller's terminal.
	setsid setpriv --reuid=postgres --regid=postgres --init-groups \
		env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$S" "$PGBIN/postgres" "${opts[@]}" \
		>>"$S/server.log" 2>&1 </dev/null &
	LAUNCHED=$!
	PIDFILE="$S/data/postmaster.pid"
	;;
mariadb)
	# Debian's server settings that matter here (utf8mb4 server charset,
	# loopback), everything else MariaDB's defaults; no other option file is
	# read.
	cat >"$S/my.cnf" <<CNF
# A throw-away MariaDB for glimpse's tests, written by scripts/db/start.sh.
[mysqld]
datadir = $S/data
tmpdir = $S/tmp
socket = $S/run/mysqld.sock
pid-file = $S/run/mysqld.pid
port = $PORT
bind-address = $DB_HOST
skip-name-resolve
log-error = $S/server.log
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
max_connections = 200
$([ "$FAST" != 1 ] || printf 'innodb_flush_log_at_trx_commit = 0\ninnodb_doublewrite = 0\n')

[client]
socket = $S/run/mysqld.sock
port = $PORT
CNF
	chmod 0644 "$S/my.cnf"
	as_svc /usr/bin/mariadb-install-db --defaults-file="$S/my.cnf" --skip-test-db \
		--auth-root-authentication-method=socket >"$S/init.log" 2>&1 || {
		tail -n 30 "$S/init.log" >&2
		die "mariadb-install-db failed (log: $S/init.log)"
	}
	log "mariadb-install-db done ($(/usr/sbin/mariadbd --version))"
	setsid setpriv --reuid=mysql --regid=mysql --init-groups \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME="$S" \
		/usr/sbin/mariadbd --defaults-file="$S/my.cnf" \
		>>"$S/server.stdout" 2>&1 </dev/null &
	LAUNCHED=$!
	PIDFILE="$S/run/mysqld.pid"
	;;
esac
echo "$LAUNCHED" >"$S/pid"

# ---- wait until it accepts connections ----------------------------------------------------
deadline=$(($(date +%s) + TIMEOUT))
ready=0
while [ "$(date +%s)" -lt "$deadline" ]; do
	alive "$LAUNCHED" || fail "the $KIND server (PID $LAUNCHED) exited during start-up"
	if admin_sql 'SELECT 1' >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.2
done
[ "$ready" = 1 ] || fail "the $KIND server (PID $LAUNCHED) did not accept connections within $TIMEOUT s (GLIMPSE_DB_START_TIMEOUT)"
pid="$(head -n1 "$PIDFILE" 2>/dev/null || true)"
[ "$pid" = "$LAUNCHED" ] || fail "PID file $PIDFILE says '$pid', expected $LAUNCHED"
is_ours "$pid" || fail "PID $pid is not a $KIND server working in $S/data"
log "$KIND accepts connections on $DB_HOST:$PORT (PID $pid)"

# ---- the glance database and user ------------------------------------------------------------
case "$KIND" in
postgresql)
	admin_sql "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'" >&2
	admin_sql "CREATE DATABASE $DB_NAME OWNER $DB_USER ENCODING 'UTF8' TEMPLATE template0" >&2
	admin_sql "GRANT ALL PRIVILEGES ON DATABASE $DB_NAME TO $DB_USER" >&2
	URL="postgresql://$DB_USER:$DB_PASSWORD@$DB_HOST:$PORT/$DB_NAME"
	P=GLIMPSE_PG
	;;
mariadb)
	# As an operator does (Glance's install guide): CREATE DATABASE with the
	# server's default charset, the user for '%' and for 'localhost'.
	admin_sql "CREATE DATABASE \`$DB_NAME\`;
		CREATE USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
		CREATE USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
		GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'%';
		GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
		GRANT ALL PRIVILEGES ON \`${DB_NAME}\\_%\`.* TO '$DB_USER'@'%';
		GRANT ALL PRIVILEGES ON \`${DB_NAME}\\_%\`.* TO '$DB_USER'@'localhost';" >&2
	URL="mysql+pymysql://$DB_USER:$DB_PASSWORD@$DB_HOST:$PORT/$DB_NAME?charset=utf8"
	P=GLIMPSE_MYSQL
	;;
esac
glance_ok || fail "the $DB_USER user cannot log in to $DB_NAME on $DB_HOST:$PORT"
log "database $DB_NAME and user $DB_USER/$DB_PASSWORD ready"

# ---- env ----------------------------------------------------------------------------------
cat >"$S/env" <<ENV
export ${P}_URL='$URL'
export ${P}_PORT='$PORT'
export ${P}_STATE='$S'
export ${P}_PID='$pid'
ENV
DONE=1
log "ready: $URL (state $S; log server.log; stop with scripts/db/stop.sh $KIND)"
cat "$S/env"
