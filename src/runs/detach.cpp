// Double-fork detaching of a run's worker (see detach.h).
#include "runs/detach.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

std::string log_tail(const std::filesystem::path& log, std::size_t max_chars = 1500) {
  try {
    std::string text = read_file(log, 64u << 20);
    if (text.size() > max_chars) text = "..." + text.substr(text.size() - max_chars);
    return text;
  } catch (const Error&) {
    return "";
  }
}

// Reads what the worker writes on the ready pipe until it closes or the time runs out.
std::string read_ready(int fd, int timeout_s) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

}  // namespace

std::filesystem::path current_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    throw Error(fmt::format("cannot find the lathe binary (/proc/self/exe): {}", ec.message()));
  return p;
}

long long spawn_detached_worker(const RunPaths& run, int lock_fd, const std::filesystem::path& exe,
                                int timeout_s) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0)
    throw Error(fmt::format("cannot start the worker: pipe: {}", std::strerror(errno)));
  int log_fd = ::open(run.log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    std::string err = std::strerror(errno);
    for (int fd : {ready[0], ready[1], log_fd, null_fd})
      if (fd >= 0) ::close(fd);
    throw Error(fmt::format("cannot open {} for the worker's output: {}", run.log().string(), err));
  }
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls (the caller may have threads, e.g. a finishing worker).
  std::vector<std::string> args = {"lathe",          "train",      "--worker",
                                   run.dir.string(), "--ready-fd", std::to_string(ready[1])};
  if (lock_fd >= 0) args.insert(args.end(), {"--lock-fd", std::to_string(lock_fd)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string exe_path = exe.string();

  pid_t child = ::fork();
  if (child < 0) {
    std::string err = std::strerror(errno);
    for (int fd : {ready[0], ready[1], log_fd, null_fd}) ::close(fd);
    throw Error(fmt::format("cannot start the worker: fork: {}", err));
  }
  if (child == 0) {
    ::setsid();  // leave the terminal's session: a hang-up no longer reaches the worker
    pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    // The grandchild is not a session leader, so it can never acquire a controlling terminal.
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::fcntl(ready[1], F_SETFD, 0);
    if (lock_fd >= 0) ::fcntl(lock_fd, F_SETFD, 0);
    ::execv(exe_path.c_str(), argv.data());
    const char msg[] = "lathe: cannot exec the worker\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(ready[1]);
  ::close(log_fd);
  ::close(null_fd);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::string reply = read_ready(ready[0], timeout_s);
  ::close(ready[0]);
  long long pid = 0;
  if (reply.rfind("ok ", 0) == 0) pid = std::atoll(reply.c_str() + 3);
  if (pid <= 0)
    throw Error(fmt::format("the worker of run {} did not start. The end of {}:\n{}", run.run_id(),
                            run.log().string(), log_tail(run.log())));
  return pid;
}

void report_worker_started(int ready_fd) {
  if (ready_fd < 0) return;
  std::string msg = fmt::format("ok {}\n", static_cast<long long>(::getpid()));
  (void)!::write(ready_fd, msg.data(), msg.size());
  ::close(ready_fd);
}

}  // namespace lathe
