#!/usr/bin/env bash
# Installs the Debian 12 packages coachd needs to build, test and benchmark.
# Idempotent: installs only what is missing. Runs apt-get as root, or via sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libre2-dev libabsl-dev libprotobuf-dev protobuf-compiler libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhyperscan-dev
  libgrpc++-dev protobuf-compiler-grpc prometheus-cpp-dev libssl-dev openssl
  nlohmann-json3-dev chromium tmux bsdutils
  # the libFuzzer harnesses (tests/fuzz): clang and its sanitizer and fuzzer runtimes
  clang libclang-rt-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
