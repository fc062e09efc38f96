// Conflict detection for caption edits: what a caption file looked like when an edit read it
// (size, modification time, content hash), and the check made right before writing it, so an
// edit never overwrites a change made on disk in between (another editor, a tagger script).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "io/file_stamp.h"

namespace lathe {

struct FileSnapshot {
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t hash = 0;  // content_hash of the bytes read
};

// 64-bit FNV-1a: enough to tell "changed" from "same" and to label journal records.
std::uint64_t content_hash(std::string_view bytes);

// Reads a caption and records its snapshot. Throws lathe::Error naming the file.
std::string read_with_snapshot(const std::filesystem::path& path, FileSnapshot& snapshot,
                               std::size_t max_bytes);

// nullopt when the file still matches `snapshot`; otherwise what changed ("its size went from
// 12 to 40 bytes", "it was deleted", ...). `now`, when given, receives the stamp of the file
// as read for the check (known = false when it could not be read): the batch writer compares
// it with the file once more right before replacing it.
std::optional<std::string> describe_change(const std::filesystem::path& path,
                                           const FileSnapshot& snapshot,
                                           FileStamp* now = nullptr);

// The user-facing message for a refused write.
std::string conflict_message(const std::filesystem::path& path, const std::string& change);

// True when the file's permission bits allow nobody to write it (chmod a-w): the user marked
// it read-only, which Lathe respects even when running as root.
bool is_marked_read_only(const std::filesystem::path& path);
bool is_read_only_mode(unsigned mode);  // the same test on permission bits already read

}  // namespace lathe
