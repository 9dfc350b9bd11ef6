#!/usr/bin/env bash
# One lane of e2e files for test/run-all.sh: the files given, one after another (they share a compose
# prefix, subnet or ports, so they must not run at the same time).
# Usage: bash test/run-lane.sh test/e2e/a.test.ts [test/e2e/b.test.ts ...]
for f in "$@"; do bash test/run-one.sh "$f"; done
