// Where the CLIP vocabulary comes from when a command needs one: an explicit path (--vocab),
// else the LATHE_CLIP_VOCAB environment variable. No file is ever downloaded.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace lathe::text {

// The explicit path if given, else $LATHE_CLIP_VOCAB if set and non-empty, else nullopt.
std::optional<std::filesystem::path> locate_clip_vocab(
    const std::optional<std::string>& explicit_path);

// What to tell a user who has configured no vocabulary.
std::string clip_vocab_missing_message();

}  // namespace lathe::text
