#!/usr/bin/env bash
# Quick start, main job: install what is missing, build (Release), and replay the
# bundled sample call through the engine with the bundled coaching packs,
# printing every nudge and the scorecard.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh" "$root/build" >/dev/null
exec "$root/build/src/cli/coachctl" replay \
  --phrase_lists "$root/phrase_lists" "$root/tests/data/calls/escalated_call.jsonl"
