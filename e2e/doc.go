// Package e2e drives a built glimpse binary with the OpenStack command-line
// clients a Glance operator already uses: python3-openstackclient
// (`openstack image …`) and python3-glanceclient (`glance …`).
//
// The tests run when GLIMPSE_BIN names the binary (scripts/test.sh builds
// it and sets it). They start `glimpse serve` on a free loopback port in a
// temporary data directory and stop it with SIGTERM, expecting exit code 0.
//
// With GLIMPSE_E2E_ENDPOINT set instead, the same CLI checks run against an
// already running Images API at that URL (for example a real Glance in its
// unauthenticated mode), which is how the expectations are confirmed to be
// Glance's; the checks that need glimpse's own data directory or process
// are skipped then. Every image a test creates is deleted afterwards.
//
// When a client is not installed the tests skip, loudly, unless
// GLIMPSE_REQUIRE_BACKENDS=1, in which case they fail.
package e2e
