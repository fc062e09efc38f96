// The rule for embedding (textual inversion) names, torch-free so the dataset audit can suggest
// one: a name must stand as one word in captions and prompts and in the `bundle_emb.<name>.*`
// keys of a LoRA file (A1111 splits those keys at dots).
#pragma once

#include <string>
#include <string_view>

namespace lathe::text {

// Empty when `name` is a valid embedding name: 1 to 64 ASCII letters, digits, '_' and '-',
// starting and ending with a letter or digit, with at least one letter. Otherwise why not
// ("contains ' '", "has no letter", ...).
std::string embedding_name_problem(std::string_view name);

// The rule above in one sentence, for error messages.
const char* embedding_name_rule();

}  // namespace lathe::text
