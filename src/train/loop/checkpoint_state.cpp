// Writing and reading resumable checkpoints (layout in the header). Every file goes through
// write_file_atomic / write_tensors; the folder is renamed into place only once DONE is in it.
#include "train/loop/checkpoint_state.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "models/tensor_io.h"
#include "train/loop/trainer.h"
#include "train/model/word_hash_tokenizer.h"

namespace lathe {
namespace fs = std::filesystem;
namespace {

constexpr int kFormat = 1;

void write_optimizer(const fs::path& path, const OptimizerState& state) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, t] : state.tensors) tensors.emplace_back(name, t.detach().to(torch::kCPU));
  nlohmann::json scalars = nlohmann::json::object();
  for (const auto& [name, v] : state.scalars) scalars[name] = v;
  write_tensors(path, tensors, {{"type", state.type}, {"scalars", scalars.dump()}});
}

std::map<std::string, torch::Tensor> read_tensors(const fs::path& path) {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> out;
  for (const std::string& name : file.names()) {
    const TensorView view = file.view(name);
    out[name] = tensor_from_view(view, torch_dtype_of(file.info(name).dtype));
  }
  return out;
}

OptimizerState read_optimizer(const fs::path& path) {
  OptimizerState state;
  state.tensors = read_tensors(path);
  SafetensorsFile file(path);
  const auto& meta = file.metadata();
  auto type = meta.find("type");
  auto scalars = meta.find("scalars");
  if (type == meta.end() || scalars == meta.end())
    throw Error(fmt::format("{}: no optimizer type or scalars in the metadata", path.string()));
  state.type = type->second;
  try {
    const nlohmann::json parsed = nlohmann::json::parse(scalars->second);  // outlives the loop
    for (const auto& [name, v] : parsed.items()) state.scalars[name] = v.get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed optimizer scalars: {}", path.string(), e.what()));
  }
  return state;
}

// Oldest first, under the checkpoints/ folder `dir`.
std::vector<fs::path> complete_checkpoint_dirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) == 0 && name.size() == 13 && fs::exists(entry.path() / "DONE", ec))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// state.json's position, profile hash and loss scaler into `c`; throws lathe::Error.
void read_state_json(const fs::path& dir, CheckpointContents& c) {
  try {
    const auto state = nlohmann::json::parse(read_file(dir / "state.json"));
    if (state.value("format", 0) != kFormat)
      throw Error(fmt::format("state.json: format {} is not {}", state.value("format", 0), kFormat));
    c.position.step = state.at("step").get<std::int64_t>();
    c.position.epoch = state.at("epoch").get<std::int64_t>();
    c.position.batch = state.at("batch").get<std::int64_t>();
    c.position.epoch_loss_sum = state.at("epoch_loss_sum").get<double>();
    c.position.epoch_loss_steps = state.at("epoch_loss_steps").get<std::int64_t>();
    c.profile_hash = state.at("profile_hash").get<std::string>();
    // Checkpoints written before fp16 loss scaling existed have none: the defaults.
    c.loss_scaler.scale = state.value("loss_scale", c.loss_scaler.scale);
    c.loss_scaler.growth_tracker = state.value("loss_scale_growth_tracker", c.loss_scaler.growth_tracker);
    c.loss_scaler.skipped_steps = state.value("skipped_steps", c.loss_scaler.skipped_steps);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed state.json: {}", dir.string(), e.what()));
  }
}

}  // namespace

std::vector<fs::path> complete_checkpoints(const fs::path& run_dir) {
  std::vector<fs::path> all = complete_checkpoint_dirs(run_dir / "checkpoints");
  std::reverse(all.begin(), all.end());
  return all;
}

