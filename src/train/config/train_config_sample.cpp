// [sample] keys (see train_config_sample.h). The prompt lines are checked by the same parser
// `lathe sample` uses for prompts files (sample/prompt_file.h), so a line that would fail at
// the first sampling point fails `lathe profile check` instead.
#include "train/config/train_config_sample.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>

#include "common/error.h"
#include "io/profile.h"
#include "sample/prompt_file.h"
#include "train/config/train_config.h"
#include "train/config/train_config_keys.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxPrompts = 100;

int64_t read_count(const ProfileTable& t, std::string_view key, int64_t fallback, int64_t lo, int64_t hi) {
  auto v = t.get_int(key);
  if (!v) return fallback;
  if (*v < lo || *v > hi) t.fail(key, fmt::format("must be {} to {}, got {}", lo, hi, *v));
  return *v;
}

std::optional<int> read_side(const ProfileTable& t, std::string_view key) {
  auto v = t.get_int(key);
  if (!v) return std::nullopt;
  if (*v < 64 || *v > 4096 || *v % 8 != 0)
    t.fail(key, fmt::format("must be a multiple of 8 from 64 to 4096, got {} (leave it out for the "
                            "training resolution)",
                            *v));
  return static_cast<int>(*v);
}

fs::path profile_folder(const ProfileTable& t) {
  fs::path dir = t.profile().path().parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// A prompt as one kohya line ("a cat --n blurry --w 512 --d 7"), which parse_prompt_line reads
// back to the same spec; how a prompts file's prompts (TOML ones too) are kept in the profile.
std::string prompt_line(const PromptSpec& p) {
  std::string line = p.prompt;
  if (p.negative) line += " --n " + *p.negative;
  if (p.width) line += fmt::format(" --w {}", *p.width);
  if (p.height) line += fmt::format(" --h {}", *p.height);
  if (p.steps) line += fmt::format(" --s {}", *p.steps);
  if (p.cfg) line += fmt::format(" --l {}", *p.cfg);
  if (p.seed) line += fmt::format(" --d {}", *p.seed);
  if (p.sampler) line += " --ss " + to_string(*p.sampler);
  return line;
}

// The prompts of `prompts_file` (kohya's text or TOML format, sample/prompt_file.h) as lines.
// Errors name the file and its line.
std::vector<std::string> read_prompts_file(const ProfileTable& t, const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    t.fail("prompts_file", fmt::format("{} {}", path.string(),
                                       fs::exists(path, ec) ? "is not a regular file" : "does not exist"));
  std::vector<std::string> lines;
  try {
    for (const PromptSpec& spec : read_prompt_file(path)) {
      // Text that a kohya line cannot hold (a TOML prompt with " --" in it) would come back
      // different from the frozen profile: refuse it here.
      std::string line = prompt_line(spec);
      if (line.find('\n') != std::string::npos || prompt_line(parse_prompt_line(line, spec.where)) != line)
        throw Error(fmt::format("{}: a prompt or negative prompt holding \" --\" or a line break cannot be "
                                "kept; reword it",
                                spec.where));
      lines.push_back(std::move(line));
    }
  } catch (const Error& e) {
    t.fail("prompts_file", e.what());
  }
  return lines;
}

// Every inline prompt line must parse (its options too); the message names the list item.
void check_prompt_lines(const ProfileTable& t, const std::vector<std::string>& prompts) {
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    try {
      if (prompts[i].find('\n') != std::string::npos) throw Error(fmt::format("prompts[{}]: holds a line break", i + 1));
      parse_prompt_line(prompts[i], fmt::format("prompts[{}]", i + 1));
    } catch (const Error& e) {
      t.fail("prompts", e.what());
    }
  }
}

}  // namespace

