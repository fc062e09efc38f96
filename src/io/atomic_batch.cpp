// POSIX implementation of batched atomic writes (see atomic_batch.h).
#include "io/atomic_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

// fsync waits for a journal commit; many in flight at once share one commit (ext4, xfs group
// commit), so temp files are written and synced by this many threads in parallel.
constexpr std::size_t kSyncThreads = 16;

std::string os_error() { return std::strerror(errno); }

// Writes and fsyncs one temp file with the target's mode; returns "" or the error message.
std::string write_temp(const std::filesystem::path& tmp, const std::filesystem::path& target,
                       std::string_view bytes) {
  mode_t mode = 0644;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) mode = st.st_mode & 07777;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return fmt::format("cannot write {}: {} (check that its folder is writable)", target.string(),
                       os_error());
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  bool ok = true;
  while (ok && left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else p += n, left -= static_cast<std::size_t>(n);
  }
  if (ok) ok = ::fchmod(fd, mode) == 0 && ::fdatasync(fd) == 0;
  std::string err = ok ? std::string() : os_error();
  if (::close(fd) != 0 && ok) ok = false, err = os_error();
  if (ok) return {};
  ::unlink(tmp.c_str());
  return fmt::format("cannot write {}: {}", target.string(), err);
}

void remove_temps(const std::vector<std::filesystem::path>& temps, std::size_t from) {
  for (std::size_t i = from; i < temps.size(); ++i) ::unlink(temps[i].c_str());
}

// Phases 1 and 2: every temp file written and durable, or none left behind and an Error.
void write_all_temps(const std::vector<AtomicBatchEntry>& entries,
                     const std::vector<std::filesystem::path>& temps) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string first_error;
  auto worker = [&] {
    for (std::size_t i; !failed && (i = next++) < entries.size();) {
      std::string err = write_temp(temps[i], entries[i].path, entries[i].bytes);
      if (err.empty()) continue;
      std::lock_guard<std::mutex> lock(mu);
      if (!failed.exchange(true)) first_error = err;
    }
  };
  const std::size_t n_threads = std::min(kSyncThreads, entries.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n_threads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (failed) {
    remove_temps(temps, 0);
    throw Error(first_error);
  }
}

}  // namespace

std::filesystem::path batch_temp_path(const std::filesystem::path& target,
                                      const std::string& temp_tag) {
  return target.parent_path() / fmt::format(".{}.{}.tmp", target.filename().string(), temp_tag);
}

void write_files_atomic(const std::vector<AtomicBatchEntry>& entries, const std::string& temp_tag,
                        const std::function<void(std::size_t)>& after_rename) {
  if (entries.empty()) return;
  std::vector<std::filesystem::path> temps;
  temps.reserve(entries.size());
  for (const auto& e : entries) temps.push_back(batch_temp_path(e.path, temp_tag));
  write_all_temps(entries, temps);
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
