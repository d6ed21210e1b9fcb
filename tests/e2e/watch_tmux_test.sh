#!/usr/bin/env bash
# End-to-end: `coachctl watch --view=text` in a real terminal (a detached tmux
# session), following an agent while `coachctl simulate` plays a call into a
# real coachd on loopback. Asserts on `tmux capture-pane -e`: the nudges'
# titles and suggestions, the ANSI color of each kind, the one-line
# scorecard; then stops coachd, checks the "reconnecting..." line, restarts
# coachd on the same port and checks the watcher shows the next call.
#
#   watch_tmux_test.sh COACHD COACHCTL SOURCE_DIR
#
# Fails when tmux is not installed (deploy/install-deps.sh installs it). WATCH_CAPTURE=FILE
# keeps the final pane there.

set -u
COACHD=$1
COACHCTL=$2
SOURCE_DIR=$3

if ! command -v tmux > /dev/null; then
  echo "FAIL: tmux is not installed; run deploy/install-deps.sh"
  exit 1
fi

WORK=$(mktemp -d)
SOCKET="coachctl-watch-test-$$"  # a private tmux server
COACHD_PID=""
cleanup() {
  tmux -L "$SOCKET" kill-server 2> /dev/null
  if [ -n "$COACHD_PID" ]; then kill "$COACHD_PID" 2> /dev/null; wait "$COACHD_PID" 2> /dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Polls `command` every 0.1 s for up to 30 s (a safety net; each wait ends as
# soon as its condition holds).
wait_for() {
  local what=$1
  shift
  for _ in $(seq 300); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for $what"
  return 1
}

# Starts coachd (on port $1, 0 for any) with a metrics endpoint; sets PORT
# and METRICS_PORT from its start-up line.
start_coachd() {
  local log="$WORK/coachd.$RANDOM.log"
  : > "$log"
  "$COACHD" --listen="127.0.0.1:$1" --metrics_address=127.0.0.1:0 \
    --phrase_lists="$SOURCE_DIR/phrase_lists" 2> "$log" &
  COACHD_PID=$!
  wait_for "coachd to listen" grep -q "metrics on port" "$log" || { cat "$log"; exit 1; }
  PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | head -1)
  METRICS_PORT=$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$log" | head -1)
}

# True when coachd reports one connected agent desktop.
desktop_connected() {
  local metrics
  metrics=$(exec 3<> "/dev/tcp/127.0.0.1/$METRICS_PORT" &&
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3) 2> /dev/null
  grep -q 'coachd_active_subscribers{kind="agent"} 1' <<< "$metrics"
}

pane() { tmux -L "$SOCKET" capture-pane -p -e -J -S - -t watch; }
pane_has() { pane | grep -qF -- "$1"; }

# The pane's line holding `text` carries the ANSI color `code` (e.g. 31).
line_colored() {
  local text=$1 code=$2
  pane | grep -F -- "$text" | grep -qF -- $'\e['"$code"'m'
}

start_coachd 0
call="$SOURCE_DIR/tests/data/calls/escalated_call.jsonl"
tmux -L "$SOCKET" new-session -d -s watch -x 220 -y 60 \
  "$COACHCTL watch --view=text --color=always --server=127.0.0.1:$PORT --agent=agent-042"
# A desktop gets a live call from its first event, so subscribe first.
wait_for "the desktop to subscribe" desktop_connected

"$COACHCTL" simulate --speed=0 --server="127.0.0.1:$PORT" "$call" > "$WORK/simulated.jsonl" ||
  fail "simulate exited with $?"
wait_for "the scorecard" pane_has "== call demo-escalated-001 ended: score 77/100"
pane > "$WORK/pane.txt"

pane_has "watching agent agent-042 on 127.0.0.1:$PORT" || fail "no start line"
pane_has "-- call demo-escalated-001 --" || fail "no call header"
# Titles, matched words and suggestions, as the agent sees them.
pane_has "Don't tell the customer to calm down" || fail "no calm-down nudge"
pane_has '"you need to calm down"' || fail "no matched words"
pane_has "try: \"I can hear how frustrating this is, and I'm going to help you get it sorted out.\"" ||
  fail "no suggestion"
pane_has "FCC threat: de-escalate" || fail "no FCC escalation"
pane_has "Acknowledge the customer's feelings" || fail "no reminder"
pane_has "missed after frustration" || fail "no reminder trigger"
pane_has "ASAP [x] acknowledge [x] sympathize [x] accept_responsibility [x] prepare_to_help" ||
  fail "no ASAP checklist on the scorecard line"
# One color per kind.
line_colored "CORRECTIVE    Don't tell the customer to calm down" 31 || fail "corrective is not red"
line_colored "REINFORCEMENT Good empathy" 32 || fail "reinforcement is not green"
line_colored "ESCALATION    FCC threat" 35 || fail "escalation is not magenta"
line_colored "REMINDER      Acknowledge the customer's feelings" 33 || fail "reminder is not yellow"
line_colored "TRACKED       Promise: call back" 36 || fail "tracked is not cyan"
line_colored "CUE           Customer is frustrated" 36 || fail "cue is not cyan"
# Every event the pipeline got, the desktop showed once.
nudges=$(grep -c '"nudge"' "$WORK/simulated.jsonl")
shown=$(grep -cE '(CORRECTIVE|REINFORCEMENT|ESCALATION|TRACKED|CUE) ' "$WORK/pane.txt")
[ "$nudges" -eq "$shown" ] || fail "pipeline got $nudges nudges, the desktop showed $shown"

# The server goes away: the desktop says so and keeps trying.
kill "$COACHD_PID"
wait "$COACHD_PID" 2> /dev/null
COACHD_PID=""
wait_for "the reconnecting line" pane_has "reconnecting..."
# Back on the same port: the desktop reconnects and shows the next call.
start_coachd "$PORT"
wait_for "the desktop to resubscribe" desktop_connected
"$COACHCTL" simulate --speed=0 --call_id_suffix=-after-restart --server="127.0.0.1:$PORT" "$call" \
  > /dev/null || fail "simulate after the restart exited with $?"
wait_for "the second call's scorecard" pane_has "== call demo-escalated-001-after-restart ended"
pane_has "reconnected; resuming" || fail "no reconnected line"

# For docs: WATCH_CAPTURE=FILE keeps the final pane, escape codes included.
if [ -n "${WATCH_CAPTURE:-}" ]; then pane > "$WATCH_CAPTURE"; fi

if [ "$failures" -gt 0 ]; then
  echo "---- pane (cat -v) ----"
  pane | cat -v
  exit 1
fi
echo "PASS: watch text view under tmux ($shown nudges, colors, scorecard, reconnect)"
