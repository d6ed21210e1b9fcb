#!/usr/bin/env bash
# Soak: starts the built coachd on 127.0.0.1 with a free port and runs
# coach_loadgen --soak against it: CALLS (1000) live calls at 4 segments/s,
# one resuming desktop per agent, random desktop disconnects and resumes,
# random pipeline aborts, and a phrase-list reload every RELOAD_EVERY (30s),
# for DURATION (10m). At the end the loadgen checks from the seq numbers that
# every desktop got every event of the calls it saw exactly once, in order,
# and that every call not aborted got its report; and that coachd's RSS grew
# by at most 10% after the warm-up. Then coachd must exit 0 on SIGTERM.
# Builds nothing.
#
#   tests/soak/run_soak.sh BUILD_DIR            the full soak (10 minutes)
#   tests/soak/run_soak.sh BUILD_DIR --short    60 s, 300 calls (CI)
#
# Environment: CALLS, DURATION, RELOAD_EVERY, WARMUP, RETENTION (coachd's
# --resume_retention; ended calls stay in memory that long, so the warm-up
# must be longer), DESKTOP_FLAPS, PIPELINE_ABORTS, EXTRA_LOADGEN_FLAGS,
# EXTRA_COACHD_FLAGS, LOG_DIR (coachd's log; default a temp dir).
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [--short]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
build=$(cd "$1" && pwd)
mode=${2:-full}
[[ $mode == full || $mode == --short ]] || usage
root=$(cd "$(dirname "$0")/../.." && pwd)
coachd=$build/src/server/coachd
loadgen=$build/tests/bench/coach_loadgen
for bin in "$coachd" "$loadgen"; do
  [[ -x $bin ]] || { echo "$0: $bin is not built" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

if [[ $mode == --short ]]; then
  calls=${CALLS:-300} duration=${DURATION:-60s} reload_every=${RELOAD_EVERY:-15s}
  warmup=${WARMUP:-20s} retention=${RETENTION:-10s}
else
  calls=${CALLS:-1000} duration=${DURATION:-10m} reload_every=${RELOAD_EVERY:-30s}
  warmup=${WARMUP:-2m} retention=${RETENTION:-60s}
fi

log_dir=${LOG_DIR:-$(mktemp -d)}
mkdir -p "$log_dir"
log=$log_dir/coachd.log
# shellcheck source=tests/bench/servers.sh
. "$root/tests/bench/servers.sh"
trap 'stop coachd || true' EXIT
# shellcheck disable=SC2086  # EXTRA_COACHD_FLAGS is a list of flags
start coachd "$log" "$coachd" --listen=127.0.0.1:0 --phrase_lists="$root/phrase_lists" \
  --resume_retention="$retention" ${EXTRA_COACHD_FLAGS:-}
coachd_pid=${pid_of[coachd]}
port=${port_of[coachd]}
echo "coachd --resume_retention=$retention"

status=0
flags=(--soak --target="127.0.0.1:$port" --coachd_pid="$coachd_pid" --calls="$calls"
       --duration="$duration" --reload_every="$reload_every" --warmup="$warmup" --channels=8
       --desktop_flaps="${DESKTOP_FLAPS:-0.01}" --pipeline_aborts="${PIPELINE_ABORTS:-0.002}"
       --timeline)
echo "\$ coach_loadgen ${flags[*]} ${EXTRA_LOADGEN_FLAGS:-}"
# shellcheck disable=SC2086
"$loadgen" "${flags[@]}" ${EXTRA_LOADGEN_FLAGS:-} || status=1

rc=0
stop coachd || rc=$?
trap - EXIT
if [[ $rc == 0 ]]; then
  echo "coachd exited 0 on SIGTERM"
else
  echo "$0: coachd exited $rc on SIGTERM; its log: $log" >&2
  status=1
fi
exit "$status"
