// Where the CLIP vocabulary comes from when a command needs one. In order: an explicit path
// (--vocab; the trainer's model.tokenizer and a diffusers folder's own tokenizer/ come before
// this search), the LATHE_CLIP_VOCAB environment variable, then the copy installed with Lathe:
// <exe_dir>/share/lathe/clip (the build folder), <exe_dir>/../share/lathe/clip (an installed
// prefix), and last the source tree's data/clip. No file is ever downloaded.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lathe::text {

// The file name of OpenAI's vocabulary, as Lathe ships it (data/clip/).
inline constexpr const char* kClipVocabFileName = "bpe_simple_vocab_16e6.txt.gz";

struct ClipVocabLocation {
  std::filesystem::path path;
  std::string source;  // "--vocab", "LATHE_CLIP_VOCAB", "installed with Lathe", "source tree"
};

// The folder of the running executable (/proc/self/exe), or empty when it cannot be read.
std::filesystem::path executable_dir();

// A folder that may hold Lathe's own copy, and how `lathe doctor` names it.
struct BundledVocabDir {
  std::filesystem::path dir;
  std::string source;  // "installed with Lathe" or "source tree"
};

// The folders that may hold Lathe's own copy, in search order, for an executable in `exe_dir`
// (empty: only the source tree).
std::vector<BundledVocabDir> bundled_clip_vocab_dirs(const std::filesystem::path& exe_dir);

// The explicit path if given, else $LATHE_CLIP_VOCAB if set and non-empty (both returned as
// given, existing or not, so a wrong path is reported rather than silently replaced), else the
// first of `bundled_dirs` holding kClipVocabFileName, else nullopt.
std::optional<ClipVocabLocation> find_clip_vocab(const std::optional<std::string>& explicit_path,
                                                 const std::vector<BundledVocabDir>& bundled_dirs);

// find_clip_vocab over bundled_clip_vocab_dirs(executable_dir()).
std::optional<ClipVocabLocation> find_clip_vocab(const std::optional<std::string>& explicit_path);

// find_clip_vocab's path only.
std::optional<std::filesystem::path> locate_clip_vocab(
    const std::optional<std::string>& explicit_path);

// What to tell a user when no vocabulary was found (Lathe's copy missing from its install).
std::string clip_vocab_missing_message();

}  // namespace lathe::text
