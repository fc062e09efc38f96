// The [sample] section of a profile (SampleConfig in train_config.h): read with range checks
// that name file:line and the key (a prompts file's own errors name its file and line), and
// rendered back for the frozen profile and `lathe profile show`.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace lathe {

class ProfileTable;
struct SampleConfig;

// Reads [sample]; `prompts_file` is read now (relative to the profile's folder) and its prompt
// lines kept in SampleConfig::prompts. Throws lathe::Error naming the key (or the prompts
// file and line) for the first problem.
SampleConfig read_sample(const ProfileTable& t);

// (key, TOML value) of every [sample] key to render, in the schema's order; empty when
// sampling is off (so profiles without [sample] render, and hash, as before it existed).
std::vector<std::pair<const char*, std::string>> sample_entries(const SampleConfig& sample);

}  // namespace lathe
