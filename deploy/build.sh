#!/usr/bin/env bash
# Configures and builds coachd into a build directory.
#   deploy/build.sh [BUILD_DIR] [extra cmake -D options...]
# Defaults to build/ in Release mode.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-"$root/build"}
shift || true
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
