#!/bin/sh
# Runs one fuzz harness once over every file of the given directories (the
# crashes found so far, tests/fuzz/regressions/<harness>/, and the hand-written
# seeds, tests/fuzz/seeds/<harness>/). libFuzzer executes the files it is
# given as arguments and exits non-zero on the first crash. Registered with
# ctest under the label fuzz-regression.
#
# Usage: run_regressions.sh HARNESS DIR...
set -eu
harness=$1
shift
files=""
for dir in "$@"; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    [ -f "$f" ] && files="$files $f"
  done
done
if [ -z "$files" ]; then
  echo "no regression inputs for $(basename "$harness")"
  exit 0
fi
# shellcheck disable=SC2086  # one argument per file (the names have no spaces)
# -timeout: an input that hangs fails within seconds instead of at ctest's limit.
exec "$harness" -timeout=20 $files
