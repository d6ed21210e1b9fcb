# Sourced by the benchmark and soak scripts: starts and stops servers that log
# "... listening on ADDR (port N)" on stderr (coachd, coach_echo_server).
# After `start NAME LOG COMMAND...`, ${pid_of[NAME]} and ${port_of[NAME]} are
# set; `stop NAME` sends SIGTERM and returns the server's exit status.
# Callers run under `set -euo pipefail`.

declare -A pid_of=() port_of=()

# start NAME LOG COMMAND...: starts a server that logs "... (port N)" on stderr.
start() {
  local name=$1 log=$2
  shift 2
  : >"$log"
  "$@" 2>"$log" &
  pid_of[$name]=$!
  local port=
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.* listening on .* (port \([0-9]*\)).*/\1/p' "$log" | head -n 1)
    [[ -n $port ]] && break
    kill -0 "${pid_of[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $port ]]; then
    echo "$0: $name did not start; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  port_of[$name]=$port
  echo "$name pid ${pid_of[$name]} on 127.0.0.1:$port (log $log)"
}

# stop NAME: SIGTERM, and the exit status.
stop() {
  local pid=${pid_of[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local rc=0
  wait "$pid" || rc=$?
  pid_of[$1]=
  return "$rc"
}
