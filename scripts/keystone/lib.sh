# Settings, the fixture table and curl helpers shared by the scripts in
# this directory. Sourced, not run. Needs bash, curl and jq.
#
# Everything talks to 127.0.0.1 only; curl always runs with --noproxy '*'
# so that an http_proxy in the environment is never used.

# ---- where ------------------------------------------------------------------
KEYSTONE_HOST=127.0.0.1
KEYSTONE_STATE=${KEYSTONE_STATE:-/tmp/glimpse-keystone}
# The port: $KEYSTONE_PORT, else the one recorded by the instance in
# $KEYSTONE_STATE, else 15000.
KEYSTONE_PORT=${KEYSTONE_PORT:-$(cat "$KEYSTONE_STATE/port" 2>/dev/null || echo 15000)}
KEYSTONE_URL="http://$KEYSTONE_HOST:$KEYSTONE_PORT"
KEYSTONE_REGION=RegionOne
STATE_MARKER=.glimpse-keystone-state # marks a state dir made by start.sh

# ---- the fixture ----------------------------------------------------------------
# All in domain Default. Passwords are "<user>-secret" (test values only).
#   user    project   roles granted there     (roles in a token: implied ones added)
#   admin   admin     admin (bootstrap; also admin on the system scope and on domain Default)
#   glance  service   admin service            (the image service's own user)
#   nova    service   service                  (another service, for X-Service-Token)
#   alice   alpha     member reader
#   bob     alpha     reader
#   carol   beta      member
# bootstrap makes admin imply member and member imply reader.
FIXTURE_USERS="admin glance nova alice bob carol"
FIXTURE_PROJECTS="admin service alpha beta"
fixture_password() {
	case "$1" in
	admin | glance | nova | alice | bob | carol) echo "$1-secret" ;;
	*) return 1 ;;
	esac
}
fixture_project() {
	case "$1" in
	admin) echo admin ;;
	glance | nova) echo service ;;
	alice | bob) echo alpha ;;
	carol) echo beta ;;
	*) return 1 ;;
	esac
}
fixture_roles() {
	case "$1" in
	admin) echo admin ;;
	glance) echo admin service ;;
	nova) echo service ;;
	alice) echo member reader ;;
	bob) echo reader ;;
	carol) echo member ;;
	*) return 1 ;;
	esac
}

# ---- helpers ----------------------------------------------------------------------
die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# check_state_path: $KEYSTONE_STATE must be an absolute path strictly below
# /tmp unless KEYSTONE_STATE_ANYWHERE=1, because start.sh and stop.sh --purge
# delete it.
check_state_path() {
	case "$KEYSTONE_STATE" in
	/*) ;;
	*) die "KEYSTONE_STATE must be an absolute path (got '$KEYSTONE_STATE')" ;;
	esac
	local real
	real="$(realpath -m -- "$KEYSTONE_STATE")"
	case "$real" in
	/tmp/?*) ;;
	*)
		[ "${KEYSTONE_STATE_ANYWHERE:-0}" = 1 ] && [ "$real" != / ] ||
			die "refusing state dir '$KEYSTONE_STATE': not below /tmp (set KEYSTONE_STATE_ANYWHERE=1 to allow)"
		;;
	esac
	KEYSTONE_STATE="$real"
}

# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# is_ours PID: a uwsgi process whose working directory is our state dir
# (uwsgi runs with --chdir $KEYSTONE_STATE), so a reused PID is never hit.
is_ours() {
	alive "$1" || return 1
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$KEYSTONE_STATE" ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qi uwsgi
}

# issue_token USER PASSWORD PROJECT: print a project-scoped token, the
# X-Subject-Token header of POST /v3/auth/tokens.
issue_token() {
	local body resp code token
	body="$(jq -cn --arg u "$1" --arg p "$2" --arg proj "$3" '{auth: {
	    identity: {methods: ["password"],
	               password: {user: {name: $u, domain: {name: "Default"}, password: $p}}},
	    scope: {project: {name: $proj, domain: {name: "Default"}}}}}')"
	resp="$(curl -sS --noproxy '*' --max-time 30 -i -H 'Content-Type: application/json' \
		-d "$body" "$KEYSTONE_URL/v3/auth/tokens?nocatalog")" || {
		echo "issue_token: no answer from $KEYSTONE_URL" >&2
		return 1
	}
	resp="$(printf '%s' "$resp" | tr -d '\r')"
	code="$(printf '%s\n' "$resp" | head -n1 | awk '{print $2}')"
	token="$(printf '%s\n' "$resp" | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *//p')"
	if [ "$code" != 201 ] || [ -z "$token" ]; then
		echo "issue_token: $1 on project $3: HTTP $code: $(printf '%s\n' "$resp" | tail -n1)" >&2
		return 1
	fi
	printf '%s\n' "$token"
}

# ks_api METHOD PATH [JSON]: call $KEYSTONE_URL/v3PATH with the token in
# $KS_TOKEN; print the body; fail on HTTP >= 400.
ks_api() {
	local args=(-sS --noproxy '*' --max-time 30 --fail-with-body -X "$1" -H "X-Auth-Token: $KS_TOKEN")
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' -d "$3")
	curl "${args[@]}" "$KEYSTONE_URL/v3$2" || {
		echo "ks_api: $1 $2 failed" >&2
		return 1
	}
}

# admin_token: set KS_TOKEN to a token of the bootstrap admin.
admin_token() {
	KS_TOKEN="$(issue_token admin "$(fixture_password admin)" admin)" ||
		die "cannot get an admin token from $KEYSTONE_URL (is it running? scripts/keystone/start.sh)"
}
