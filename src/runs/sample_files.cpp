// Sample image names: one format string and its strict inverse (see sample_files.h).
#include "runs/sample_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <system_error>
#include <tuple>

namespace lathe {

namespace fs = std::filesystem;

std::string format_sample_name(std::int64_t step, int epoch, int prompt_index,
                               std::uint64_t seed) {
  return fmt::format("step{:06}-epoch{:03}-prompt{:02}-seed{}.png", step, epoch, prompt_index,
                     seed);
}

namespace {

// Reads `prefix` and then at least `min_digits` decimal digits (no sign) from the front of
// `text`, advancing it. False when the text does not start that way or the number overflows T.
template <typename T>
bool take_field(std::string_view& text, std::string_view prefix, std::size_t min_digits,
                T& value) {
  if (text.substr(0, prefix.size()) != prefix) return false;
  text.remove_prefix(prefix.size());
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits < min_digits) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc() || end != text.data() + digits) return false;
  text.remove_prefix(digits);
  return true;
}

}  // namespace

std::optional<SampleFile> parse_sample_name(const fs::path& path) {
  const std::string name = path.filename().string();
  std::string_view rest = name;
  SampleFile file;
  if (!take_field(rest, "step", 6, file.step)) return std::nullopt;
  if (!take_field(rest, "-epoch", 3, file.epoch)) return std::nullopt;
  if (!take_field(rest, "-prompt", 2, file.prompt_index)) return std::nullopt;
  if (!take_field(rest, "-seed", 1, file.seed)) return std::nullopt;
  if (rest != ".png") return std::nullopt;
  file.path = path;
  return file;
}

std::vector<SampleFile> list_samples(const fs::path& run_dir) {
  std::vector<SampleFile> samples;
  std::error_code ec;
  const fs::path folder = run_dir / "samples";
  if (!fs::is_directory(folder, ec)) return samples;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (auto sample = parse_sample_name(it->path())) samples.push_back(std::move(*sample));
  }
  std::sort(samples.begin(), samples.end(), [](const SampleFile& a, const SampleFile& b) {
    return std::tie(a.step, a.prompt_index, a.seed, a.epoch) <
           std::tie(b.step, b.prompt_index, b.seed, b.epoch);
  });
  return samples;
}

}  // namespace lathe
