#!/usr/bin/env bash
# One uvu test file in its own process, for test/run-all.sh: writes the file's output to
# $DMS_RESULTS/<id>.log and one line "<passed> <failed> <broken 0|1>" to $DMS_RESULTS/<id>.res, then
# prints the output in one piece (under a lock, so files run in parallel never interleave).
# A file counts as failed when any test fails, when it ran no test, or when a before hook threw
# (uvu 0.5 then reports "0 / N" and still exits 0).
# Usage: bash test/run-one.sh test/<level>/[dir/]<name>.test.ts
set -u
file=$1
rel=${file#test/}
id=${rel//\//__}
log="$DMS_RESULTS/$id.log"
start=$(date +%s)
npx tsx --import ./test/helpers/hook-errors.ts node_modules/uvu/bin.js "$(dirname "$file")" "^$(basename "$file" | sed 's/\./\\./g')$" 2>&1 |
  sed -u -e 's/\x1b\[[0-9;]*m//g' > "$log"
rc=${PIPESTATUS[0]}
total=$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' "$log" | tail -1)
ok=$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
note=""
if [ -z "$total" ] || [ -z "$ok" ] || [ "$total" -eq 0 ]; then
  note="!! $rel ran no test or crashed (exit $rc)"; res="0 1 1"
elif [ "$ok" -ne "$total" ] || [ "$rc" -ne 0 ]; then
  grep -q ' FAIL ' "$log" || note="!! $rel: $((total - ok)) of $total tests did not pass and none reported a failure: a before/after hook threw (its error is printed above, by test/helpers/hook-errors.ts)"
  extra=0; [ "$ok" -eq "$total" ] && extra=1
  res="$ok $((total - ok + extra)) 1"
else
  res="$ok 0 0"
fi
echo "$res" > "$DMS_RESULTS/$id.res"
{
  flock 9
  echo "== $rel"
  cat "$log"
  [ -n "$note" ] && echo "$note"
  echo "   ($(( $(date +%s) - start ))s)"
} 9> "$DMS_RESULTS/.print.lock"
