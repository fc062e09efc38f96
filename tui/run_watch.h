// Keeps the latest snapshot of runs for the Runs screens: lists the runs folder and rereads
// a run's status.json or metrics.jsonl only when the file's size or time changed, so polling
// twice a second costs a few stat calls. A live run whose process is gone shows as
// interrupted (effective_state), which changes without any file changing.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runs/metrics_log.h"
#include "runs/run_dir.h"
#include "runs/run_status.h"

namespace lathe::tui {

struct FileStamp {
  long long size = -1;
  long long mtime_ns = -1;
  bool operator==(const FileStamp& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};
FileStamp stamp_of(const std::filesystem::path& file);

struct RunSnapshot {
  RunPaths paths;
  RunStatus status;
  RunState state = RunState::Queued;  // effective state
  RunMetrics metrics;
  std::string error;  // status.json could not be read
  FileStamp status_stamp, metrics_stamp;

  // Rereads what changed; true when anything shown may differ.
  bool refresh();
};

// The smoothed training loss of every step record (the curve sparklines and charts draw).
std::vector<double> loss_values(const RunMetrics& m);

class RunWatch {
 public:
  explicit RunWatch(std::filesystem::path runs_root) : root_(std::move(runs_root)) {}
  const std::filesystem::path& root() const { return root_; }
  bool refresh();
  const std::vector<RunSnapshot>& runs() const { return runs_; }

 private:
  std::filesystem::path root_;
  std::vector<RunSnapshot> runs_;
};

}  // namespace lathe::tui
