// Run snapshots refreshed by file stamps (see run_watch.h).
#include "tui/run_watch.h"

#include <sys/stat.h>

#include "common/error.h"

namespace lathe::tui {

namespace fs = std::filesystem;

FileStamp stamp_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  return FileStamp{static_cast<long long>(st.st_size),
                   static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

std::vector<double> loss_values(const RunMetrics& m) {
  std::vector<double> v;
  v.reserve(m.steps.size());
  for (const auto& s : m.steps) v.push_back(s.loss_smoothed != 0 ? s.loss_smoothed : s.loss);
  return v;
}

bool RunSnapshot::refresh() {
  bool changed = false;
  FileStamp s = stamp_of(paths.status());
  if (s != status_stamp) {
    status_stamp = s;
    changed = true;
    try {
      status = read_run_status(paths.status());
      error.clear();
    } catch (const Error& e) {
      // Keep the last good status: a half-visible rename is retried on the next poll.
      error = e.what();
    }
  }
  FileStamp m = stamp_of(paths.metrics());
  if (m != metrics_stamp) {
    metrics_stamp = m;
    changed = true;
    metrics = m.size >= 0 ? read_metrics(paths.metrics()) : RunMetrics{};
  }
  RunState now = error.empty() || status_stamp.size >= 0 ? effective_state(status) : state;
  if (now != state) state = now, changed = true;
  return changed;
}

bool RunWatch::refresh() {
  std::vector<RunPaths> listed;
  std::error_code ec;
  if (fs::is_directory(root_, ec)) listed = list_runs(root_);
  bool changed = listed.size() != runs_.size();
  std::vector<RunSnapshot> next;
  next.reserve(listed.size());
  for (auto& p : listed) {
    RunSnapshot snap;
    snap.paths = p;
    for (auto& old : runs_)
      if (old.paths.dir == p.dir) snap = std::move(old);
    changed |= snap.refresh();
    next.push_back(std::move(snap));
  }
  runs_ = std::move(next);
  return changed;
}

}  // namespace lathe::tui
