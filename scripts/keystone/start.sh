#!/usr/bin/env bash
# Start a real OpenStack Keystone (Debian's python3-keystone under uwsgi,
# SQLite, fernet tokens) on 127.0.0.1:$KEYSTONE_PORT with the test fixture
# described in lib.sh, for the tests of glimpse's Keystone authentication.
#
# usage: start.sh [--fresh]
#
# stdout: only "export" lines (also written to $KEYSTONE_STATE/env), so
#   eval "$(scripts/keystone/start.sh)"
# works; progress goes to stderr. No process left running holds either
# stream, so $(...) returns. If the instance recorded in $KEYSTONE_STATE is
# alive it is reused (--fresh stops it and starts over). Variables for the
# OpenStack client (OS_*) are in $KEYSTONE_STATE/openrc, not on stdout.
#
# Environment: KEYSTONE_PORT (15000), KEYSTONE_STATE (/tmp/glimpse-keystone,
# must be below /tmp unless KEYSTONE_STATE_ANYWHERE=1),
# KEYSTONE_TOKEN_EXPIRATION (seconds, 14400), KEYSTONE_DEBUG=true,
# KEYSTONE_NO_INSTALL=1 (never run apt-get).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FRESH=0
for a in "$@"; do
	case "$a" in
	--fresh) FRESH=1 ;;
	-h | --help)
		sed -n '2,19p' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [--fresh]" >&2
		exit 2
		;;
	esac
done

# start.sh means 15000 unless KEYSTONE_PORT says otherwise (the other scripts
# default to the port recorded in the state dir).
KEYSTONE_PORT=${KEYSTONE_PORT:-15000}
. "$HERE/lib.sh"
check_state_path
case "$KEYSTONE_PORT" in '' | *[!0-9]*) die "bad KEYSTONE_PORT '$KEYSTONE_PORT'" ;; esac

T0=$(date +%s.%N)
log() { echo "start.sh [$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s] $*" >&2; }

# ---- packages -------------------------------------------------------------------
# python3-keystone is Keystone itself (keystone-manage, keystone-wsgi-public).
# The "keystone" package would add a system service on port 5000 that starts
# at install time, so it is not installed.
PACKAGES="python3-keystone uwsgi-plugin-python3 curl jq"
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "${KEYSTONE_NO_INSTALL:-0}" != 1 ] || die "missing packages:$missing (KEYSTONE_NO_INSTALL=1)"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO="sudo -n"
	log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >&2 || die "apt-get install$missing failed"
fi
for f in /usr/bin/keystone-manage /usr/bin/keystone-wsgi-public /usr/bin/uwsgi \
	/usr/lib/uwsgi/plugins/python3_plugin.so /usr/bin/python3; do
	[ -e "$f" ] || die "$f missing"
done

# ---- reuse a live instance ----------------------------------------------------------
PIDS_FILE="$KEYSTONE_STATE/pids"
running_master() {
	local pid
	pid="$(head -n1 "$PIDS_FILE" 2>/dev/null || true)"
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	is_ours "$pid" && echo "$pid"
}
if master="$(running_master)"; then
	if [ "$FRESH" = 1 ]; then
		log "--fresh: stopping the running instance (PID $master)"
		"$HERE/stop.sh" >&2
	elif [ "$(cat "$KEYSTONE_STATE/port" 2>/dev/null)" != "$KEYSTONE_PORT" ]; then
		die "the instance in $KEYSTONE_STATE (PID $master) listens on port $(cat "$KEYSTONE_STATE/port"), not $KEYSTONE_PORT; stop it or use another KEYSTONE_STATE"
	elif curl -sf --noproxy '*' --max-time 5 "$KEYSTONE_URL/v3" >/dev/null && [ -s "$KEYSTONE_STATE/env" ]; then
		log "reusing the running instance (PID $master) on $KEYSTONE_URL (--fresh starts over)"
		cat "$KEYSTONE_STATE/env"
		exit 0
	else
		die "PID $master (ours) is running but $KEYSTONE_URL/v3 does not answer; run stop.sh"
	fi
fi
if (exec 3<>"/dev/tcp/$KEYSTONE_HOST/$KEYSTONE_PORT") 2>/dev/null; then
	die "something else already listens on $KEYSTONE_HOST:$KEYSTONE_PORT; set KEYSTONE_PORT"
fi

# ---- fresh state dir ------------------------------------------------------------------
if [ -e "$KEYSTONE_STATE" ]; then
	[ -d "$KEYSTONE_STATE" ] || die "$KEYSTONE_STATE exists and is not a directory"
	if [ ! -e "$KEYSTONE_STATE/$STATE_MARKER" ] && [ -n "$(ls -A "$KEYSTONE_STATE")" ]; then
		die "$KEYSTONE_STATE is not empty and was not made by start.sh; refusing to wipe it"
	fi
	rm -rf -- "$KEYSTONE_STATE"
