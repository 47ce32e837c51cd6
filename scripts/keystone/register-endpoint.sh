#!/usr/bin/env bash
# Point the catalog's image service at URL, so that clients that look the
# service up in the catalog call glimpse.
#
# usage: register-endpoint.sh URL
#   URL  root URL of the service on loopback, without /v2, e.g.
#        http://127.0.0.1:9292; "-" only deletes the endpoints
#
# Makes sure one service of type image (name glance) exists, deletes its
# endpoints and creates public, internal and admin ones for URL in
# RegionOne. Run it again to repoint; tokens issued afterwards carry the new
# catalog.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 1 ] || {
	sed -n '2,12p' "$0" >&2
	exit 2
}
. "$HERE/lib.sh"
url="${1%/}"
case "$url" in
- | http://127.0.0.1:* | http://localhost:* | http://\[::1\]:*) ;;
*) die "URL must be a loopback http URL (got $url)" ;;
esac
case "$url" in */v2 | */v1) die "give the root URL, without /${url##*/}" ;; esac
admin_token

svc="$(ks_api GET "/services?type=image" | jq -r '.services[0].id // empty')"
if [ -z "$svc" ]; then
	svc="$(ks_api POST /services '{"service": {"type": "image", "name": "glance", "description": "image service under test", "enabled": true}}' |
		jq -er .service.id)"
	echo "created service glance (type image): $svc"
fi
for ep in $(ks_api GET "/endpoints?service_id=$svc" | jq -r '.endpoints[].id'); do
	ks_api DELETE "/endpoints/$ep" >/dev/null
	echo "deleted endpoint $ep"
done
[ "$url" != - ] || exit 0
for iface in public internal admin; do
	ep="$(ks_api POST /endpoints "$(jq -cn --arg s "$svc" --arg i "$iface" --arg u "$url" --arg r "$KEYSTONE_REGION" \
		'{endpoint: {service_id: $s, interface: $i, url: $u, region_id: $r, enabled: true}}')" | jq -er .endpoint.id)"
	echo "created $iface endpoint $ep: image $url ($KEYSTONE_REGION)"
done
