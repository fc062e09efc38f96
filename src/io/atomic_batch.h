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

namespace lathe {

struct AtomicBatchEntry {
  std::filesystem::path path;
  std::string_view bytes;  // must stay alive during the call
  unsigned mode = 0;       // permission bits for the new file; 0: the target's current ones
};

// Wall time of each phase of one batch write, in seconds (benchmarks report them).
struct AtomicBatchTimings {
  double temp_files_s = 0;   // phase 1
  double flush_s = 0;        // phase 2
  double renames_s = 0;      // phase 3
  double folder_sync_s = 0;  // phase 4
};

// Phase 1 writes every temp file (batch_temp_path) keeping each target's mode; phase 2 makes
// them durable (one syncfs per file system involved); phase 3 renames them over their targets,
// calling after_rename(k) as the k-th rename completes (k counts 0, 1, 2, ...; calls are
// serialised); phase 4 fsyncs each folder once. Phases 1 and 3 run on many threads, since
// each file operation waits on the file system, not the CPU. A failure in phase 1 or 2 removes
// every temp file and leaves all targets untouched. A failed rename throws too: targets
// renamed before it (in any order) hold their new bytes, which the caller (the edit journal,
// which compares contents) must restore. Throws lathe::Error naming the file and the OS error.
void write_files_atomic(const std::vector<AtomicBatchEntry>& entries, const std::string& temp_tag,
                        const std::function<void(std::size_t)>& after_rename = {},
                        AtomicBatchTimings* timings = nullptr);

// ".<name>.<temp_tag>.tmp" beside `target`: predictable, so a journal that recovers from a
// crash can delete the temp files the crashed batch left behind.
std::filesystem::path batch_temp_path(const std::filesystem::path& target,
                                      const std::string& temp_tag);

}  // namespace lathe
