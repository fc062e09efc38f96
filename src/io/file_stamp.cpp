// File stamps from stat / fstat (see file_stamp.h).
#include "io/file_stamp.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "common/error.h"

namespace lathe {
namespace {

std::int64_t nanoseconds(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

FileStamp stamp_of(const struct stat& st) {
  FileStamp s;
  s.known = true;
  s.size = static_cast<std::int64_t>(st.st_size);
  s.mtime_ns = nanoseconds(st.st_mtim);
  s.ctime_ns = nanoseconds(st.st_ctim);
  s.inode = static_cast<std::uint64_t>(st.st_ino);
  s.device = static_cast<std::uint64_t>(st.st_dev);
  s.mode = static_cast<unsigned>(st.st_mode & 07777);
  s.uid = static_cast<unsigned>(st.st_uid);
  s.gid = static_cast<unsigned>(st.st_gid);
  return s;
}

[[noreturn]] void cannot_read(const std::filesystem::path& path, int fd) {
  const std::string err = std::strerror(errno);
  if (fd >= 0) ::close(fd);
  throw Error(fmt::format("cannot read {}: {}", path.string(), err));
}

}  // namespace

std::optional<FileStamp> stamp_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return stamp_of(st);
}

std::string read_file_stamped(const std::filesystem::path& path, std::size_t max_bytes,
                              FileStamp& stamp) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) cannot_read(path, -1);
  struct stat st {};
  if (::fstat(fd, &st) != 0) cannot_read(path, fd);
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("cannot read {}: it is a folder, expected a file", path.string()));
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(fmt::format("{} is {} bytes, more than the {} bytes allowed here", path.string(),
                            st.st_size, max_bytes));
  }
  stamp = stamp_of(st);
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) cannot_read(path, fd);
    if (n == 0) break;  // the file shrank while we read it: its stamp will not match later
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  ::close(fd);
  return out;
}

bool same_file_state(const FileStamp& a, const FileStamp& b) {
  return a.known == b.known && a.size == b.size && a.mtime_ns == b.mtime_ns &&
         a.ctime_ns == b.ctime_ns && a.inode == b.inode && a.device == b.device &&
         a.mode == b.mode && a.uid == b.uid && a.gid == b.gid;
}

std::string describe_stamp_change(const FileStamp& before, const FileStamp& now) {
  if (same_file_state(before, now)) return {};
  if (before.inode != now.inode || before.device != now.device)
    return "it was replaced by another file";
  if (before.size != now.size)
    return fmt::format("its size went from {} to {} bytes", before.size, now.size);
  if (before.mtime_ns != now.mtime_ns) return "its modification time changed";
  if (before.mode != now.mode) return "its permissions changed";
  if (before.uid != now.uid || before.gid != now.gid) return "its owner changed";
  return "its status change time changed";
}

}  // namespace lathe
