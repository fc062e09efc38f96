// Files keep their owner when Lathe rewrites them. Run as root (`sudo lathe tags ...`), a file
// rewritten through a temp file and a rename would otherwise become root's, and its user
// could no longer read it (the audit) or replace it (undo). Files Lathe creates inside a
// user's folder for its own use (the caption journal in DIR/.lathe/) take that folder's owner.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace lathe {

struct FileOwner {
  unsigned uid = 0;
  unsigned gid = 0;
};

// The owner of `path` (stat, following symlinks); nullopt when it cannot be stat'ed.
std::optional<FileOwner> owner_of(const std::filesystem::path& path);

// Gives the open file `fd` to `owner` when it is someone else's: what root's files get, and
// what a user's file in a shared folder gets when its group is one of theirs. Not being
// allowed to (EPERM: an ordinary user rewriting another user's file) is not an error, as
// with `sed -i`: the file then belongs to whoever rewrote it. `current`: its owner when the
// caller has just fstat'ed it (saves a system call). Returns whether it changed the owner;
// throws lathe::Error (naming `shown`) on any other failure.
bool give_fd_to(int fd, const FileOwner& owner, const std::filesystem::path& shown,
                std::optional<FileOwner> current = std::nullopt);

// The same for a path (a folder Lathe made, a lock file). Never follows a final symlink.
void give_path_to(const std::filesystem::path& path, const FileOwner& owner);

// write_file_atomic (temp file, fsync, rename, folder fsync) whose new file belongs to
// `owner`: an existing file's mode is kept, a new one gets 0644.
void write_file_atomic_owned(const std::filesystem::path& path, std::string_view bytes,
                             const FileOwner& owner);

}  // namespace lathe