SampleConfig read_sample(const ProfileTable& t) {
  t.check_known_keys(profile_section_keys("sample"));
  SampleConfig s;
  if (t.has("prompts") && t.has("prompts_file"))
    t.fail("prompts_file", "set sample.prompts or sample.prompts_file, not both");
  if (auto prompts = t.get_string_array("prompts")) {
    if (prompts->empty()) t.fail("prompts", "is empty; give prompts such as [\"a photo of {activation}\"]");
    s.prompts = *prompts;
    check_prompt_lines(t, s.prompts);
  } else if (auto file = t.get_string("prompts_file")) {
    if (file->empty()) t.fail("prompts_file", "is empty; give a file of prompts, one a line");
    fs::path path(*file);
    if (path.is_relative()) path = profile_folder(t) / path;
    s.prompts_file = fs::absolute(path).lexically_normal();
    s.prompts = read_prompts_file(t, *s.prompts_file);
  } else {
    t.fail("prompts", "missing; give prompts = [\"...\"] or prompts_file = \"prompts.txt\" (or remove [sample])");
  }
  if (static_cast<int64_t>(s.prompts.size()) > kMaxPrompts)
    t.fail(s.prompts_file ? "prompts_file" : "prompts",
           fmt::format("{} prompts; at most {} are rendered at each sampling point", s.prompts.size(), kMaxPrompts));

  s.every_n_steps = read_count(t, "every_n_steps", 0, 0, INT64_MAX);
  // With neither interval given, sample at every epoch end (kohya's usual choice).
  s.every_n_epochs = read_count(t, "every_n_epochs", t.has("every_n_steps") ? 0 : 1, 0, INT64_MAX);
  s.at_start = t.get_bool("at_start").value_or(false);
  if (s.every_n_steps == 0 && s.every_n_epochs == 0 && !s.at_start)
    t.fail(t.has("every_n_epochs") ? "every_n_epochs" : "every_n_steps",
           "every_n_steps and every_n_epochs are 0 and at_start is false: no sample would be rendered");
  if (auto name = t.get_string("sampler")) {
    try {
      s.sampler = sampler_from_string(*name, "sample.sampler");
    } catch (const Error& e) {
      const std::string msg = e.what();
      const std::string prefix = "sample.sampler: ";
      t.fail("sampler", msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg);
    }
  }
  s.steps = read_count(t, "steps", s.steps, 1, 1000);
  if (auto cfg = t.get_float("cfg")) {
    if (!std::isfinite(*cfg) || *cfg < 0 || *cfg > 100)
      t.fail("cfg", fmt::format("must be a number from 0 to 100 (7 is usual; 1 or less turns guidance off), got {}",
                                *cfg));
    s.cfg = *cfg;
  }
  s.width = read_side(t, "width");
  s.height = read_side(t, "height");
  s.seed = static_cast<uint64_t>(read_count(t, "seed", static_cast<int64_t>(s.seed), 0, INT64_MAX));
  s.negative_prompt = t.get_string("negative_prompt").value_or("");
  return s;
}

std::vector<std::pair<const char*, std::string>> sample_entries(const SampleConfig& s) {
  std::vector<std::pair<const char*, std::string>> out;
  if (!s.enabled()) return out;
  std::string prompts = "[";
  for (std::size_t i = 0; i < s.prompts.size(); ++i)
    prompts += (i ? ", " : "") + toml_quote(s.prompts[i]);
  out.emplace_back("prompts", prompts + "]");
  out.emplace_back("every_n_steps", fmt::format("{}", s.every_n_steps));
  out.emplace_back("every_n_epochs", fmt::format("{}", s.every_n_epochs));
  out.emplace_back("at_start", s.at_start ? "true" : "false");
  out.emplace_back("sampler", toml_quote(to_string(s.sampler)));
  out.emplace_back("steps", fmt::format("{}", s.steps));
  std::string cfg = fmt::format("{}", s.cfg);
  if (cfg.find_first_of(".eEn") == std::string::npos) cfg += ".0";
  out.emplace_back("cfg", cfg);
  if (s.width) out.emplace_back("width", fmt::format("{}", *s.width));
  if (s.height) out.emplace_back("height", fmt::format("{}", *s.height));
  out.emplace_back("seed", fmt::format("{}", s.seed));
  out.emplace_back("negative_prompt", toml_quote(s.negative_prompt));
  return out;
}

}  // namespace lathe
