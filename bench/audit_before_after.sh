#!/bin/bash
# Before/after wall time of what `lathe audit DIR` does (scan: headers + captions, every rule,
# the text report) for a change to the dataset code, without libtorch: the dataset, text, io
# and common sources of two commits are built the same way (-O2) into a small driver, and the
# two drivers run interleaved on the same warm dataset.
#   bench/audit_before_after.sh BEFORE_COMMIT AFTER_COMMIT DATASET [ROUNDS]
# e.g. bench/audit_before_after.sh 0e75d5a~1 0e75d5a /tmp/lathe-bench-100k 6
set -euo pipefail
before=$1 after=$2 dataset=$3 rounds=${4:-6}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${LATHE_BENCH_WORK:-/tmp/lathe-audit-before-after}
mkdir -p "$work"
cat > "$work/audit_main.cpp" <<'CPP'
#include <cstdio>
#include "dataset/audit.h"
#include "dataset/audit_report.h"
#include "dataset/dataset.h"
int main(int argc, char** argv) {
  lathe::Dataset d = lathe::scan_dataset(argv[1], lathe::ScanOptions{});
  lathe::AuditReport r = lathe::run_audit(d, lathe::AuditOptions{});
  const std::string text = lathe::format_audit_text(r);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return r.has_errors() ? 1 : 0;
}
CPP
flags="-O2 -DNDEBUG -std=c++17 -DFMT_HEADER_ONLY=1 -I$repo/build/fmt_include -isystem /usr/include/opencv4"
for side in before after; do
  commit=${!side}
  rm -rf "$work/$side" && mkdir -p "$work/$side/obj"
  git -C "$repo" archive "$commit" src | tar -x -C "$work/$side"
  files=$(cd "$work/$side" && ls src/common/*.cpp src/io/atomic_file.cpp src/io/atomic_writer.cpp \
            src/dataset/*.cpp src/text/*.cpp | grep -v "caption_edit\|edit_\|profile_concepts")
  echo "$files" | xargs -P 2 -I{} sh -c \
    "g++ $flags -I$work/$side/src -c $work/$side/{} -o $work/$side/obj/\$(echo {} | tr / _).o"
  extra=$(ls "$work/$side/src/io/file_owner.cpp" "$work/$side/src/io/file_stamp.cpp" 2>/dev/null || true)
  g++ $flags -I"$work/$side/src" "$work/audit_main.cpp" "$work/$side"/obj/*.o $extra -o "$work/audit_$side" \
      -lopencv_core -lopencv_imgcodecs -lopencv_imgproc -lz -pthread
done
"$work/audit_before" "$dataset" >/dev/null || true  # warm the cache
for ((i = 0; i < rounds; ++i)); do
  for side in before after; do
    /usr/bin/time -f "$side wall %e s user %U s sys %S s" "$work/audit_$side" "$dataset" >/dev/null || true
  done
done