fi
umask 077 # Keystone warns about key repositories others can read
mkdir -p "$KEYSTONE_STATE"/{fernet-keys,credential-keys}
touch "$KEYSTONE_STATE/$STATE_MARKER"
echo "$KEYSTONE_PORT" >"$KEYSTONE_STATE/port"
S="$KEYSTONE_STATE"

cat >"$S/keystone.conf" <<CONF
# A throw-away Keystone for tests, written by start.sh.
[DEFAULT]
log_dir = $S
log_file = keystone.log
debug = ${KEYSTONE_DEBUG:-false}
use_stderr = false

[database]
# One uwsgi process only may use this file (see the uwsgi options below).
connection = sqlite:///$S/keystone.sqlite

[token]
provider = fernet
expiration = ${KEYSTONE_TOKEN_EXPIRATION:-14400}

[fernet_tokens]
key_repository = $S/fernet-keys/

[fernet_receipts]
key_repository = $S/fernet-keys/

[credential]
key_repository = $S/credential-keys/

[identity]
# bcrypt cost 4: about 1 ms per password check instead of about 250 ms.
password_hash_rounds = 4
# bcrypt reads 72 bytes at most; this silences a warning per hash.
max_password_length = 72

[cache]
# In-process cache, coherent because there is exactly one process.
enabled = true
backend = dogpile.cache.memory
CONF

# keystone-manage spends about 5 s importing Keystone each run, so the key
# setups run beside the database chain.
KM=(/usr/bin/keystone-manage --config-file "$S/keystone.conf")
(
	"${KM[@]}" db_sync
	# WAL: readers never block writers. Keystone leaves a read transaction
	# open after issuing a token; in the default rollback journal the next
	# writer then fails with "database is locked". The mode is stored in the
	# file. /usr/bin/python3 because another python3 may come first on PATH.
	/usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode=WAL"); c.close()' "$S/keystone.sqlite"
	# admin user, project admin, roles admin > member > reader (implied),
	# the admin role on the system scope, region and identity endpoints.
	"${KM[@]}" bootstrap \
		--bootstrap-username admin --bootstrap-password "$(fixture_password admin)" \
		--bootstrap-project-name admin --bootstrap-role-name admin \
		--bootstrap-service-name keystone --bootstrap-region-id "$KEYSTONE_REGION" \
		--bootstrap-admin-url "$KEYSTONE_URL/v3" --bootstrap-public-url "$KEYSTONE_URL/v3" \
		--bootstrap-internal-url "$KEYSTONE_URL/v3"
) >"$S/manage-db.log" 2>&1 &
db_job=$!
"${KM[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >"$S/manage-fernet.log" 2>&1 &
fernet_job=$!
"${KM[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >"$S/manage-credential.log" 2>&1 &
credential_job=$!
for job in db:$db_job fernet:$fernet_job credential:$credential_job; do
	wait "${job#*:}" || {
		tail -n 40 "$S/manage-${job%%:*}.log" >&2
		die "keystone-manage failed (log: $S/manage-${job%%:*}.log)"
	}
done
log "database, keys and bootstrap done"

# ---- uwsgi ------------------------------------------------------------------------------
# - one worker process: with several processes on one SQLite file a
#   read-then-write fails with "database is locked" when another process
#   committed in between, and the in-process cache would be incoherent;
# - one thread: oslo.db's SQLite connections must not cross threads;
# - --http-socket has no keep-alive, so "Connection: close" tells clients;
# - setsid and redirections detach it from the caller's session and pipes;
# - --chdir $S: stop.sh recognises our processes by their cwd.
cd "$S"
setsid /usr/bin/uwsgi --plugin python3 \
	--http-socket "$KEYSTONE_HOST:$KEYSTONE_PORT" \
	--wsgi-file /usr/bin/keystone-wsgi-public \
	--master --processes 1 --threads 1 \
	--enable-threads --lazy-apps --need-app --die-on-term --no-orphans \
	--buffer-size 65535 --listen 100 --chdir "$S" \
	--add-header "Connection: close" \
	--env "OS_KEYSTONE_CONFIG_FILES=$S/keystone.conf" \
	--procname-prefix-spaced "keystone:$KEYSTONE_PORT" \
	--pidfile "$S/uwsgi.pid" \
	--logto "$S/uwsgi.log" \
	>"$S/uwsgi.stdout" 2>&1 </dev/null &
launched=$!
echo "$launched" >"$PIDS_FILE" # until uwsgi writes its pid file

