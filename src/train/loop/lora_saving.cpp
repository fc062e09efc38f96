// LoRA files of a run (see the header). The ss_* values mirror what kohya's train_network.py
// would write for the same settings, so civitai and the WebUIs show them as usual.
#include "train/loop/lora_saving.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/error.h"
#include "common/seeded_rng.h"
#include "common/sha256.h"
#include "io/model_hashes.h"
#include "models/tensor_io.h"
#include "train/model/base_model.h"
#include "train/config/train_config.h"
#include "train/loop/trainer.h"
#include "train/data/training_set.h"

namespace lathe {
namespace fs = std::filesystem;
namespace {

torch::Dtype save_dtype(WeightDType d) {
  switch (d) {
    case WeightDType::FP32: return torch::kFloat32;
    case WeightDType::FP16: return torch::kFloat16;
    case WeightDType::BF16: return torch::kBFloat16;
  }
  return torch::kFloat16;
}

std::string optimizer_name(const OptimizerConfig& o) {
  switch (o.type) {
    case OptimizerType::AdamW:
      return fmt::format("AdamW(weight_decay={},betas=({},{}))", o.weight_decay, o.beta1, o.beta2);
    case OptimizerType::Prodigy:
      return fmt::format("Prodigy(d_coef={},decouple={},weight_decay={})", o.d_coef,
                         o.decouple ? "True" : "False", o.weight_decay);
    case OptimizerType::Lion:
      return fmt::format("Lion(weight_decay={},betas=({},{}))", o.weight_decay, o.beta1, o.beta2);
    case OptimizerType::SGD:
      return fmt::format("SGD(momentum={},weight_decay={})", o.momentum, o.weight_decay);
  }
  return to_string(o.type);
}

// <name>-e0003.safetensors (more digits past epoch 9999).
bool is_epoch_file(const std::string& file, const std::string& name) {
  const std::string prefix = name + "-e", suffix = ".safetensors";
  if (file.size() < prefix.size() + 4 + suffix.size() || file.rfind(prefix, 0) != 0) return false;
  const std::string digits = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
  return file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// kohya's model_hash() and calculate_sha256() of a base or VAE file, once per run: reading a
// 2-7 GB checkpoint takes seconds, so this is done when the run starts, never per save. Folders
// (diffusers) and unreadable files get no hash, as there is no one file whose hash tools match.
void hash_model_file(const fs::path& path, std::string* legacy, std::string* full) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return;
  try {
    *legacy = legacy_model_hash_of_file(path);
    *full = sha256_file_hex(path);
  } catch (const Error&) {
    legacy->clear();
    full->clear();
  }
}

// Views of CPU contiguous tensors (kohya_state's) as the safetensors writer sees them.
std::vector<TensorToWrite> tensor_views(const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  std::vector<TensorToWrite> out;
  for (const auto& [name, t] : state)
    out.push_back({name, safetensors_dtype_of(t.scalar_type()), std::vector<std::int64_t>(t.sizes().begin(), t.sizes().end()),
                   std::string_view(static_cast<const char*>(t.data_ptr()), t.nbytes())});
  return out;
}

// ss_bucket_info's buckets: kohya numbers the non-empty buckets in (width, height) order, as the
// plan lists them; the mean aspect error is over the images kohya registers (repeats above 0).
void fill_bucket_info(const BucketPlan& plan, LoRATrainingInfo& i) {
  std::int64_t index = 0;
  for (const BucketSummary& b : plan.buckets) {
    if (b.entries <= 0) continue;
    i.buckets.push_back({index++, b.size.width, b.size.height, static_cast<std::int64_t>(b.entries)});
  }
  double sum = 0;
  std::int64_t n = 0;
  for (const PlannedImage& im : plan.images) {
    if (im.repeats <= 0) continue;
    sum += std::abs(im.assignment.aspect_error);
    ++n;
  }
  i.mean_img_ar_error = n > 0 ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace

std::string output_name(const TrainConfig& config) {
  if (!config.saving.name.empty()) return config.saving.name;
  std::string stem = config.profile_path.stem().string();
  return stem.empty() ? "lora" : stem;
}

LoRATrainingInfo make_training_info(const TrainConfig& c, const TrainingSet& set, const BaseModel& model,
                                    std::int64_t batches_per_epoch, std::int64_t total_steps,
                                    std::int64_t total_epochs) {
  LoRATrainingInfo i;
  i.family = model.family;
  i.v_parameterization = model.prediction == Prediction::VPrediction;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  i.training_started_at = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  i.session_id = std::to_string(mix64(static_cast<std::uint64_t>(now.count())) % 2147483647);
  i.output_name = output_name(c);
  i.sd_model_name = model.name;
  i.vae_name = c.model.vae ? c.model.vae->filename().string() : "";
  if (model.tiny_random.empty()) hash_model_file(c.model.path, &i.sd_model_hash, &i.new_sd_model_hash);
  if (c.model.vae) hash_model_file(*c.model.vae, &i.vae_hash, &i.new_vae_hash);
  i.tiny_random_base = model.tiny_random;
  if (!model.tiny_random.empty())
    i.training_comment = fmt::format("trained on {}: tiny random base model, not a real checkpoint",
                                     model.tiny_random);
  i.learning_rate = c.optimizer.lr;
  i.unet_lr = c.optimizer.effective_unet_lr();
  if (c.network.train_text_encoder) i.text_encoder_lr = c.optimizer.effective_text_encoder_lr();
  i.optimizer = optimizer_name(c.optimizer.config);
  i.lr_scheduler = to_string(c.schedule.type);
  i.lr_warmup_steps = c.schedule.warmup_steps > 0
                          ? c.schedule.warmup_steps
                          : static_cast<std::int64_t>(c.schedule.warmup_ratio * static_cast<double>(total_steps));
  for (const Concept& concept : set.dataset.concepts) {
    LoRADatasetDir dir{concept.folder_name, concept.repeats, static_cast<std::int64_t>(concept.items.size())};
    (concept.is_regularization ? i.reg_dataset_dirs : i.dataset_dirs).push_back(dir);
    (concept.is_regularization ? i.num_reg_images : i.num_train_images) += dir.img_count * dir.n_repeats;
  }
  i.num_batches_per_epoch = batches_per_epoch;
  i.num_epochs = total_epochs;
  i.max_train_steps = total_steps;
  i.batch_size = c.training.batch_size;
  i.gradient_accumulation_steps = c.training.gradient_accumulation_steps;
  i.gradient_checkpointing = c.training.gradient_checkpointing;
  i.width = c.training.width;
  i.height = c.training.height;
  i.enable_bucket = c.data.bucketing;
  i.min_bucket_reso = c.data.min_bucket_reso;
  i.max_bucket_reso = c.data.max_bucket_reso;
  fill_bucket_info(set.plan, i);
  i.mixed_precision = to_string(c.training.mixed_precision);
  i.save_precision = to_string(c.saving.precision);
  if (model.family != ModelFamily::SDXL) i.clip_skip = c.model.clip_skip;
  i.seed = static_cast<std::int64_t>(c.training.seed);
  if (c.noise.offset > 0) i.noise_offset = c.noise.offset;
  if (c.loss.min_snr_gamma > 0) i.min_snr_gamma = c.loss.min_snr_gamma;
  if (c.noise.ip_noise_gamma > 0) i.ip_noise_gamma = c.noise.ip_noise_gamma;
  if (c.optimizer.max_grad_norm > 0) i.max_grad_norm = c.optimizer.max_grad_norm;
  i.multires_noise_iterations = c.noise.multires_iterations;
  i.multires_noise_discount = c.noise.multires_discount;
  i.zero_terminal_snr = c.noise_schedule.zero_terminal_snr;
  i.caption_dropout_rate = c.data.caption_dropout_rate;
  i.caption_tag_dropout_rate = c.data.caption_tag_dropout_rate;
  i.keep_tokens = c.data.keep_tokens;
  // ss_max_token_length stays None: captions are cut at 75 tokens, kohya's default.
  if (c.timesteps.min != 0) i.min_timestep = c.timesteps.min;
  if (c.timesteps.max != 1000) i.max_timestep = c.timesteps.max;
  if (c.validation.enabled()) {
    i.validation_split = c.validation.split;
    i.num_validation_images = static_cast<std::int64_t>(set.validation.size());
    i.validation_seed = c.validation.seed;
    if (c.validation.every_n_steps > 0) i.validate_every_n_steps = c.validation.every_n_steps;
    i.validate_every_n_epochs = 1;  // Lathe validates at every epoch end
  }
  i.shuffle_caption = c.data.shuffle_caption;
  i.flip_aug = c.data.flip;
  i.random_crop = c.data.crop == CropMode::Random;
  i.cache_latents = c.data.cache_latents != LatentCache::Off;
  for (const Concept& concept : set.dataset.concepts)
    if (concept.is_regularization) i.prior_loss_weight = concept.loss_weight;
  i.loss_type = c.loss.type == LossType::MSE ? "l2" : to_string(c.loss.type);
  for (const auto& [folder, tags] : set.tag_frequency)
    for (const auto& [tag, count] : tags) i.tag_frequency[folder][tag] = count;
  return i;
}

std::map<std::string, std::string> lora_file_metadata(const LoRAOptions& options, const LoRATrainingInfo& info,
                                                      const std::vector<TensorToWrite>& tensors) {
  std::map<std::string, std::string> metadata = kohya_metadata(options, info);
  const AddnetHashes hashes = addnet_hashes(tensors, metadata);
  metadata["sshs_model_hash"] = hashes.model_hash;
  metadata["sshs_legacy_hash"] = hashes.legacy_hash;
  return metadata;
}

void save_lora_file(const LoRANetwork& network, const fs::path& run_dir, const fs::path& relative,
                    const TrainConfig& config, const LoRATrainingInfo& info,
                    const std::vector<std::pair<std::string, torch::Tensor>>& bundled) {
  const fs::path path = run_dir / relative;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  LoRATrainingInfo saved = info;
  saved.training_finished_at = unix_seconds_now();  // kohya: the time of each save
  // kohya_state is sorted by name and all one dtype: the layout the hashes assume.
  const torch::Dtype dtype = save_dtype(config.saving.precision);
  auto state = network->kohya_state(dtype);
  for (const auto& [name, t] : bundled) state.emplace_back(name, t.to(torch::kCPU, dtype).contiguous());
  if (!bundled.empty())
    std::sort(state.begin(), state.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  write_tensors(path, state, lora_file_metadata(network->options(), saved, tensor_views(state)));
}

std::vector<fs::path> prune_epoch_files(const fs::path& run_dir, const std::string& name,
                                        std::int64_t keep_last) {
  const fs::path dir = run_dir / "epochs";
  std::vector<fs::path> epoch_files, all;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (entry.path().extension() != ".safetensors") continue;
      all.push_back(fs::path("epochs") / file);
      if (is_epoch_file(file, name)) epoch_files.push_back(all.back());
    }
  }
  std::sort(epoch_files.begin(), epoch_files.end());
  std::sort(all.begin(), all.end());
  if (keep_last > 0 && static_cast<std::int64_t>(epoch_files.size()) > keep_last) {
    const std::size_t remove = epoch_files.size() - static_cast<std::size_t>(keep_last);
    for (std::size_t i = 0; i < remove; ++i) {
      fs::remove(run_dir / epoch_files[i], ec);
      all.erase(std::remove(all.begin(), all.end(), epoch_files[i]), all.end());
    }
  }
  return all;
}

}  // namespace lathe
