// Epoch files of a run with their losses (see epoch_files.h).
#include "runs/epoch_files.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace lathe {

namespace fs = std::filesystem;

std::optional<int> epoch_of_file_name(const fs::path& file) {
  const std::string name = file.filename().string();
  const std::string suffix = ".safetensors";
  if (name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string stem = name.substr(0, name.size() - suffix.size());
  const std::size_t marker = stem.rfind("-e");
  if (marker == std::string::npos || marker == 0) return std::nullopt;
  const std::string digits = stem.substr(marker + 2);
  if (digits.size() < 4 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int epoch = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), epoch);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return epoch;
}

std::vector<EpochFile> list_epoch_files(const fs::path& run_dir, const RunMetrics& metrics) {
  std::vector<EpochFile> files;
  std::error_code ec;
  for (fs::directory_iterator it(run_dir / "epochs", ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (auto epoch = epoch_of_file_name(it->path())) files.push_back({*epoch, it->path(), {}, {}});
  }
  std::sort(files.begin(), files.end(), [](const EpochFile& a, const EpochFile& b) {
    return a.epoch != b.epoch ? a.epoch < b.epoch : a.path < b.path;
  });
  for (EpochFile& f : files) {
    // The last record of an epoch wins (validation may run more than once in an epoch).
    for (const EpochMetric& m : metrics.epochs)
      if (m.epoch == f.epoch) f.training_loss = m.loss;
    for (const ValidationMetric& v : metrics.validations)
      if (v.epoch == f.epoch) f.validation_loss = v.loss;
  }
  return files;
}

}  // namespace lathe
