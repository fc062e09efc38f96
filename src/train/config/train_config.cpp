// Entry points around the profile parser: loading a file with its --set overrides, the
// checks that need the file system or the run's length, and enum names.
#include "train/config/train_config.h"

#include <fmt/format.h>

#include "common/error.h"
#include "io/profile.h"
#include "train/optim/lr_schedule.h"

namespace lathe {

namespace fs = std::filesystem;

bool ModelConfig::is_tiny_random() const { return path.rfind(kTinyRandomPrefix, 0) == 0; }

std::optional<ModelFamily> ModelConfig::tiny_random_family() const {
  if (!is_tiny_random()) return std::nullopt;
  std::string kind = path.substr(std::string(kTinyRandomPrefix).size());
  if (kind == "sd15") return ModelFamily::SD1;
  if (kind == "sd2") return ModelFamily::SD2;
  if (kind == "sdxl") return ModelFamily::SDXL;
  return std::nullopt;
}

namespace {

TrainConfig finish(ProfileCheck check, std::vector<std::string>* warnings) {
  if (!check.ok()) {
    std::string all;
    for (const std::string& e : check.errors) all += (all.empty() ? "" : "\n") + e;
    throw Error(all);
  }
  if (warnings) warnings->insert(warnings->end(), check.warnings.begin(), check.warnings.end());
  return std::move(*check.config);
}

}  // namespace

TrainConfig load_train_config(const fs::path& path, const std::vector<std::string>& overrides,
                              std::vector<std::string>* warnings) {
  return finish(check_train_profile(load_profile(path), overrides), warnings);
}

TrainConfig parse_train_config(std::string_view text, const fs::path& path,
                               const std::vector<std::string>& overrides,
                               std::vector<std::string>* warnings) {
  return finish(check_train_profile(parse_profile(text, path), overrides), warnings);
}

std::vector<std::string> missing_files(const TrainConfig& c) {
  std::vector<std::string> out;
  auto need = [&](const std::string& key, const fs::path& p, const char* hint) {
    std::error_code ec;
    if (!fs::exists(p, ec))
      out.push_back(fmt::format("{}: {} does not exist; {}", key, p.string(), hint));
  };
  if (!c.model.is_tiny_random())
    need("model.path", c.model.path, "point it at your checkpoint (--set model.path=FILE)");
  if (c.model.tokenizer)
    need("model.tokenizer", *c.model.tokenizer,
         "give a tokenizer folder or the OpenAI vocab file (--set model.tokenizer=PATH)");
  if (c.model.vae) need("model.vae", *c.model.vae, "give a VAE file or remove the key");
  if (c.dataset.concepts.empty()) {
    need("dataset.path", c.dataset.root, "point it at your dataset (--set dataset.path=DIR)");
  }
  for (std::size_t i = 0; i < c.dataset.concepts.size(); ++i)
    need(fmt::format("concepts[{}].path", i + 1), c.dataset.concepts[i].path,
         "fix the concept's path in the profile");
  if (c.validation.concept)
    need("validation.concept", *c.validation.concept, "give a folder of validation images");
  for (std::size_t i = 0; i < c.embeddings.size(); ++i)
    if (c.embeddings[i].file)
      need(fmt::format("embeddings[{}].file", i + 1), *c.embeddings[i].file,
           "give an embedding .safetensors file, or remove the key to start new vectors");
  return out;
}

void check_total_steps(const TrainConfig& c, int64_t total_steps) {
  try {
    LrSchedule schedule(c.schedule, total_steps);
    if (schedule.warmup_steps() > 0 && schedule.warmup_steps() >= total_steps)
      throw Error(fmt::format("warmup ({} steps) must be shorter than the run",
                              schedule.warmup_steps()));
  } catch (const Error& e) {
    throw Error(fmt::format("{} (the run has {} optimizer steps)", e.what(), total_steps));
  }
}

}  // namespace lathe
