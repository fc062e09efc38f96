// log.txt appender (see run_log.h).
#include "runs/run_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>

#include "runs/run_status.h"

namespace lathe {

std::string format_utc(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

RunLog::RunLog(std::filesystem::path file, std::function<void(const std::string&)> echo)
    : file_(std::move(file)), echo_(std::move(echo)) {}

void RunLog::line(const std::string& text) const {
  if (echo_) echo_(text);
  std::string data = fmt::format("{} {}\n", format_utc(unix_now()), text);
  int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  if (fd >= 0) ::close(fd);
  if (!ok && echo_) echo_(fmt::format("(could not append to {})", file_.string()));
}

}  // namespace lathe
