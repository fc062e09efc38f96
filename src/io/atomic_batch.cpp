// POSIX implementation of batched atomic writes (see atomic_batch.h).
#include "io/atomic_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <vector>
#include <set>

#include "common/error.h"
#include "common/parallel_for.h"
#include "common/stopwatch.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

// Creating and renaming a file each spend much of their time waiting on the file system (folder
// locks, journal commits, discards of freed blocks: 0.1 to 3 ms apiece on a VM disk), so many in
// flight at once keep the CPUs busy: 32 threads make 100,000 of them take seconds, not minutes.
constexpr ParallelOptions kFileOps{32, 64};

std::string os_error() { return std::strerror(errno); }

// open() gives a new file `mode` as filtered by the umask or the folder's default ACL; fchmod
// only when that changed it (fstat of the open file is far cheaper than an inode update).
bool has_mode(int fd, mode_t mode) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && (st.st_mode & 07777) == mode;
}

// Writes one temp file with `mode` (0: the target's current mode) (not yet durable: see
// make_durable); returns "" or the error message.
std::string write_temp(const std::filesystem::path& tmp, const std::filesystem::path& target,
                       std::string_view bytes, mode_t mode) {
  if (mode == 0) {
    mode = 0644;
    struct stat st {};
    if (::stat(target.c_str(), &st) == 0) mode = st.st_mode & 07777;
  }
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
  if (ok && !has_mode(fd, mode)) ok = ::fchmod(fd, mode) == 0;
  std::string err = ok ? std::string() : os_error();
  if (::close(fd) != 0 && ok) ok = false, err = os_error();
  if (ok) return {};
  ::unlink(tmp.c_str());
  return fmt::format("cannot write {}: {}", target.string(), err);
}

void remove_temps(const std::vector<std::filesystem::path>& temps) {
  for (const auto& t : temps) ::unlink(t.c_str());  // ENOENT for the ones already renamed
}

// Phase 2: one syncfs() per file system the folders live on makes every temp file durable at
// once. Per-file fdatasync costs one journal commit each (minutes for 100,000 captions on a
// VM disk); syncfs costs one. A crash before it leaves only temp files, which the caller's
// journal removes; no target has been touched yet.
void make_durable(const std::set<std::filesystem::path>& folders,
                  const std::vector<std::filesystem::path>& temps) {
  std::set<dev_t> synced;
  for (const auto& folder : folders) {
    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0 || !synced.insert(st.st_dev).second) continue;
    int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool ok = fd >= 0 && ::syncfs(fd) == 0;
    const std::string err = ok ? std::string() : os_error();
    if (fd >= 0) ::close(fd);
    if (!ok) {
      remove_temps(temps);
      throw Error(fmt::format("cannot flush the new caption files in {} to disk: {}",
                              folder.string(), err));
    }
  }
}

// The entries' indices interleaved folder by folder (first file of each folder, then the
// second of each, ...). Creating or renaming a file locks its folder, so threads that work on
// different folders at the same moment do not queue behind each other.
std::vector<std::size_t> interleaved_by_folder(const std::vector<AtomicBatchEntry>& entries) {
  std::map<std::filesystem::path, std::vector<std::size_t>> by_folder;
  for (std::size_t i = 0; i < entries.size(); ++i)
    by_folder[entries[i].path.parent_path()].push_back(i);
  std::vector<std::size_t> order;
  order.reserve(entries.size());
  for (std::size_t round = 0; order.size() < entries.size(); ++round)
    for (const auto& [folder, indices] : by_folder)
      if (round < indices.size()) order.push_back(indices[round]);
  return order;
}

}  // namespace

std::filesystem::path batch_temp_path(const std::filesystem::path& target,
                                      const std::string& temp_tag) {
  return target.parent_path() / fmt::format(".{}.{}.tmp", target.filename().string(), temp_tag);
}

void write_files_atomic(const std::vector<AtomicBatchEntry>& entries, const std::string& temp_tag,
                        const std::function<void(std::size_t)>& after_rename,
                        AtomicBatchTimings* timings) {
  if (entries.empty()) return;
  AtomicBatchTimings unused;
  AtomicBatchTimings& t = timings ? *timings : unused;
  Stopwatch watch;
  std::vector<std::filesystem::path> temps;
  temps.reserve(entries.size());
  for (const auto& e : entries) temps.push_back(batch_temp_path(e.path, temp_tag));
  std::set<std::filesystem::path> folders;
  for (const auto& e : entries) folders.insert(e.path.parent_path());
  const std::vector<std::size_t> order = interleaved_by_folder(entries);

  try {
    parallel_for(order.size(), [&](std::size_t k) {
      const std::size_t i = order[k];
      std::string err =
          write_temp(temps[i], entries[i].path, entries[i].bytes, entries[i].mode);
      if (!err.empty()) throw Error(err);
    }, kFileOps);
  } catch (const Error&) {
    remove_temps(temps);
    throw;
  }
  t.temp_files_s = watch.lap();
  make_durable(folders, temps);
  t.flush_s = watch.lap();

  std::mutex progress_mu;
  std::size_t renamed = 0;
  try {
    parallel_for(order.size(), [&](std::size_t k) {
      const std::size_t i = order[k];
      if (::rename(temps[i].c_str(), entries[i].path.c_str()) != 0)
        throw Error(fmt::format("cannot replace {}: {}", entries[i].path.string(), os_error()));
      if (!after_rename) return;
      std::lock_guard<std::mutex> lock(progress_mu);
      after_rename(renamed++);
    }, kFileOps);
  } catch (const Error&) {
    remove_temps(temps);
    throw;
  }
  t.renames_s = watch.lap();
  for (const auto& f : folders) fsync_directory(f);
  t.folder_sync_s = watch.lap();
}

}  // namespace lathe
