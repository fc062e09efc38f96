// POSIX implementation of the streaming atomic writer (see atomic_writer.h).
#include "io/atomic_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

constexpr std::size_t kBufferBytes = std::size_t(4) << 20;  // few syscalls, little memory

std::string os_error() { return std::strerror(errno); }

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return path.parent_path() /
         fmt::format(".{}.tmp-{}-{:x}", path.filename().string(), ::getpid(), rng() & 0xffffffu);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::filesystem::path& path)
    : path_(path), tmp_(temp_path_for(path)) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) mode_ = st.st_mode & 07777;
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_);
  if (fd_ < 0) {
    throw Error(fmt::format("cannot write {}: {} (check that the folder exists and is writable)",
                            path.string(), os_error()));
  }
  buffer_.reserve(kBufferBytes);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::write_through(std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(fmt::format("cannot write {}: {}", path_.string(), os_error()));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::flush_buffer() {
  write_through(buffer_);
  buffer_.clear();
}

void AtomicFileWriter::write(std::string_view bytes) {
  if (committed_) throw Error(fmt::format("cannot write {}: already committed", path_.string()));
  if (buffer_.size() + bytes.size() > kBufferBytes) flush_buffer();
  if (bytes.size() >= kBufferBytes) {  // large tensors go straight to the file, uncopied
    write_through(bytes);
    return;
  }
  buffer_.append(bytes.data(), bytes.size());
}

void AtomicFileWriter::commit() {
  flush_buffer();
  if (::fchmod(fd_, mode_) != 0 || ::fsync(fd_) != 0) {
    throw Error(fmt::format("cannot write {}: {}", path_.string(), os_error()));
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw Error(fmt::format("cannot write {}: {}", path_.string(), os_error()));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw Error(fmt::format("cannot replace {}: {}", path_.string(), os_error()));
  }
  committed_ = true;
  fsync_directory(path_.parent_path());
}

}  // namespace lathe
