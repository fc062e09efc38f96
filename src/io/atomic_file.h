// Atomic file writes and whole-file reads. Every file Lathe writes goes through
// write_file_atomic: temp file in the same folder, write, fsync, rename, fsync the folder,
// so a crash leaves either the old bytes or the new ones, never a mix.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace lathe {

// Replaces (or creates) `path` with `bytes`. Keeps the mode of an existing file.
// Throws lathe::Error naming the path and the OS error on failure; the old file is untouched.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Reads a whole file. Throws lathe::Error naming the path when it cannot be read or is
// larger than `max_bytes`.
std::string read_file(const std::filesystem::path& path,
                      std::size_t max_bytes = std::size_t(1) << 34);

// What fstat said about the file read_file opened, so its bytes and its size / time come from
// the same file even when it is replaced in between.
struct ReadFileInfo {
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  unsigned mode = 0;  // permission bits (st_mode & 07777)
};
std::string read_file(const std::filesystem::path& path, std::size_t max_bytes,
                      ReadFileInfo& info);

// fsync a folder so a rename or unlink inside it survives a power loss.
void fsync_directory(const std::filesystem::path& dir);

}  // namespace lathe
