// --vocab beats the environment, so a script can override a user's default.
#include "text/vocab_locator.h"

#include <cstdlib>

namespace lathe::text {

std::optional<std::filesystem::path> locate_clip_vocab(
    const std::optional<std::string>& explicit_path) {
  if (explicit_path && !explicit_path->empty()) return std::filesystem::path(*explicit_path);
  if (const char* env = std::getenv("LATHE_CLIP_VOCAB"); env && *env)
    return std::filesystem::path(env);
  return std::nullopt;
}

std::string clip_vocab_missing_message() {
  return "no CLIP vocabulary configured: pass --vocab PATH or set LATHE_CLIP_VOCAB to a diffusers "
         "model folder, its tokenizer/ folder (vocab.json + merges.txt), or OpenAI's "
         "bpe_simple_vocab_16e6.txt.gz";
}

}  // namespace lathe::text
