// Atomic writes of many files at once, for journaled batches (a caption edit over 100,000
// files). Same contract as write_file_atomic for every file (temp file in the same folder,
// data durable before the rename, rename, folder fsync) but the temp files are made durable
// together by one syncfs() per file system instead of one fdatasync each, and each folder is
// synced once instead of once per file: that is what makes a dataset-wide edit take seconds,
// not minutes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/file_stamp.h"

namespace lathe {

struct AtomicBatchEntry {
  std::filesystem::path path;
  std::string_view bytes;  // must stay alive during the call
  unsigned mode = 0;       // permission bits for the new file; 0: the target's current ones
  // The target as the caller last checked it, with the bytes it held then (both must stay
  // alive during the call). When given, the new file gets the target's mode (unless `mode`
  // says otherwise) and owner from it, and the target is checked once more right before its
  // rename: one stat() compared with the stamp, then its bytes only when the stamp differs.
  // A target found changed is left as it is and reported (AtomicBatchSkip).
  const FileStamp* expect = nullptr;
  std::string_view expect_bytes = {};
};

// A target left alone because it changed between the caller's check and its rename.
struct AtomicBatchSkip {
  std::size_t index = 0;  // into the entries
  std::string change;     // "its size went from 12 to 40 bytes", "it was deleted or renamed"
};

// Wall time of each phase of one batch write, in seconds (benchmarks report them).
struct AtomicBatchTimings {
  double temp_files_s = 0;   // phase 1
  double flush_s = 0;        // phase 2
  double renames_s = 0;      // phase 3
  double folder_sync_s = 0;  // phase 4
};

// Phase 1 writes every temp file (batch_temp_path) keeping each target's mode and owner (a
// batch run as root must not hand a user's captions to root); phase 2 makes them durable (one
// syncfs per file system involved); phase 3 checks each target that has an `expect` stamp
// and renames its temp file over it, calling after_rename(k) as the k-th rename completes (k
// counts 0, 1, 2, ...; calls are serialised); phase 4 fsyncs each folder once. Returns the
// targets phase 3 left alone because they changed (their temp files are removed), in entry
// order; every other target holds its new bytes. `before_rename_check(i)` (tests) runs right
// before entry i is checked, to change a target in between as another program might. Phases 1 and 3 run on many threads, since
// each file operation waits on the file system, not the CPU. A failure in phase 1 or 2 removes
// every temp file and leaves all targets untouched. A failed rename throws too: targets
// renamed before it (in any order) hold their new bytes, which the caller (the edit journal,
// which compares contents) must restore. Throws lathe::Error naming the file and the OS error.
std::vector<AtomicBatchSkip> write_files_atomic(
    const std::vector<AtomicBatchEntry>& entries, const std::string& temp_tag,
    const std::function<void(std::size_t)>& after_rename = {},
    AtomicBatchTimings* timings = nullptr,
    const std::function<void(std::size_t)>& before_rename_check = {});

// ".<name>.<temp_tag>.tmp" beside `target`: predictable, so a journal that recovers from a
// crash can delete the temp files the crashed batch left behind.
std::filesystem::path batch_temp_path(const std::filesystem::path& target,
                                      const std::string& temp_tag);

}  // namespace lathe
