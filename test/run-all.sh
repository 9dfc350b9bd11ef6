#!/usr/bin/env bash
# npm test: the typecheck, then every uvu suite (unit, integration, e2e), each file in its own
# process so one crash cannot hide the others. Ends with the line "N passed, N failed".
# Usage: bash test/run-all.sh [unit|integration|e2e ...]   (default: all three)
set -u
cd "$(dirname "$0")/.."
export NO_COLOR=1 FORCE_COLOR=0
passed=0; failed=0; broken=()
levels=("$@"); [ ${#levels[@]} -eq 0 ] && levels=(unit integration e2e)

strip() { sed -u -e 's/\x1b\[[0-9;]*m//g'; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== typecheck (tsc --noEmit)"
if npx tsc -p tsconfig.json; then passed=$((passed + 1)); echo "typecheck: ok"; else failed=$((failed + 1)); broken+=("typecheck"); fi

for level in "${levels[@]}"; do
  for file in $(ls "test/$level"/*.test.ts 2>/dev/null | sort); do
    name=$(basename "$file")
    echo "== $level/$name"
    start=$(date +%s)
    npx tsx node_modules/uvu/bin.js "test/$level" "^${name//./\\.}$" 2>&1 | strip | tee "$log"
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
