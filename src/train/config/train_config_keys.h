// The profile schema's names: the sections a training profile may hold and the keys each
// accepts. One table feeds the unknown-key check, `--set` did-you-mean and the renderer, so a
// key added to the parser but not here is refused instead of silently ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe {

// "model", "dataset", "concepts", "network", "optimizer", "schedule", "noise", "training",
// "validation", "saving", "sample", "output", "embeddings".
const std::vector<std::string_view>& profile_sections();

// The keys of `section` ("concepts" / "embeddings" give those of one [[concepts]] /
// [[embeddings]] entry); empty when the
// section is unknown.
const std::vector<std::string_view>& profile_section_keys(std::string_view section);

// Caption and image keys, which may sit in [dataset] or [training] (kohya users write them
// with the training options); the canonical home is [dataset].
const std::vector<std::string_view>& data_option_keys();
bool is_data_option_key(std::string_view key);

// `text` as a TOML basic string ("..."), escaped; how the renderer and --set write strings.
std::string toml_quote(std::string_view text);

}  // namespace lathe
