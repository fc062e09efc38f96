// Starting queued runs (see run_queue.h).
#include "runs/run_queue.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/error.h"
#include "runs/detach.h"
#include "runs/run_status.h"

namespace lathe {
namespace {

void note(const RunLog* log, const std::string& text) {
  if (log) log->line(text);
}

}  // namespace

std::vector<RunPaths> queued_runs(const std::filesystem::path& runs_root) {
  struct Entry {
    double queued_at;
    RunPaths run;
  };
  std::vector<Entry> entries;
  for (const RunPaths& run : list_runs(runs_root)) {
    try {
      RunStatus s = read_run_status(run.status());
      if (s.state == RunState::Queued) entries.push_back({s.updated_at, run});
    } catch (const Error&) {
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.queued_at < b.queued_at; });
  std::vector<RunPaths> out;
  for (auto& e : entries) out.push_back(e.run);
  return out;
}

std::optional<RunPaths> start_next_queued(const std::filesystem::path& runs_root,
                                          const TrainLock& lock, const std::filesystem::path& exe,
                                          const RunLog* log) {
  for (const RunPaths& run : queued_runs(runs_root)) {
    try {
      long long pid = spawn_detached_worker(run, lock.fd(), exe);
      note(log, fmt::format("started queued run {} (pid {})", run.run_id(), pid));
      return run;
    } catch (const Error& e) {
      note(log, fmt::format("queued run {} could not start: {}", run.run_id(), e.what()));
      try {
        RunStatus s = read_run_status(run.status());
        if (s.state == RunState::Queued || s.state == RunState::Running) {
          s.state = RunState::Failed;
          s.last_error = e.what();
          s.finished_at = s.updated_at = unix_now();
          write_run_status(run.status(), s);
        }
      } catch (const Error&) {
      }
    }
  }
  return std::nullopt;
}

std::optional<RunPaths> hand_on_queue(const std::filesystem::path& runs_root,
                                      std::optional<TrainLock>& lock,
                                      const std::filesystem::path& exe, const RunLog* log) {
  try {
    if (lock) {
      if (auto started = start_next_queued(runs_root, *lock, exe, log)) {
        lock.reset();  // the new worker holds the lock now
        return started;
      }
      lock.reset();
    }
    // A run queued after the scan above found the lock taken; it is ours to start now.
    if (queued_runs(runs_root).empty()) return std::nullopt;
    lock = TrainLock::try_acquire(runs_root);
    if (!lock) return std::nullopt;  // its holder starts the queue when it ends
    auto started = start_next_queued(runs_root, *lock, exe, log);
    lock.reset();
    return started;
  } catch (const Error& e) {
    note(log, fmt::format("cannot start the queued runs: {}", e.what()));
    lock.reset();
    return std::nullopt;
  }
}

std::optional<RunPaths> restart_stalled_queue(const std::filesystem::path& runs_root,
                                              const std::filesystem::path& exe,
                                              std::string* advice) {
  try {
    const std::size_t waiting = queued_runs(runs_root).size();
    if (waiting == 0 || find_active_run(runs_root)) return std::nullopt;
    struct stat st {};
    if (::stat(runs_root.c_str(), &st) != 0 || st.st_uid != ::geteuid()) {
      if (advice)
        *advice = fmt::format(
            "{} queued run{} wait{} and nothing is training in {}: its owner starts the queue "
            "with 'lathe runs queue --runs-dir {}'",
            waiting, waiting == 1 ? "" : "s", waiting == 1 ? "s" : "", runs_root.string(),
            runs_root.string());
      return std::nullopt;
    }
    std::optional<TrainLock> lock = TrainLock::try_acquire(runs_root);
    if (!lock) return std::nullopt;  // something trains (or is starting): it hands the queue on
    return hand_on_queue(runs_root, lock, exe, nullptr);
  } catch (const Error&) {
    return std::nullopt;  // an unreadable or read-only folder: nothing this command can do
  }
}

}  // namespace lathe
