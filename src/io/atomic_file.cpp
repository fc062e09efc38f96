// POSIX implementation of atomic writes (see atomic_file.h for the contract).
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <random>

#include "common/error.h"

namespace lathe {
namespace {

std::string os_error() { return std::strerror(errno); }

std::string temp_name_for(const std::filesystem::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format(".{}.tmp-{}-{:x}", path.filename().string(), ::getpid(), rng() & 0xffffffu);
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& tmp) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(fmt::format("cannot write {}: {}", tmp.string(), os_error()));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

void fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // Some file systems do not allow it; the rename itself is still atomic.
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path dir = path.parent_path();
  const std::filesystem::path tmp = dir / temp_name_for(path);
  mode_t mode = 0644;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;

  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    throw Error(fmt::format("cannot write {}: {} (check that the folder exists and is writable)",
                            path.string(), os_error()));
  }
  try {
    write_all(fd, bytes, tmp);
    if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
      throw Error(fmt::format("cannot write {}: {}", path.string(), os_error()));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error(fmt::format("cannot write {}: {}", path.string(), os_error()));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = os_error();
    ::unlink(tmp.c_str());
    throw Error(fmt::format("cannot replace {}: {}", path.string(), err));
  }
  fsync_directory(dir);
}

std::string read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  ReadFileInfo unused;
  return read_file(path, max_bytes, unused);
}

std::string read_file(const std::filesystem::path& path, std::size_t max_bytes,
                      ReadFileInfo& info) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot read {}: {}", path.string(), os_error()));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(fmt::format("cannot read {}: {}", path.string(), os_error()));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("cannot read {}: it is a folder, expected a file", path.string()));
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(fmt::format("{} is {} bytes, more than the {} bytes allowed here", path.string(),
                            st.st_size, max_bytes));
  }
  info.size = static_cast<std::int64_t>(st.st_size);
  info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info.mode = static_cast<unsigned>(st.st_mode & 07777);
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw Error(fmt::format("cannot read {}: {}", path.string(), os_error()));
    }
    if (n == 0) break;  // The file shrank while we read it.
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  ::close(fd);
  return out;
}

}  // namespace lathe
