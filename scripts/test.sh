#!/usr/bin/env bash
# One-command test run: installs the Debian packages the tests need, then
# gofmt, go vet, go build, go test -race on the whole module, and the
# end-to-end tests that drive a built glimpse with the OpenStack clients.
#
# Runs on Debian 12 as root (or with sudo) with Go at /usr/local/go or on
# PATH. GLIMPSE_REQUIRE_BACKENDS=1 turns every skipped end-to-end check
# into a failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
	printf '\n==> %s\n' "$*"
}

die() {
	printf 'test.sh: %s\n' "$*" >&2
	exit 1
}

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found on PATH or in /usr/local/go/bin"

require_backends="${GLIMPSE_REQUIRE_BACKENDS:-0}"

# --- Debian packages -------------------------------------------------------
# gcc and libc6-dev: the race detector needs cgo. qemu-utils, genisoimage,
# fdisk: real disk images, ISOs and partition tables for the format
# inspector. python3-keystone, uwsgi-plugin-python3,
# curl, jq: a real Keystone on loopback for the authentication tests.
# python3-oslo.policy: the policy engine is checked against the real one.
# postgresql, mariadb-server, mariadb-client: throw-away database servers
# on loopback (scripts/db) for the PostgreSQL and MariaDB catalogs.
# glance-api (with glance-manage), python3-psycopg2, python3-pymysql: the
# real Glance 25.1 on those servers, for the drop-in tests.
packages=(python3-openstackclient python3-glanceclient sqlite3 gcc libc6-dev qemu-utils genisoimage fdisk python3-keystone uwsgi-plugin-python3 curl jq python3-oslo.policy
	postgresql mariadb-server mariadb-client glance-api python3-psycopg2 python3-pymysql)

step "Debian packages: ${packages[*]}"
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
install_failed=0
if [ "${#missing[@]}" -eq 0 ]; then
	echo "all installed"
