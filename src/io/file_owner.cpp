// Keeping owners on rewrite (see file_owner.h).
#include "io/file_owner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <random>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

std::string os_error() { return std::strerror(errno); }

[[noreturn]] void fail(int fd, const std::filesystem::path& tmp, const std::string& message) {
  if (fd >= 0) ::close(fd);
  ::unlink(tmp.c_str());
  throw Error(message);
}

}  // namespace

std::optional<FileOwner> owner_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileOwner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)};
}

bool give_fd_to(int fd, const FileOwner& owner, const std::filesystem::path& shown,
                std::optional<FileOwner> current) {
  if (!current) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
      throw Error(fmt::format("cannot write {}: {}", shown.string(), os_error()));
    current = FileOwner{static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid)};
  }
  if (current->uid == owner.uid && current->gid == owner.gid) return false;
  if (::fchown(fd, owner.uid, owner.gid) == 0) return true;
  if (errno != EPERM)
    throw Error(fmt::format("cannot give {} back to its owner (uid {}, gid {}): {}",
                            shown.string(), owner.uid, owner.gid, os_error()));
  // Not root: the group can still be kept when the user belongs to it.
  return current->gid != owner.gid && ::fchown(fd, static_cast<uid_t>(-1), owner.gid) == 0;
}

void give_path_to(const std::filesystem::path& path, const FileOwner& owner) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (st.st_uid == owner.uid && st.st_gid == owner.gid) return;
  if (::lchown(path.c_str(), owner.uid, owner.gid) != 0 && errno != EPERM)
    throw Error(fmt::format("cannot give {} to its folder's owner (uid {}, gid {}): {}",
                            path.string(), owner.uid, owner.gid, os_error()));
}

void write_file_atomic_owned(const std::filesystem::path& path, std::string_view bytes,
                             const FileOwner& owner) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::filesystem::path tmp =
      path.parent_path() /
      fmt::format(".{}.tmp-{}-{:x}", path.filename().string(), ::getpid(), rng() & 0xffffffu);
  mode_t mode = 0644;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    throw Error(fmt::format("cannot write {}: {} (check that the folder exists and is writable)",
                            path.string(), os_error()));
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(fd, tmp, fmt::format("cannot write {}: {}", path.string(), os_error()));
    done += static_cast<std::size_t>(n);
  }
  try {
    give_fd_to(fd, owner, path);
  } catch (const Error& e) {
    fail(fd, tmp, e.what());
  }
  // fchmod after fchown: a change of owner clears the set-id bits.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0)
    fail(fd, tmp, fmt::format("cannot write {}: {}", path.string(), os_error()));
  if (::close(fd) != 0) fail(-1, tmp, fmt::format("cannot write {}: {}", path.string(), os_error()));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    fail(-1, tmp, fmt::format("cannot replace {}: {}", path.string(), os_error()));
  fsync_directory(path.parent_path());
}

}  // namespace lathe
