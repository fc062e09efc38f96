#!/usr/bin/env bash
# Builds the safetensors header fuzzer with clang + libFuzzer (ASan, UBSan) from only the
# torch-free sources it needs, then runs it on a copy of the seed corpus for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60; FUZZ_SECONDS in the environment also works)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-60}}"
out="build-fuzz"
mkdir -p "$out"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Isrc tests/fuzz/safetensors_header_fuzz.cpp src/io/safetensors.cpp src/io/atomic_writer.cpp \
  src/io/atomic_file.cpp src/common/error.cpp -lfmt -o "$out/safetensors_header_fuzz"
# Fuzz in a scratch copy so the committed seed corpus stays small and reviewed.
work="$out/corpus-safetensors"
rm -rf "$work" && mkdir -p "$work" && cp tests/fuzz/corpus/safetensors/* "$work/"
"$out/safetensors_header_fuzz" "$work" -max_len=4096 \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/" 2>&1 | tail -n 20