else
	echo "missing: ${missing[*]}"
	sudo_cmd=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo_cmd=(sudo)
		else
			die "not root and sudo is not available: install ${missing[*]} (apt-get install ${missing[*]}) or run as root"
		fi
	fi
	# The maintainer scripts of postgresql, mariadb-server and glance-api
	# start the system's default instances through invoke-rc.d unless a
	# policy-rc.d says no; the tests run their own, so where there is none,
	# one that denies every start is in place for this install only.
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [ ! -e "$policy" ] &&
		printf '#!/bin/sh\n# written by glimpse scripts/test.sh for one apt-get run\nexit 101\n' |
		"${sudo_cmd[@]}" tee "$policy" >/dev/null &&
		"${sudo_cmd[@]}" chmod 0755 "$policy"; then
		made_policy=1
	fi
	if ! { "${sudo_cmd[@]}" apt-get update &&
		"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }; then
		install_failed=1
		echo "test.sh: apt-get could not install ${missing[*]}" >&2
	fi
	if [ "$made_policy" = 1 ]; then
		"${sudo_cmd[@]}" rm -f "$policy"
	fi
fi
if [ "$install_failed" -eq 1 ]; then
	# The Go toolchain steps below still need a C compiler for -race.
	command -v gcc >/dev/null 2>&1 || die "gcc is missing and could not be installed; go test -race needs it"
	if [ "$require_backends" = "1" ]; then
		die "GLIMPSE_REQUIRE_BACKENDS=1 and the packages could not be installed"
	fi
fi

# --- Go ----------------------------------------------------------------------
go version

step "gofmt -l"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"
	echo "$unformatted"
	exit 1
fi
echo "ok"

step "go vet ./..."
go vet ./...

step "go build ./..."
go build ./...

# Everything started below is stopped again on exit, whatever happens.
bindir="$(mktemp -d)"
keystone_started=0
db_state=""
db_started=()
db_sudo=()
cleanup() {
	rm -rf "$bindir"
	if [ "$keystone_started" = 1 ]; then scripts/keystone/stop.sh >/dev/null || true; fi
	local kind stopped=1
	for kind in "${db_started[@]}"; do
		"${db_sudo[@]}" env GLIMPSE_DB_STATE="$db_state" scripts/db/stop.sh "$kind" --purge || stopped=0
	done
	if [ -n "$db_state" ] && [ "$stopped" = 1 ]; then
		"${db_sudo[@]}" rm -rf -- "$db_state"
	fi
}
trap cleanup EXIT

step "Keystone on loopback (scripts/keystone/start.sh)"
if keystone_env="$(scripts/keystone/start.sh)"; then
	eval "$keystone_env"
	keystone_started=1
else
	if [ "$require_backends" = "1" ]; then
		die "Keystone could not be started and GLIMPSE_REQUIRE_BACKENDS=1"
	fi
	echo "############################################################"
	echo "# WARNING: Keystone did not start: the Keystone tests will"
	echo "# SKIP."
	echo "############################################################"
fi
step "PostgreSQL and MariaDB on loopback (scripts/db/start.sh)"
# A state directory of this run's own and the first free ports from 15432 /
# 13306 up, so that servers a developer keeps running (scripts/db's default
# state dir) are neither reused nor stopped. GLIMPSE_DB_FAST=1: no fsync,
# the data is thrown away. The export lines (GLIMPSE_PG_URL,
# GLIMPSE_MYSQL_URL, ...) reach every go test below.
db_ok=1
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		db_sudo=(sudo -n)
	else
		db_ok=0
		echo "test.sh: scripts/db/start.sh runs as root, and sudo is not available" >&2
	fi
fi
if [ "$db_ok" = 1 ] && ! db_state="$(mktemp -d /tmp/glimpse-test-db.XXXXXX)"; then
	db_state=""
	db_ok=0
fi
if [ "$db_ok" = 1 ]; then
	# The postgres and mysql users must be able to enter it.
	chmod 0755 "$db_state"
	for kind in postgresql mariadb; do
		t0="$(date +%s%N)"
		if db_env="$("${db_sudo[@]}" env GLIMPSE_DB_STATE="$db_state" GLIMPSE_DB_FAST=1 \
			GLIMPSE_PG_PORT=auto GLIMPSE_MYSQL_PORT=auto scripts/db/start.sh "$kind")"; then
			db_started+=("$kind")
			eval "$db_env"
			echo "$kind ready in $((($(date +%s%N) - t0) / 1000000)) ms"
		else
			db_ok=0
			echo "test.sh: $kind did not start" >&2
		fi
	done
fi
if [ "$db_ok" = 0 ]; then
	if [ "$require_backends" = "1" ]; then
		die "a database server could not be started and GLIMPSE_REQUIRE_BACKENDS=1"
	fi
	echo "############################################################"
	echo "# WARNING: PostgreSQL and/or MariaDB did not start: the"
	echo "# tests on those databases (catalog and drop-in) will SKIP."
	echo "############################################################"
fi

step "go test -race ./..."
# The end-to-end tests run in their own step below with the built binary.
env -u GLIMPSE_BIN -u GLIMPSE_E2E_ENDPOINT go test -race -timeout 20m ./...

step "the Images v2 API tests again, on PostgreSQL and on MariaDB"
# The same tests with each server as the catalog (a fresh database per
# test): every statement the API reaches runs in each dialect. Without
# -race: the run above covered the Go side.
for backend in postgresql mysql; do
	GLIMPSE_TEST_CATALOG="$backend" go test -count=1 -timeout 15m ./internal/api/v2/
done

step "fuzz the parsers of untrusted input (bounded: 20 s per target)"
for target in FuzzInspect FuzzInspectLayout FuzzDescriptor; do
	go test -run='^$' -fuzz="^${target}\$" -fuzztime=20s -fuzzminimizetime=5s ./internal/format
done

# --- End to end ----------------------------------------------------------
step "build glimpse for the end-to-end tests"
# Built with the race detector: a data race in the server under the
# clients' traffic makes it exit non-zero, which the tests check.
go build -race -o "$bindir/glimpse" ./cmd/glimpse
"$bindir/glimpse" version

step "end-to-end: openstack and glance clients against glimpse"
if ! command -v openstack >/dev/null 2>&1 || ! command -v glance >/dev/null 2>&1; then
	if [ "$require_backends" = "1" ]; then
		die "openstack or glance CLI missing and GLIMPSE_REQUIRE_BACKENDS=1"
	fi
	echo "############################################################"
	echo "# WARNING: openstack/glance CLI not installed: the"
	echo "# end-to-end tests will SKIP. Install python3-openstackclient"
	echo "# and python3-glanceclient to run them."
	echo "############################################################"
fi
GLIMPSE_BIN="$bindir/glimpse" go test ./e2e/ -count=1 -v -timeout 15m

step "all steps passed"
