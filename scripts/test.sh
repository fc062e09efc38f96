#!/usr/bin/env bash
# Builds what changed and runs every test suite (GoogleTest through CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache hits across checkouts in different folders (CI clones afresh each time).
export CCACHE_BASEDIR="$PWD"
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
ctest --test-dir build --output-on-failure -j2 "$@"