ok=""
for _ in $(seq 1 240); do # 60 s at most
	master="$(cat "$S/uwsgi.pid" 2>/dev/null || true)"
	[ -n "$master" ] || master=$launched
	if ! alive "$master"; then
		tail -n 30 "$S/uwsgi.log" "$S/keystone.log" >&2 2>/dev/null || true
		rm -f "$PIDS_FILE"
		die "uwsgi (PID $master) exited (logs: $S/uwsgi.log $S/keystone.log)"
	fi
	if curl -s --noproxy '*' --max-time 3 "$KEYSTONE_URL/v3" 2>/dev/null | grep -q '"version"'; then
		ok=1
		break
	fi
	sleep 0.25
done
[ -n "$ok" ] || die "$KEYSTONE_URL/v3 did not answer within 60 s (run stop.sh)"
{
	echo "$master"
	ps -o pid= --ppid "$master" | tr -d ' '
} >"$PIDS_FILE"
log "keystone answers on $KEYSTONE_URL/v3 (PIDs: $(tr '\n' ' ' <"$PIDS_FILE"))"

# ---- fixture ------------------------------------------------------------------------------
admin_token
ks_api POST /roles '{"role": {"name": "service"}}' >/dev/null
declare -A ROLE PROJ USERID
for r in admin member reader service; do
	ROLE[$r]="$(ks_api GET "/roles?name=$r" | jq -er '.roles[0].id')"
done
PROJ[admin]="$(ks_api GET '/projects?name=admin' | jq -er '.projects[0].id')"
for p in service alpha beta; do
	PROJ[$p]="$(ks_api POST /projects "$(jq -cn --arg n "$p" \
		'{project: {name: $n, domain_id: "default", description: "test fixture"}}')" | jq -er .project.id)"
done
USERID[admin]="$(ks_api GET '/users?name=admin' | jq -er '.users[0].id')"
for u in $FIXTURE_USERS; do
	[ "$u" != admin ] || continue
	USERID[$u]="$(ks_api POST /users "$(jq -cn --arg n "$u" --arg p "$(fixture_password "$u")" \
		--arg d "${PROJ[$(fixture_project "$u")]}" \
		'{user: {name: $n, password: $p, domain_id: "default", default_project_id: $d}}')" | jq -er .user.id)"
	for r in $(fixture_roles "$u"); do
		ks_api PUT "/projects/${PROJ[$(fixture_project "$u")]}/users/${USERID[$u]}/roles/${ROLE[$r]}" >/dev/null
	done
done

# admin also holds admin on domain Default, for domain-scoped tokens (the
# system-scope assignment comes from bootstrap).
ks_api PUT "/domains/default/users/${USERID[admin]}/roles/${ROLE[admin]}" >/dev/null

# fixture.json: names -> ids, passwords and home projects, for tests.
fx="$(jq -n --arg url "$KEYSTONE_URL" --arg region "$KEYSTONE_REGION" \
	'{url: $url, region: $region, domain: "default", projects: {}, roles: {}, users: {}}')"
for p in $FIXTURE_PROJECTS; do
	fx="$(jq --arg k "$p" --arg v "${PROJ[$p]}" '.projects[$k] = $v' <<<"$fx")"
done
for r in admin member reader service; do
	fx="$(jq --arg k "$r" --arg v "${ROLE[$r]}" '.roles[$k] = $v' <<<"$fx")"
done
for u in $FIXTURE_USERS; do
	fx="$(jq --arg k "$u" --arg id "${USERID[$u]}" --arg pw "$(fixture_password "$u")" \
		--arg pr "$(fixture_project "$u")" --arg roles "$(fixture_roles "$u")" \
		'.users[$k] = {id: $id, password: $pw, project: $pr, roles: ($roles | split(" "))}' <<<"$fx")"
done
printf '%s\n' "$fx" >"$S/fixture.json"
log "fixture created ($S/fixture.json)"

# ---- env ----------------------------------------------------------------------------------
cat >"$S/env" <<ENV
export KEYSTONE_STATE=$S
export KEYSTONE_PORT=$KEYSTONE_PORT
export KEYSTONE_URL=$KEYSTONE_URL
export GLIMPSE_KEYSTONE_URL=$KEYSTONE_URL
export GLIMPSE_KEYSTONE_FIXTURE=$S/fixture.json
ENV
cat >"$S/openrc" <<ENV
# The bootstrap admin, for the OpenStack client: . $S/openrc
export OS_AUTH_URL=$KEYSTONE_URL/v3
export OS_IDENTITY_API_VERSION=3
export OS_AUTH_TYPE=password
export OS_USERNAME=admin
export OS_PASSWORD=$(fixture_password admin)
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$KEYSTONE_REGION
export OS_INTERFACE=public
export no_proxy=127.0.0.1,localhost\${no_proxy:+,\$no_proxy}
unset OS_CLOUD OS_TOKEN OS_SERVICE_TOKEN OS_ENDPOINT OS_URL OS_PROJECT_ID OS_TENANT_NAME OS_TENANT_ID
ENV
log "ready: $KEYSTONE_URL/v3 (state $S; logs keystone.log, uwsgi.log)"
cat "$S/env"
