#!/usr/bin/env bash
# Quick start, main job: install what is missing, build (Release), and replay the
# bundled sample call through the engine with the bundled coaching packs,
# printing every nudge and the scorecard.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh build >/dev/null
exec build/src/cli/coachctl replay --phrase_lists phrase_lists tests/data/calls/escalated_call.jsonl
