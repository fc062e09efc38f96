// The runs folder's training lock (see train_lock.h).
#include "runs/train_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "runs/run_status.h"

namespace lathe {

std::filesystem::path train_lock_path(const std::filesystem::path& runs_root) {
  return runs_root / ".train.lock";
}

std::optional<TrainLock> TrainLock::try_acquire(const std::filesystem::path& runs_root) {
  std::error_code ec;
  std::filesystem::create_directories(runs_root, ec);
  const auto path = train_lock_path(runs_root);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error(
        fmt::format("cannot open the training lock {}: {}", path.string(), std::strerror(errno)));
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::nullopt;
    throw Error(fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
  }
  return TrainLock(fd);
}

TrainLock TrainLock::adopt(int fd) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // handed on explicitly, never leaked into other children
  return TrainLock(fd);
}

TrainLock::TrainLock(TrainLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

TrainLock& TrainLock::operator=(TrainLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

TrainLock::~TrainLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<RunPaths> find_active_run(const std::filesystem::path& runs_root) {
  for (const RunPaths& run : list_runs(runs_root)) {
    try {
      RunState s = effective_state(read_run_status(run.status()));
      if (s == RunState::Running || s == RunState::Paused || s == RunState::Stopping) return run;
    } catch (const Error&) {
      // A damaged status file is not a running run; `lathe runs list` reports it.
    }
  }
  return std::nullopt;
}

}  // namespace lathe
