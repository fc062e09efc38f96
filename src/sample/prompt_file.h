// Prompts files for `lathe sample --prompts` and sample prompts in kohya's format:
//
//   text files: one prompt per line with kohya's inline options (sd-scripts
//   line_to_prompt_dict): `--n` negative prompt, `--w` width, `--h` height, `--s` steps,
//   `--l` guidance scale, `--d` seed, `--ss` sampler; blank lines and lines starting with `#`
//   are skipped.
//     a photo of sks dog, on the beach --n blurry, lowres --w 512 --h 768 --d 42 --s 28 --l 7.5
//
//   .toml files: kohya's layout, defaults in [prompt] and one [[prompt.subset]] table per image
//   (keys prompt, negative_prompt, width, height, sample_steps, scale, seed, sample_sampler),
//   or simply an array of [[prompt]] tables with the same keys.
//
// Options a line leaves out stay unset, so the command's flags (or [sample] defaults) apply.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "diffusion/sampler.h"

namespace lathe {

struct PromptSpec {
  std::string prompt;
  std::optional<std::string> negative;
  std::optional<int64_t> width, height, steps;
  std::optional<double> cfg;
  std::optional<std::uint64_t> seed;
  std::optional<SamplerKind> sampler;
  std::string where;  // "prompts.txt:3", for messages about this prompt
};

// One line with inline options. `where` names the file and line in errors ("prompts.txt:3:
// --w abc: width must be a whole number"). Throws lathe::Error on an unknown option, a value
// that does not parse, or an empty prompt.
PromptSpec parse_prompt_line(const std::string& line, const std::string& where);

// Every prompt of a file (.toml by extension, else a text file). Throws lathe::Error naming
// the file and line (or TOML key) of the first problem, and when the file holds no prompt.
std::vector<PromptSpec> read_prompt_file(const std::filesystem::path& path);

}  // namespace lathe
