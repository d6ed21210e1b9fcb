#!/usr/bin/env bash
# Quick start, tests: install what is missing, build, and run every test:
#   1. the whole suite (unit + end-to-end) in a Release build;
#   2. the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (any finding fails the run);
#   3. the server and integration tests under ThreadSanitizer (tests/tsan
#      explains the annotations and each suppression; any report fails);
#   4. the libFuzzer harnesses (clang, ASan + UBSan): every past crash and seed
#      once, then each harness for FUZZ_SECONDS (60);
#   5. each benchmark once with a tiny iteration count, so they cannot rot, and
#      the load generator against coachd and the echo floor for a second;
#   6. the short soak: 60 s of calls with desktop disconnects and resumes,
#      pipeline aborts and reloads, checked from the seq numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/deploy/install-deps.sh"

echo "== Release build and tests"
"$root/deploy/build.sh" "$root/build"
ctest --test-dir "$root/build" --output-on-failure --parallel "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
"$root/deploy/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOACHD_SANITIZE=address,undefined -DCOACHD_BUILD_BENCHMARKS=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure --parallel "$jobs"

echo "== ThreadSanitizer build: server and integration tests"
cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOACHD_SANITIZE=thread -DCOACHD_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$root/build-tsan" --parallel "$jobs" --target server_unit_test integration_test
# One process per binary; TSan stops at the first report (exit 66).
for test in server/server_unit_test integration/integration_test; do
  (cd "$root" && "$root/build-tsan/tests/$test" --gtest_brief=1)
  echo "ran $(basename "$test") under ThreadSanitizer: no report"
done

echo "== Fuzzing: libFuzzer harnesses under ASan + UBSan (clang)"
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOACHD_SANITIZE=address,undefined -DCOACHD_FUZZ=ON \
  -DCOACHD_BUILD_BENCHMARKS=OFF >/dev/null
# run_fuzzers.sh builds the harnesses and their seed corpora first.
"$root/tests/fuzz/run_fuzzers.sh" "$root/build-fuzz" "${FUZZ_SECONDS:-60}"
ctest --test-dir "$root/build-fuzz" -L fuzz-regression --output-on-failure

echo "== Benchmarks, smoke run (no timings are asserted)"
for bench in "$root"/build/tests/bench/*_bench; do
  "$bench" --benchmark_min_time=0.01 >/dev/null
  echo "ran $(basename "$bench")"
done
# The live load generator against the real coachd and the echo floor: 5 calls for 1 s.
"$root/tests/bench/run_live_load.sh" "$root/build" --smoke >/dev/null
echo "ran coach_loadgen against coachd and the echo floor (smoke)"

echo "== Soak, short (60 s)"
"$root/tests/soak/run_soak.sh" "$root/build" --short | sed -n '/^soak:/,$p'
