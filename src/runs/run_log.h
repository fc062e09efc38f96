// log.txt of a run: human-readable lines, each stamped with UTC time, appended with one
// write() per line (O_APPEND) so the worker's own lines and anything libtorch prints to the
// redirected stderr interleave whole. In the foreground the same lines also go to the terminal.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace lathe {

class RunLog {
 public:
  // `echo` (may be empty) receives each line as written, without the time stamp.
  explicit RunLog(std::filesystem::path file, std::function<void(const std::string&)> echo = {});
  // Appends "2026-11-22 08:01:02 <line>". A failed append (disk full) is reported to echo only:
  // losing a log line must never stop training.
  void line(const std::string& text) const;
  const std::filesystem::path& path() const { return file_; }

 private:
  std::filesystem::path file_;
  std::function<void(const std::string&)> echo_;
};

// "2026-11-22 08:01:02" for a unix time (UTC).
std::string format_utc(double unix_seconds);

}  // namespace lathe
