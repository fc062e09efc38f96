// What a file looked like when Lathe last looked at it (size, times, inode, mode, owner), read
// with the same fstat as its bytes, so a later stat() can tell cheaply whether anything
// touched it since: the batch writer checks every caption once more right before its rename,
// so an edit never overwrites a change another program made while the batch ran.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace lathe {

struct FileStamp {
  bool known = false;  // false: never looked at (nothing to compare)
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;  // changes on every write, chmod, chown, rename over it
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  unsigned mode = 0;  // permission bits (st_mode & 07777)
  unsigned uid = 0;
  unsigned gid = 0;
};

// The stamp of `path` now (stat, following symlinks); nullopt when it cannot be stat'ed.
std::optional<FileStamp> stamp_file(const std::filesystem::path& path);

// Reads a whole file and the stamp of the very file read (open, fstat, read). Throws
// lathe::Error naming the path when it cannot be read or holds more than `max_bytes`.
std::string read_file_stamped(const std::filesystem::path& path, std::size_t max_bytes,
                              FileStamp& stamp);

// True when nothing a write, rename, chmod or chown changes differs between the two stamps.
bool same_file_state(const FileStamp& a, const FileStamp& b);

// What differs between `before` and `now`, for messages ("its size went from 12 to 40
// bytes", "its modification time changed", "it was replaced by another file", ...); "" when
// the two are the same.
std::string describe_stamp_change(const FileStamp& before, const FileStamp& now);

}  // namespace lathe
