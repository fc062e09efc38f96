// Snapshots and the changed-on-disk check (see edit_conflict.h).
#include "dataset/edit_conflict.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
std::uint64_t content_hash(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string read_with_snapshot(const std::filesystem::path& path, FileSnapshot& snapshot,
                               std::size_t max_bytes) {
  ReadFileInfo info;
  std::string bytes = read_file(path, max_bytes, info);
  snapshot.size = static_cast<std::int64_t>(bytes.size());
  snapshot.mtime_ns = info.mtime_ns;
  snapshot.hash = content_hash(bytes);
  return bytes;
}

std::optional<std::string> describe_change(const std::filesystem::path& path,
                                           const FileSnapshot& snapshot, FileStamp* now) {
  FileStamp info;
  std::string bytes;
  if (now) *now = FileStamp{};
  try {
    bytes = read_file_stamped(path, std::size_t(1) << 34, info);
    if (now) *now = info;
  } catch (const Error& e) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) return std::string("it was deleted or renamed");
    return fmt::format("it can no longer be read ({})", e.what());
  }
  if (info.size != snapshot.size)
    return fmt::format("its size went from {} to {} bytes", snapshot.size, info.size);
  if (info.mtime_ns != snapshot.mtime_ns) return std::string("its modification time changed");
  if (content_hash(bytes) != snapshot.hash) return std::string("its content changed");
  return std::nullopt;
}

std::string conflict_message(const std::filesystem::path& path, const std::string& change) {
  return fmt::format(
      "{} changed on disk since Lathe read it ({}); nothing was written. Check that no other "
      "program is editing the captions, then run the command again",
      path.string(), change);
}

bool is_marked_read_only(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return is_read_only_mode(st.st_mode & 07777);
}

bool is_read_only_mode(unsigned mode) { return (mode & 0222) == 0; }

}  // namespace lathe
