// One run at a time per runs folder, made race-free with flock(2) on <runs>/.train.lock. The
// process that trains holds an exclusive lock for its whole life; the kernel drops it when the
// process dies in any way (kill -9, reboot), so a stale lock cannot exist. The launcher takes
// the lock before creating a run and hands the very same open file (not a new lock) to the
// detached worker it starts, so there is no window where nobody holds it.
#pragma once

#include <filesystem>
#include <optional>

#include "runs/run_dir.h"

namespace lathe {

class TrainLock {
 public:
  // Takes the lock of `runs_root` without waiting; nullopt when another process holds it.
  // Throws lathe::Error when the lock file cannot be opened (folder missing, permissions).
  static std::optional<TrainLock> try_acquire(const std::filesystem::path& runs_root);
  // Takes ownership of a descriptor inherited from the launcher (already locked).
  static TrainLock adopt(int fd);

  TrainLock(TrainLock&& other) noexcept;
  TrainLock& operator=(TrainLock&& other) noexcept;
  TrainLock(const TrainLock&) = delete;
  TrainLock& operator=(const TrainLock&) = delete;
  // Closes this descriptor. Never unlocks explicitly: a child the lock was handed to keeps it.
  ~TrainLock();

  int fd() const { return fd_; }

 private:
  explicit TrainLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

std::filesystem::path train_lock_path(const std::filesystem::path& runs_root);

// The run of `runs_root` that is training now (running, paused or stopping, with a live
// process), if any: for the "already running" message.
std::optional<RunPaths> find_active_run(const std::filesystem::path& runs_root);

}  // namespace lathe
