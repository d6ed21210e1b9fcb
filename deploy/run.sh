#!/usr/bin/env bash
# Quick start, main job: install what is missing, build (Release), and start
# coachd on 127.0.0.1:50051 with the bundled coaching packs. Extra arguments go
# to coachd (e.g. --listen, --metrics_address; `--helpfull` lists them all).
# Stop it with Ctrl-C (SIGINT): it drains running calls and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh build >/dev/null
exec build/src/server/coachd --phrase_lists phrase_lists "$@"
