#!/usr/bin/env bash
# Live load benchmark: starts the built coachd on 127.0.0.1 with a free port,
# drives it with coach_loadgen, and stops it with SIGTERM. Builds nothing.
#
#   tests/bench/run_live_load.sh BUILD_DIR            idle RSS at 1000 calls, then live
#                                                     runs at 100 and 1000 calls, 4 seg/s, 20 s
#   tests/bench/run_live_load.sh BUILD_DIR --smoke    5 calls for 1 s (CI: keeps it running)
#
# Environment (full mode): IDLE_CALLS (1000), LIVE_CALLS ("100 1000"), RATE (4),
# DURATION (20s), CHANNELS (16), EXTRA_LOADGEN_FLAGS, EXTRA_COACHD_FLAGS.
# coachd's log goes to $LOG_DIR/coachd.log (LOG_DIR defaults to a temp dir).
# Exits non-zero if coachd does not start, a loadgen run reports errors, or
# coachd does not exit 0 on SIGTERM.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [--smoke]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
build=$(cd "$1" && pwd)
mode=${2:-full}
[[ $mode == full || $mode == --smoke ]] || usage
root=$(cd "$(dirname "$0")/../.." && pwd)
coachd=$build/src/server/coachd
loadgen=$build/tests/bench/coach_loadgen
for bin in "$coachd" "$loadgen"; do
  [[ -x $bin ]] || { echo "$0: $bin is not built" >&2; exit 1; }
done

# Thousands of streams ride on a few connections, but leave room anyway.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

log_dir=${LOG_DIR:-$(mktemp -d)}
log=$log_dir/coachd.log
coachd_pid=
stop_coachd() {
  [[ -n $coachd_pid ]] || return 0
  kill -TERM "$coachd_pid" 2>/dev/null || true
  local rc=0
  wait "$coachd_pid" || rc=$?
  coachd_pid=
  return "$rc"
}
trap 'stop_coachd || true' EXIT

# The log must exist before the first read below (set -e, pipefail).
: >"$log"
# shellcheck disable=SC2086  # EXTRA_COACHD_FLAGS is a list of flags
"$coachd" --listen=127.0.0.1:0 --phrase_lists="$root/phrase_lists" \
  ${EXTRA_COACHD_FLAGS:-} 2>"$log" &
coachd_pid=$!
port=
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*coachd listening on .* (port \([0-9]*\)).*/\1/p' "$log" | head -n 1)
  [[ -n $port ]] && break
  kill -0 "$coachd_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]]; then
  echo "$0: coachd did not start; its log:" >&2
  cat "$log" >&2
  exit 1
fi
target=127.0.0.1:$port
echo "coachd pid $coachd_pid on $target (log $log); $(nproc) CPUs, shared with the loadgen"

run() {
  echo
  echo "\$ coach_loadgen $*"
  "$loadgen" --target="$target" --coachd_pid="$coachd_pid" "$@"
}

status=0
if [[ $mode == --smoke ]]; then
  run --calls=5 --duration=1s --ramp=200ms --channels=1 --drain=5s || status=1
else
  rate=${RATE:-4}
  duration=${DURATION:-20s}
  channels=${CHANNELS:-16}
  # shellcheck disable=SC2086
  run --idle --calls="${IDLE_CALLS:-1000}" --channels="$channels" \
    ${EXTRA_LOADGEN_FLAGS:-} || status=1
  for calls in ${LIVE_CALLS:-100 1000}; do
    # shellcheck disable=SC2086
    run --calls="$calls" --rate="$rate" --duration="$duration" --channels="$channels" \
      ${EXTRA_LOADGEN_FLAGS:-} || status=1
  done
fi

echo
if stop_coachd; then
  echo "coachd exited 0 on SIGTERM"
else
  echo "$0: coachd did not exit 0 on SIGTERM; its log: $log" >&2
  status=1
fi
exit "$status"
