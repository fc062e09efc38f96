// Prompts files (see prompt_file.h). Like kohya, a line is split at " --" and each piece after
// the first is an option; unlike kohya, an option that does not parse is an error naming the
// file and line rather than a log line and a silently different image.
#include "sample/prompt_file.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  return std::string(s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

template <typename T>
T whole_number(const std::string& text, const std::string& what, const std::string& where, T min, T max) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value < min || value > max)
    throw Error(fmt::format("{}: {} '{}' must be a whole number from {} to {}", where, what, text, min, max));
  return value;
}

double guidance(const std::string& text, const std::string& where) {
  double value = 0;
  std::size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !std::isfinite(value) || value < 0 || value > 100)
    throw Error(fmt::format("{}: guidance scale '{}' must be a number from 0 to 100", where, text));
  return value;
}

// Sizes: kohya rounds nothing; Lathe checks the multiple when the model is known (render).
constexpr int64_t kMaxSide = 8192;

void apply_option(PromptSpec& spec, const std::string& name, const std::string& value, const std::string& where) {
  if (value.empty()) throw Error(fmt::format("{}: --{} needs a value", where, name));
  if (name == "n") spec.negative = value;
  else if (name == "w") spec.width = whole_number<int64_t>(value, "width (--w)", where, 8, kMaxSide);
  else if (name == "h") spec.height = whole_number<int64_t>(value, "height (--h)", where, 8, kMaxSide);
  else if (name == "s") spec.steps = whole_number<int64_t>(value, "steps (--s)", where, 1, 1000);
  else if (name == "l") spec.cfg = guidance(value, where);
  else if (name == "d") spec.seed = whole_number<std::uint64_t>(value, "seed (--d)", where, 0, UINT64_MAX);
  else if (name == "ss") spec.sampler = sampler_from_string(value, where + ": --ss");
  else
    throw Error(fmt::format("{}: unknown option --{} (prompt options: --n negative, --w width, --h height, "
                            "--s steps, --l guidance, --d seed, --ss sampler)",
                            where, name));
}

// toml++ value as a string for the shared option parser (numbers as written).
std::optional<std::string> toml_text(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) return fmt::format("{}", *d);
  return std::nullopt;
}

// kohya's TOML keys -> the inline option names.
const std::vector<std::pair<std::string, std::string>>& toml_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"negative_prompt", "n"}, {"width", "w"},  {"height", "h"},         {"sample_steps", "s"},
      {"scale", "l"},           {"seed", "d"},   {"sample_sampler", "ss"},
  };
  return keys;
}

std::string where_of(const std::filesystem::path& path, const toml::node& node, const std::string& key) {
  return fmt::format("{}:{}: {}", path.string(), node.source().begin.line, key);
}

void apply_toml_table(PromptSpec& spec, const toml::table& table, const std::filesystem::path& path) {
  for (auto&& [k, v] : table) {
    const std::string key(k.str());
    if (key == "prompt") {
      auto s = v.value<std::string>();
      if (!s) throw Error(fmt::format("{}: prompt must be a string", where_of(path, v, key)));
      spec.prompt = *s;
      continue;
    }
    if (key == "subset") continue;
    auto option = std::find_if(toml_keys().begin(), toml_keys().end(), [&](const auto& p) { return p.first == key; });
    if (option == toml_keys().end())
      throw Error(fmt::format("{}: unknown key (prompt keys: prompt, negative_prompt, width, height, sample_steps, "
                              "scale, seed, sample_sampler)",
                              where_of(path, v, key)));
    auto text = toml_text(v);
    if (!text) throw Error(fmt::format("{}: must be a string or a number", where_of(path, v, key)));
    apply_option(spec, option->second, *text, where_of(path, v, key));
  }
}

std::vector<PromptSpec> read_toml_prompts(const std::filesystem::path& path, const std::string& text) {
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    throw Error(fmt::format("{}:{}:{}: cannot parse the prompts file: {}", path.string(), e.source().begin.line,
                            e.source().begin.column, e.description()));
  }
  std::vector<PromptSpec> out;
  auto finish = [&](PromptSpec spec, const toml::node& node) {
    spec.where = fmt::format("{}:{}", path.string(), node.source().begin.line);
    if (trim(spec.prompt).empty()) throw Error(fmt::format("{}: the prompt table has no prompt", spec.where));
    out.push_back(std::move(spec));
  };
  const toml::node* prompt = root.get("prompt");
  if (prompt && prompt->is_table()) {
    // kohya: [prompt] holds defaults, each [[prompt.subset]] one image.
    PromptSpec defaults;
    apply_toml_table(defaults, *prompt->as_table(), path);
    const toml::array* subsets = prompt->as_table()->get_as<toml::array>("subset");
    if (!subsets) throw Error(fmt::format("{}: [prompt] has no [[prompt.subset]] tables", path.string()));
    for (const auto& node : *subsets) {
      if (!node.is_table()) throw Error(fmt::format("{}:{}: prompt.subset entries must be tables", path.string(), node.source().begin.line));
      PromptSpec spec = defaults;
      apply_toml_table(spec, *node.as_table(), path);
      finish(std::move(spec), node);
    }
  } else if (prompt && prompt->is_array_of_tables()) {
    for (const auto& node : *prompt->as_array()) {
      PromptSpec spec;
      apply_toml_table(spec, *node.as_table(), path);
      finish(std::move(spec), node);
    }
  } else {
    throw Error(fmt::format("{}: no prompts: write [[prompt]] tables with a prompt key, or kohya's [prompt] with "
                            "[[prompt.subset]] tables",
                            path.string()));
  }
  for (auto&& [k, v] : root)
    if (k.str() != "prompt")
      throw Error(fmt::format("{}: unknown key (a prompts file holds [prompt] or [[prompt]] tables)", where_of(path, v, std::string(k.str()))));
  return out;
}

std::vector<PromptSpec> read_text_prompts(const std::filesystem::path& path, const std::string& text) {
  std::vector<PromptSpec> out;
  std::size_t start = 0;
  for (int line_no = 1; start < text.size(); ++line_no) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    out.push_back(parse_prompt_line(line, fmt::format("{}:{}", path.string(), line_no)));
  }
  return out;
}

}  // namespace

PromptSpec parse_prompt_line(const std::string& line, const std::string& where) {
  PromptSpec spec;
  spec.where = where;
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (true) {
    std::size_t next = line.find(" --", start);
    pieces.push_back(line.substr(start, next == std::string::npos ? std::string::npos : next - start));
    if (next == std::string::npos) break;
    start = next + 3;
  }
  spec.prompt = trim(pieces[0]);
  if (spec.prompt.empty()) throw Error(fmt::format("{}: the line has options but no prompt before them", where));
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    const std::string piece = trim(pieces[i]);
    const std::size_t space = piece.find_first_of(" \t");
    const std::string name = lower(piece.substr(0, space));
    const std::string value = space == std::string::npos ? "" : trim(piece.substr(space + 1));
    apply_option(spec, name, value, where);
  }
  return spec;
}

std::vector<PromptSpec> read_prompt_file(const std::filesystem::path& path) {
  const std::string text = read_file(path, std::size_t(16) << 20);
  std::vector<PromptSpec> out =
      lower(path.extension().string()) == ".toml" ? read_toml_prompts(path, text) : read_text_prompts(path, text);
  if (out.empty()) throw Error(fmt::format("{}: no prompts (every line is blank or a # comment)", path.string()));
  return out;
}

}  // namespace lathe
