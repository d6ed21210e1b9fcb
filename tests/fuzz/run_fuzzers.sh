#!/usr/bin/env bash
# Runs every coachd libFuzzer harness for SECONDS each, one after the other,
# and prints each one's total executions. Exits non-zero on any crash, leak,
# timeout or out-of-memory, with the reproducer's path in the output.
#
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS] [HARNESS...]
#
# BUILD_DIR is a clang build configured with
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOACHD_SANITIZE=address,undefined \
#     -DCOACHD_FUZZ=ON -DCOACHD_BUILD_BENCHMARKS=OFF
# The script builds the harnesses and the seed corpora (fuzz_seeds) first.
# SECONDS defaults to 60 (CI). Corpora:
#   BUILD_DIR/tests/fuzz/seeds/<harness>    seeds from the fixtures, rebuilt each run
#   BUILD_DIR/tests/fuzz/corpus/<harness>   persistent corpus; new inputs go here
# Crashes go to BUILD_DIR/tests/fuzz/crashes/<harness>/ (crash-*, leak-*,
# timeout-*, oom-*). Copy a reproducer into tests/fuzz/regressions/<harness>/
# to make it a regression test (ctest -L fuzz-regression).
#
# For hours (e.g. overnight), on a machine with spare cores:
#   FUZZ_JOBS=4 tests/fuzz/run_fuzzers.sh build-fuzz 14400
# runs each harness for 4 hours with 4 parallel libFuzzer workers
# (-fork=FUZZ_JOBS) sharing the persistent corpus, which keeps growing from
# run to run; or one harness alone:
#   tests/fuzz/run_fuzzers.sh build-fuzz 36000 engine_fuzz
# Other knobs: FUZZ_ARGS (extra libFuzzer flags, e.g. "-max_len=16384"),
# FUZZ_BUILD=0 (do not build first), FUZZ_JOBS (default 1: no fork).
set -uo pipefail

build=${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS] [HARNESS...]}
build=$(cd "$build" && pwd)
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(phrase_compiler_fuzz phrase_list_loader_fuzz engine_fuzz transcript_reader_fuzz
             service_fuzz)
fi
here=$(cd "$(dirname "$0")" && pwd)
fuzz_dir=$build/tests/fuzz
jobs=${FUZZ_JOBS:-1}

if [ "${FUZZ_BUILD:-1}" != 0 ]; then
  cmake --build "$build" -j2 --target "${harnesses[@]}" fuzz_seeds || exit 2
fi

# Per-harness libFuzzer options: the dictionary when there is one, and the
# per-input timeout (service_fuzz runs a gRPC stream per input).
harness_args() {
  local h=$1
  local dict=$here/dictionaries/${h%_fuzz}.dict
  [ -f "$dict" ] && printf -- '-dict=%s ' "$dict"
  case $h in
    service_fuzz) printf -- '-timeout=60 -rss_limit_mb=4096 ' ;;
    transcript_reader_fuzz) printf -- '-max_len=65536 -timeout=30 ' ;;
    *) printf -- '-timeout=30 ' ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=()
for h in "${harnesses[@]}"; do
  bin=$fuzz_dir/$h
  if [ ! -x "$bin" ]; then
    echo "run_fuzzers: $bin is missing" >&2
    status=1
    summary+=("$h: MISSING")
    continue
  fi
  corpus=$fuzz_dir/corpus/$h
  crashes=$fuzz_dir/crashes/$h
  seeds=$fuzz_dir/seeds/$h
  mkdir -p "$corpus" "$crashes" "$seeds"
  log=$fuzz_dir/logs/$h.log
  mkdir -p "$(dirname "$log")"
  fork_args=()
  [ "$jobs" -gt 1 ] && fork_args=(-fork="$jobs" -ignore_crashes=0)
  echo "=== $h: ${seconds}s (log: $log)"
  # shellcheck disable=SC2046  # harness_args is a list of flags
  "$bin" "$corpus" "$seeds" "${fork_args[@]}" \
      -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$crashes/" $(harness_args "$h") ${FUZZ_ARGS:-} \
      > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  # -fork mode prints no final stats; take the last status line's count.
  [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  artifact=$(grep -oE "(Test unit written to|artifact_prefix.*Test unit written to) [^ ]+" "$log" |
             tail -1 | awk '{print $NF}')
  if [ $rc -ne 0 ]; then
    status=1
    echo "!!! $h FAILED (exit $rc) after ${execs:-?} executions"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|INVARIANT VIOLATED|.*runtime error)' "$log" | head -5
    [ -n "$artifact" ] && echo "!!! reproducer: $artifact" &&
      echo "!!! rerun: $bin $artifact"
    summary+=("$h: FAILED exit=$rc executions=${execs:-?} reproducer=${artifact:-see $log}")
  else
    echo "$h: OK, executions: ${execs:-?} (${cov:-cov: ?})"
    summary+=("$h: OK executions=${execs:-?} ${cov:-}")
  fi
done

echo "=== fuzzing summary (${seconds}s each)"
printf '%s\n' "${summary[@]}"
exit $status
