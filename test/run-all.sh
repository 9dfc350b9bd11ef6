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

strip() { sed -u -e 's/\x1b\[[0-9;]*m//g'; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

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

echo "== lint (biome check: formatting and lint rules)"
if npx biome check .; then passed=$((passed + 1)); echo "lint: ok"; else failed=$((failed + 1)); broken+=("lint"); fi

echo "== typecheck (tsc --noEmit)"
if npx tsc -p tsconfig.json; then passed=$((passed + 1)); echo "typecheck: ok"; else failed=$((failed + 1)); broken+=("typecheck"); fi

for level in "${levels[@]}"; do
  # test files in test/<level> and its subfolders (test/unit mirrors lib/: health/, pipeline/, stores/)
  for file in $(find "test/$level" -name '*.test.ts' 2>/dev/null | sort); do
    name=${file#test/$level/}
    echo "== $level/$name"
    start=$(date +%s)
    # uvu walks the file's own folder and matches the pattern against the path inside it
    npx tsx node_modules/uvu/bin.js "$(dirname "$file")" "^$(basename "${file//./\\.}")$" 2>&1 | strip | tee "$log"
    rc=${PIPESTATUS[0]}
    out=$(cat "$log")
    total=$(printf '%s\n' "$out" | sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' | tail -1)
    ok=$(printf '%s\n' "$out" | sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' | tail -1)
    if [ -z "$total" ] || [ -z "$ok" ] || [ "$total" -eq 0 ]; then
      echo "!! $level/$name ran no test or crashed (exit $rc)"; failed=$((failed + 1)); broken+=("$level/$name")
    else
      passed=$((passed + ok)); failed=$((failed + total - ok))
      if [ "$ok" -ne "$total" ] || [ "$rc" -ne 0 ]; then
        broken+=("$level/$name")
        printf '%s\n' "$out" | grep -q ' FAIL ' || echo "!! $level/$name: $((total - ok)) of $total tests did not pass and none reported a failure: a before/after hook threw (uvu 0.5 does not print its error)"
        [ "$ok" -eq "$total" ] && failed=$((failed + 1))
      fi
    fi
    echo "   ($(( $(date +%s) - start ))s)"
  done
done

[ ${#broken[@]} -gt 0 ] && echo "Failing: ${broken[*]}"
echo "$passed passed, $failed failed"
[ -n "${DMS_TEST_SUMMARY:-}" ] && echo "$passed passed, $failed failed" >> "$DMS_TEST_SUMMARY"
[ "$failed" -eq 0 ]