std::string checkpoint_defect(const fs::path& dir, std::int64_t* step) {
  try {
    CheckpointContents c;
    read_state_json(dir, c);
    // DONE holds the step it completed: a state.json from another save does not belong here.
    const std::string done = read_file(dir / "DONE", 64);
    if (done != fmt::format("{}\n", c.position.step))
      return fmt::format("{}: DONE and state.json disagree on the step ({} and {})", dir.string(),
                         done.substr(0, done.find('\n')), c.position.step);
    SafetensorsFile lora(dir / "lora.safetensors");
    if (fs::exists(dir / "embeddings.safetensors")) SafetensorsFile embeddings(dir / "embeddings.safetensors");
    SafetensorsFile optimizer(dir / "optimizer.safetensors");
    const auto& meta = optimizer.metadata();
    if (meta.count("type") == 0 || meta.count("scalars") == 0)
      return fmt::format("{}: no optimizer type or scalars in the metadata",
                         (dir / "optimizer.safetensors").string());
    if (step) *step = c.position.step;
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

ResumePoint find_resume_point(const fs::path& run_dir) {
  ResumePoint point;
  for (const fs::path& dir : complete_checkpoints(run_dir)) {
    std::string defect = checkpoint_defect(dir, &point.step);
    if (defect.empty()) {
      point.checkpoint = dir;
      return point;
    }
    point.damaged.emplace_back(dir, std::move(defect));
  }
  point.step = 0;
  return point;
}

fs::path set_checkpoint_aside(const fs::path& dir) {
  fs::path aside = dir;
  aside += ".damaged";
  std::error_code ec;
  for (int n = 2; fs::exists(aside, ec); ++n) {
    aside = dir;
    aside += fmt::format(".damaged-{}", n);
  }
  fs::rename(dir, aside, ec);
  if (ec)
    throw Error(fmt::format("cannot rename the damaged checkpoint {} to {}: {}", dir.string(),
                            aside.string(), ec.message()));
  return aside;
}

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  std::vector<fs::path> all = complete_checkpoint_dirs(run_dir / "checkpoints");
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::string profile_hash(const std::string& rendered_profile) {
  return fmt::format("{:016x}", fnv1a64(rendered_profile));
}

fs::path write_checkpoint(const fs::path& run_dir, const CheckpointContents& c, int keep) {
  const fs::path root = run_dir / "checkpoints";
  const fs::path final_dir = root / checkpoint_dir_name(c.position.step);
  const fs::path tmp = root / (checkpoint_dir_name(c.position.step) + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}", tmp.string(), ec.message()));

  std::vector<std::pair<std::string, torch::Tensor>> lora(c.lora.begin(), c.lora.end());
  write_tensors(tmp / "lora.safetensors", lora);
  if (!c.embeddings.empty()) {
    std::vector<std::pair<std::string, torch::Tensor>> embeddings(c.embeddings.begin(), c.embeddings.end());
    write_tensors(tmp / "embeddings.safetensors", embeddings);
  }
  write_optimizer(tmp / "optimizer.safetensors", c.optimizer);
  nlohmann::json state = {
      {"format", kFormat},
      {"step", c.position.step},
      {"epoch", c.position.epoch},
      {"batch", c.position.batch},
      {"epoch_loss_sum", c.position.epoch_loss_sum},
      {"epoch_loss_steps", c.position.epoch_loss_steps},
      {"profile_hash", c.profile_hash},
      {"loss_scale", c.loss_scaler.scale},
      {"loss_scale_growth_tracker", c.loss_scaler.growth_tracker},
      {"skipped_steps", c.loss_scaler.skipped_steps},
  };
  write_file_atomic(tmp / "state.json", state.dump(2) + "\n");
  write_file_atomic(tmp / "DONE", fmt::format("{}\n", c.position.step));

  fs::remove_all(final_dir, ec);  // a SaveNow right after an automatic checkpoint of one step
  fs::rename(tmp, final_dir, ec);
  if (ec) throw Error(fmt::format("cannot rename {} to {}: {}", tmp.string(), final_dir.string(), ec.message()));
  fsync_directory(root);

  std::vector<fs::path> all = complete_checkpoint_dirs(root);
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < all.size(); ++i) fs::remove_all(all[i], ec);
  return final_dir;
}

CheckpointContents read_checkpoint(const fs::path& dir) {
  if (!fs::exists(dir / "DONE"))
    throw Error(fmt::format("{}: incomplete checkpoint (no DONE marker); resume from an earlier one",
                            dir.string()));
  CheckpointContents c;
  try {
    read_state_json(dir, c);
    c.lora = read_tensors(dir / "lora.safetensors");
    if (fs::exists(dir / "embeddings.safetensors")) c.embeddings = read_tensors(dir / "embeddings.safetensors");
    c.optimizer = read_optimizer(dir / "optimizer.safetensors");
  } catch (const Error&) {
    rethrow_with_context(fmt::format("reading checkpoint {}", dir.string()));
  }
  return c;
}

}  // namespace lathe
