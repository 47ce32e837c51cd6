#!/usr/bin/env bash
# Print a project-scoped token of a fixture user (the X-Subject-Token header
# of POST /v3/auth/tokens), one line.
#
# usage: token.sh USER [PROJECT]
#   USER     admin | glance | nova | alice | bob | carol (lib.sh lists them);
#            another user works with KEYSTONE_PASSWORD set
#   PROJECT  default: the user's project in the fixture
#
# e.g.  curl -H "X-Auth-Token: $(scripts/keystone/token.sh alice)" http://127.0.0.1:9292/v2/images
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 1 ] && [ $# -le 2 ] || {
	sed -n '2,10p' "$0" >&2
	exit 2
}
. "$HERE/lib.sh"
user=$1
password="${KEYSTONE_PASSWORD:-$(fixture_password "$user" || true)}"
[ -n "$password" ] || die "'$user' is not a fixture user; set KEYSTONE_PASSWORD"
project="${2:-$(fixture_project "$user" || true)}"
[ -n "$project" ] || die "no project for '$user'; give PROJECT"
issue_token "$user" "$password" "$project"
