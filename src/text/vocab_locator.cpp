// --vocab beats the environment, so a script can override a user's default; both beat the copy
// installed with Lathe. The copy is looked up relative to the running binary rather than at a
// fixed prefix, so a build folder, an installed prefix and a moved install all find theirs.
#include "text/vocab_locator.h"

#include <cstdlib>
#include <system_error>

namespace lathe::text {

namespace fs = std::filesystem;

fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::vector<BundledVocabDir> bundled_clip_vocab_dirs(const fs::path& exe_dir) {
  std::vector<BundledVocabDir> dirs;
  if (!exe_dir.empty()) {
    dirs.push_back({exe_dir / "share/lathe/clip", "installed with Lathe"});
    dirs.push_back({(exe_dir / "../share/lathe/clip").lexically_normal(), "installed with Lathe"});
  }
#ifdef LATHE_CLIP_VOCAB_SOURCE_DIR
  dirs.push_back({LATHE_CLIP_VOCAB_SOURCE_DIR, "source tree"});  // CMakeLists.txt: <source>/data/clip
#endif
  return dirs;
}

std::optional<ClipVocabLocation> find_clip_vocab(const std::optional<std::string>& explicit_path,
                                                 const std::vector<BundledVocabDir>& bundled_dirs) {
  if (explicit_path && !explicit_path->empty()) return ClipVocabLocation{*explicit_path, "--vocab"};
  if (const char* env = std::getenv("LATHE_CLIP_VOCAB"); env && *env)
    return ClipVocabLocation{env, "LATHE_CLIP_VOCAB"};
  for (const BundledVocabDir& d : bundled_dirs) {
    std::error_code ec;
    const fs::path file = d.dir / kClipVocabFileName;
    if (fs::is_regular_file(file, ec)) return ClipVocabLocation{file, d.source};
  }
  return std::nullopt;
}

std::optional<ClipVocabLocation> find_clip_vocab(const std::optional<std::string>& explicit_path) {
  return find_clip_vocab(explicit_path, bundled_clip_vocab_dirs(executable_dir()));
}

std::optional<fs::path> locate_clip_vocab(const std::optional<std::string>& explicit_path) {
  if (auto found = find_clip_vocab(explicit_path)) return found->path;
  return std::nullopt;
}

std::string clip_vocab_missing_message() {
  return std::string("no CLIP vocabulary found: Lathe's copy (share/lathe/clip/") + kClipVocabFileName +
         " beside the lathe binary, or data/clip/ in the source tree) is missing; rebuild or "
         "reinstall Lathe, or pass --vocab PATH or set LATHE_CLIP_VOCAB to a diffusers model "
         "folder, its tokenizer/ folder (vocab.json + merges.txt), or OpenAI's " +
         kClipVocabFileName;
}

}  // namespace lathe::text
