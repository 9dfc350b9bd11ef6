#!/usr/bin/env bash
# npm test (and npm run test:unit|test:integration|test:e2e): prepares what the suites need, then
# the typecheck, then every uvu suite, each file in its own process so one crash cannot hide the
# others. A file counts as failed when any test fails, when it ran no test, or when a before hook
# threw (uvu 0.5 then reports "0 / N" and still exits 0). Ends with the line "N passed, N failed".
# Usage: bash test/run-all.sh [unit|integration|e2e ...]   (default: all three)
#
# Setup, idempotent and quick when everything is there: node modules (npm ci) when missing, then
# scripts/bootstrap.ts --for-tests --no-build: Docker Engine, Compose v2, a running Docker daemon
# with live-restore, the base image and the test tools (lib/host.ts TEST_TOOLS). On Debian/Ubuntu as
# root it installs what is missing; elsewhere it only checks and names what to install.
# DMS_TEST_SETUP=0 skips it.
set -u
cd "$(dirname "$0")/.."
export NO_COLOR=1 FORCE_COLOR=0
passed=0; failed=0; broken=()
levels=("$@"); [ ${#levels[@]} -eq 0 ] && levels=(unit integration e2e)


if [ ! -f node_modules/.package-lock.json ]; then
  echo "== node modules (npm ci)"
  # npm run sets NODE_OPTIONS=--import=tsx (.npmrc): node can't start with it before tsx is installed
  env -u NODE_OPTIONS npm ci --no-audit --no-fund || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi

if [ "${DMS_TEST_SETUP:-1}" != "0" ]; then
  echo "== setup (bootstrap --for-tests --no-build)"
  start=$(date +%s%N)
  if npx tsx scripts/bootstrap.ts --for-tests --no-build --yes --quiet; then
    echo "setup: ok ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
  else
    echo "!! setup failed: the suites that need the missing parts will fail too (dockerd log: /var/log/dockerd.log)"
    failed=$((failed + 1)); broken+=("setup")
  fi
fi

# The suites listen on ports up to 38999, and Linux hands out ports from 32768 up to outgoing
# connections (ip_local_port_range): a load test's or SSH's connection that happens to take, say,
# 35443 makes nginx's bind to it fail (seen once: the balancer of hosts-multi never listened).
# Reserving 33000-38999 keeps them out of the ephemeral pool; listening on them is unaffected.
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ] && ! grep -q '33000-38999' "$reserved"; then
  current=$(cat "$reserved")
  echo "${current:+$current,}33000-38999" > "$reserved" && echo "ports 33000-38999 reserved (net.ipv4.ip_local_reserved_ports)"
fi

echo "== lint (biome check: formatting and lint rules)"
if npx biome check .; then passed=$((passed + 1)); echo "lint: ok"; else failed=$((failed + 1)); broken+=("lint"); fi

echo "== typecheck (tsc --noEmit)"
if npx tsc -p tsconfig.json; then passed=$((passed + 1)); echo "typecheck: ok"; else failed=$((failed + 1)); broken+=("typecheck"); fi

# Unit and integration files run one after another. e2e files run DMS_TEST_JOBS lanes at a time
# (default 2: every e2e suite has its own compose prefix, subnet and port range). Files that share
# those (deploy-helpers.ts's dmst-deploy: deploy, deploy-faults, staging) say "test-lane: <name>" in
# their first lines and run one after another in that lane; "test-lane: alone" (restart: it restarts
# the Docker daemon) runs after every other lane, by itself.
export DMS_RESULTS
DMS_RESULTS=$(mktemp -d)
trap 'rm -rf "$DMS_RESULTS"' EXIT
jobs=${DMS_TEST_JOBS:-2}
for level in "${levels[@]}"; do
  files=$(find "test/$level" -name '*.test.ts' 2>/dev/null | sort)
  if [ "$level" = e2e ]; then
    lane_of() { head -12 "$1" | sed -n 's/.*test-lane: \([a-z0-9-]*\).*/\1/p' | head -1; }
    # one line per lane: the files of a named lane together (named lanes first: they are the longest)
    lanes=$(for f in $files; do l=$(lane_of "$f"); [ -n "$l" ] && [ "$l" != alone ] && echo "$l $f"; done |
      awk '{a[$1] = a[$1] " " $2} END {for (k in a) print a[k]}'
      for f in $files; do [ -z "$(lane_of "$f")" ] && echo "$f"; done)
    printf '%s\n' "$lanes" | xargs -r -P "$jobs" -L 1 bash test/run-lane.sh
    for f in $files; do [ "$(lane_of "$f")" = alone ] && bash test/run-one.sh "$f"; done
  else
    for f in $files; do bash test/run-one.sh "$f"; done
  fi
done
for res in "$DMS_RESULTS"/*.res; do
  [ -e "$res" ] || continue
  read -r p f b < "$res"
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$b" = 1 ]; then id=$(basename "$res" .res); broken+=("${id//__//}"); fi
done

[ ${#broken[@]} -gt 0 ] && echo "Failing: ${broken[*]}"
echo "$passed passed, $failed failed"
[ -n "${DMS_TEST_SUMMARY:-}" ] && echo "$passed passed, $failed failed" >> "$DMS_TEST_SUMMARY"
[ "$failed" -eq 0 ]
