#!/usr/bin/env bash
# Live load benchmark: starts the built coachd and the echo floor
# (coach_echo_server, the same gRPC with a trivial bidirectional echo) on
# 127.0.0.1 with free ports, drives each in turn with coach_loadgen using the
# same flags, prints each run and a comparison table, and stops both with
# SIGTERM. Builds nothing. The loadgen and the servers share this machine's
# CPUs; every figure says so.
#
#   tests/bench/run_live_load.sh BUILD_DIR            full run (below)
#   tests/bench/run_live_load.sh BUILD_DIR --smoke    5 calls for 1 s against each (CI)
#
# Full run:
#   1. idle RSS: IDLE_CALLS (1000) calls that sent only `start`, with desktops;
#   2. live runs at each LIVE_CALLS ("100 1000 5000") calls, RATE (4) segments/s
#      per call, DURATION (20s): coachd, then the echo floor; LIVE_CALLS="" skips;
#   3. saturation: SATURATION_CALLS (1000) calls at each of SATURATION_RATES
#      ("16 24 32 40 48 56 64") segments/s per call, SATURATION_DURATION (10s)
#      each, coachd then echo; the
#      highest rate each sustains (>= 95% of offered, p99 <= 25 ms, no error)
#      is its message rate, and coachd's is compared with the echo floor's.
#      SATURATION_RATES="" skips it.
# Environment: CHANNELS (16), EXTRA_LOADGEN_FLAGS, EXTRA_COACHD_FLAGS.
# The servers' logs go to $LOG_DIR (default: a temp dir).
# Exits non-zero if a server does not start, a loadgen run reports errors, or a
# server does not exit 0 on SIGTERM. Timings are reported, never asserted.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [--smoke]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
build=$(cd "$1" && pwd)
mode=${2:-full}
[[ $mode == full || $mode == --smoke ]] || usage
root=$(cd "$(dirname "$0")/../.." && pwd)
coachd=$build/src/server/coachd
echo_server=$build/tests/bench/coach_echo_server
loadgen=$build/tests/bench/coach_loadgen
for bin in "$coachd" "$echo_server" "$loadgen"; do
  [[ -x $bin ]] || { echo "$0: $bin is not built" >&2; exit 1; }
done

# Thousands of streams ride on a few connections, but leave room anyway.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

log_dir=${LOG_DIR:-$(mktemp -d)}
mkdir -p "$log_dir"
# shellcheck source=tests/bench/servers.sh
. "$root/tests/bench/servers.sh"
trap 'stop coachd || true; stop echo || true' EXIT

# shellcheck disable=SC2086  # EXTRA_COACHD_FLAGS is a list of flags
start coachd "$log_dir/coachd.log" \
  "$coachd" --listen=127.0.0.1:0 --phrase_lists="$root/phrase_lists" ${EXTRA_COACHD_FLAGS:-}
start echo "$log_dir/echo.log" "$echo_server" --listen=127.0.0.1:0
echo "$(nproc) CPUs, shared by the servers and the loadgen"

summaries=$log_dir/summaries.txt
: >"$summaries"
status=0
# run coachd|echo LOADGEN_FLAGS...: one loadgen run; keeps its summary line.
run() {
  local name=$1
  shift
  local flags=(--target="127.0.0.1:${port_of[$name]}" --coachd_pid="${pid_of[$name]}" "$@")
  [[ $name == echo ]] && flags+=(--echo)
  echo
  echo "\$ coach_loadgen ${flags[*]}"
  local out rc=0
  out=$("$loadgen" "${flags[@]}") || rc=$?
  echo "$out"
  grep '^summary: ' <<<"$out" >>"$summaries" || true
  [[ $rc == 0 ]] || status=1
}

# field SUMMARY_LINE KEY: the value of key=value in a summary line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

if [[ $mode == --smoke ]]; then
  for name in coachd echo; do
    run "$name" --calls=5 --duration=1s --ramp=200ms --channels=1 --drain=5s
  done
else
  rate=${RATE:-4}
  duration=${DURATION:-20s}
  channels=${CHANNELS:-16}
  # shellcheck disable=SC2086
  run coachd --idle --calls="${IDLE_CALLS:-1000}" --channels="$channels" ${EXTRA_LOADGEN_FLAGS:-}
  for calls in ${LIVE_CALLS-100 1000 5000}; do
    for name in coachd echo; do
      # shellcheck disable=SC2086
      run "$name" --calls="$calls" --rate="$rate" --duration="$duration" --channels="$channels" \
        ${EXTRA_LOADGEN_FLAGS:-}
    done
  done
  saturation_calls=${SATURATION_CALLS:-1000}
  saturation_rates=${SATURATION_RATES-16 24 32 40 48 56 64}
  for r in $saturation_rates; do
    for name in coachd echo; do
      # shellcheck disable=SC2086
      run "$name" --calls="$saturation_calls" --rate="$r" --duration="${SATURATION_DURATION:-10s}" \
        --channels="$channels" ${EXTRA_LOADGEN_FLAGS:-}
    done
  done

  echo
  echo "comparison (same run, same loadgen flags; latency: coachd segment->nudge at the"
  echo "desktop, echo segment->its echo; CPU in % of one core, $(nproc) CPUs shared)"
  printf '  %-7s %6s %9s %9s %8s %8s %8s %8s %8s %7s\n' server calls offered sustained \
    p50_ms p99_ms p999_ms cpu_pct rss_mib errors
  while read -r line; do
    printf '  %-7s %6s %9s %9s %8s %8s %8s %8s %8s %7s\n' "$(field "$line" server)" \
      "$(field "$line" calls)" "$(field "$line" offered)" "$(field "$line" sustained)" \
      "$(field "$line" p50_ms)" "$(field "$line" p99_ms)" "$(field "$line" p999_ms)" \
      "$(field "$line" server_cpu_pct)" "$(field "$line" server_rss_mib)" \
      "$(field "$line" errors)"
  done <"$summaries"

  if [[ -n $saturation_rates ]]; then
    # The message rate of a server: the highest sustained segments/s of a
    # saturation run that kept up (>= 95% of offered) with p99 <= 25 ms.
    best() {
      awk -v server="$1" -v calls="$saturation_calls" '
        {
          for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
          if (f["server"] == server && f["calls"] == calls && f["errors"] == 0 &&
              f["sustained"] >= 0.95 * f["offered"] && f["p99_ms"] <= 25 &&
              f["sustained"] > max) max = f["sustained"]
        }
        END { print max + 0 }' "$summaries"
    }
    coachd_rate=$(best coachd)
    echo_rate=$(best echo)
    echo
    echo "message rate at $saturation_calls calls (highest sustained seg/s with p99 <= 25 ms):"
    echo "  coachd $coachd_rate seg/s, echo floor $echo_rate seg/s" \
      "($(awk -v a="$coachd_rate" -v b="$echo_rate" \
            'BEGIN { if (b > 0) printf "coachd at %.0f%% of the echo floor", 100 * a / b; else print "no echo figure" }'))"
    top=${saturation_rates##* }
    echo "  (a figure equal to $((saturation_calls * top)) means the top rate tried was sustained;"
    echo "   raise SATURATION_RATES to find the ceiling)"
  fi
fi

echo
for name in coachd echo; do
  if stop "$name"; then
    echo "$name exited 0 on SIGTERM"
  else
    echo "$0: $name did not exit 0 on SIGTERM; its log: $log_dir/$name.log" >&2
    status=1
  fi
done
exit "$status"
