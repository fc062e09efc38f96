// POSIX implementation of batched atomic writes (see atomic_batch.h).
#include "io/atomic_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <optional>
#include <vector>
#include <set>

#include "common/error.h"
#include "common/parallel_for.h"
#include "common/stopwatch.h"
#include "io/atomic_file.h"
#include "io/file_owner.h"
#include "io/file_stamp.h"

namespace lathe {
namespace {

// Creating and renaming a file each spend much of their time waiting on the file system (folder
// locks, journal commits, discards of freed blocks: 0.1 to 3 ms apiece on a VM disk), so many in
// flight at once keep the CPUs busy: 32 threads make 100,000 of them take seconds, not minutes.
constexpr ParallelOptions kFileOps{32, 64};

std::string os_error() { return std::strerror(errno); }

// Mode and owner wanted for an entry's temp file, from its `expect` stamp when it has one
// (no system call), else from the target now (one stat; a new target: 0644, owner as made).
struct Wanted {
  mode_t mode = 0644;
  std::optional<FileOwner> owner;
};

Wanted wanted_for(const AtomicBatchEntry& e) {
  Wanted w;
  if (e.expect && e.expect->known) {
    w.mode = e.expect->mode;
    w.owner = FileOwner{e.expect->uid, e.expect->gid};
  } else {
    struct stat st {};
    if (::stat(e.path.c_str(), &st) == 0) {
      w.mode = st.st_mode & 07777;
      w.owner = FileOwner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)};
    }
  }
  if (e.mode != 0) w.mode = e.mode;
  return w;
}

// Writes one temp file with the entry's mode and owner (not yet durable: see make_durable);
// returns "" or the error message.
std::string write_temp(const std::filesystem::path& tmp, const AtomicBatchEntry& e) {
  const Wanted want = wanted_for(e);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, want.mode);
  if (fd < 0)
    return fmt::format("cannot write {}: {} (check that its folder is writable)", e.path.string(),
                       os_error());
  const char* p = e.bytes.data();
  std::size_t left = e.bytes.size();
  bool ok = true;
  while (ok && left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else p += n, left -= static_cast<std::size_t>(n);
  }
  std::string err = ok ? std::string() : os_error();
  // open() gives the file `mode` as filtered by the umask or the folder's default ACL, and the
  // process's owner (root under sudo): one fstat tells whether an fchmod or fchown is needed
  // (far cheaper than an inode update for every file).
  struct stat st {};
  if (ok && ::fstat(fd, &st) != 0) ok = false, err = os_error();
  bool chowned = false;
  if (ok && want.owner) {
    try {
      chowned = give_fd_to(fd, *want.owner, e.path,
                           FileOwner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)});
    } catch (const Error& ex) {
      ok = false, err = ex.what();
    }
  }
  // A change of owner clears set-id bits, so the mode is set again after one.
  if (ok && (chowned || (st.st_mode & 07777) != want.mode) && ::fchmod(fd, want.mode) != 0)
    ok = false, err = os_error();
  if (::close(fd) != 0 && ok) ok = false, err = os_error();
  if (ok) return {};
  ::unlink(tmp.c_str());
  return fmt::format("cannot write {}: {}", e.path.string(), err);
}

// Phase 3's last look at a target before its rename: nullopt when it is still as the caller
// checked it. One stat when nothing touched it; its bytes are read only when the stat
// differs, and a target whose bytes are still the expected ones is not a conflict (touched,
// chmod'ed, or rewritten with the same text).
std::optional<std::string> changed_since_check(const AtomicBatchEntry& e) {
  if (!e.expect || !e.expect->known) return std::nullopt;
  const std::optional<FileStamp> now = stamp_file(e.path);
  if (!now) return std::string("it was deleted or renamed");
  if (same_file_state(*e.expect, *now)) return std::nullopt;
  try {
    FileStamp read_stamp;
    if (read_file_stamped(e.path, e.expect_bytes.size(), read_stamp) == e.expect_bytes)
      return std::nullopt;
  } catch (const Error&) {
    // Larger than the expected bytes, or unreadable: changed either way.
  }
  std::string change = describe_stamp_change(*e.expect, *now);
  if (change == "it was replaced by another file") change += " with other bytes";
  return change;
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

std::vector<AtomicBatchSkip> write_files_atomic(
    const std::vector<AtomicBatchEntry>& entries, const std::string& temp_tag,
    const std::function<void(std::size_t)>& after_rename, AtomicBatchTimings* timings,
    const std::function<void(std::size_t)>& before_rename_check) {
  std::vector<AtomicBatchSkip> skipped;
  if (entries.empty()) return skipped;
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
      std::string err = write_temp(temps[i], entries[i]);
      if (!err.empty()) throw Error(err);
    }, kFileOps);
  } catch (const Error&) {
    remove_temps(temps);
    throw;
  }
  t.temp_files_s = watch.lap();
  make_durable(folders, temps);
  t.flush_s = watch.lap();

  std::mutex mu;  // guards the hooks' calls and `skipped`
  std::size_t renamed = 0;
  try {
    parallel_for(order.size(), [&](std::size_t k) {
      const std::size_t i = order[k];
      if (before_rename_check) {
        std::lock_guard<std::mutex> lock(mu);
        before_rename_check(i);
      }
      if (auto change = changed_since_check(entries[i])) {
        ::unlink(temps[i].c_str());
        std::lock_guard<std::mutex> lock(mu);
        skipped.push_back({i, std::move(*change)});
        return;
      }
      if (::rename(temps[i].c_str(), entries[i].path.c_str()) != 0)
        throw Error(fmt::format("cannot replace {}: {}", entries[i].path.string(), os_error()));
      if (!after_rename) return;
      std::lock_guard<std::mutex> lock(mu);
      after_rename(renamed++);
    }, kFileOps);
  } catch (const Error&) {
    remove_temps(temps);
    throw;
  }
  t.renames_s = watch.lap();
  for (const auto& f : folders) fsync_directory(f);
  t.folder_sync_s = watch.lap();
  std::sort(skipped.begin(), skipped.end(),
            [](const AtomicBatchSkip& a, const AtomicBatchSkip& b) { return a.index < b.index; });
  return skipped;
}

}  // namespace lathe
