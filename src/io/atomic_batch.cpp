// POSIX implementation of batched atomic writes (see atomic_batch.h).
#include "io/atomic_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <set>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

// Below this many files an fsync per file is cheaper than flushing the whole file system.
constexpr std::size_t kSyncfsThreshold = 32;

std::string os_error() { return std::strerror(errno); }

void write_temp(const std::filesystem::path& tmp, const std::filesystem::path& target,
                std::string_view bytes, bool fsync_now) {
  mode_t mode = 0644;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) mode = st.st_mode & 07777;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    throw Error(fmt::format("cannot write {}: {} (check that its folder is writable)",
                            target.string(), os_error()));
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  bool ok = true;
  while (ok && left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else p += n, left -= static_cast<std::size_t>(n);
  }
  if (ok) ok = ::fchmod(fd, mode) == 0 && (!fsync_now || ::fsync(fd) == 0);
  std::string err = ok ? std::string() : os_error();
  if (::close(fd) != 0 && ok) ok = false, err = os_error();
  if (!ok) {
    ::unlink(tmp.c_str());
    throw Error(fmt::format("cannot write {}: {}", target.string(), err));
  }
}

void remove_temps(const std::vector<std::filesystem::path>& temps, std::size_t from) {
  for (std::size_t i = from; i < temps.size(); ++i) ::unlink(temps[i].c_str());
}

}  // namespace

std::filesystem::path batch_temp_path(const std::filesystem::path& target,
                                      const std::string& temp_tag) {
  return target.parent_path() / fmt::format(".{}.{}.tmp", target.filename().string(), temp_tag);
}

void write_files_atomic(const std::vector<AtomicBatchEntry>& entries, const std::string& temp_tag,
                        const std::function<void(std::size_t)>& after_rename) {
  if (entries.empty()) return;
  const bool per_file_fsync = entries.size() < kSyncfsThreshold;
  std::vector<std::filesystem::path> temps;
  temps.reserve(entries.size());
  try {
    for (const auto& e : entries) {
      temps.push_back(batch_temp_path(e.path, temp_tag));
      write_temp(temps.back(), e.path, e.bytes, per_file_fsync);
    }
  } catch (...) {
    remove_temps(temps, 0);
    throw;
  }
  if (!per_file_fsync) {
    int fd = ::open(entries.front().path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = fd >= 0 && ::syncfs(fd) == 0;
    std::string err = ok ? std::string() : os_error();
    if (fd >= 0) ::close(fd);
    if (!ok) {
      remove_temps(temps, 0);
      throw Error(fmt::format("cannot flush the new captions to disk: {}", err));
    }
  }
  std::set<std::filesystem::path> folders;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (::rename(temps[i].c_str(), entries[i].path.c_str()) != 0) {
      std::string err = os_error();
      remove_temps(temps, i);
      throw Error(fmt::format("cannot replace {}: {}", entries[i].path.string(), err));
    }
    folders.insert(entries[i].path.parent_path());
    if (after_rename) after_rename(i);
  }
  for (const auto& f : folders) fsync_directory(f);
}

}  // namespace lathe
