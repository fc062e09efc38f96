// The `ss_*` metadata kohya-ss sd-scripts' train_network.py writes into a LoRA file, filled
// from a plain struct the training loop keeps up to date, and formatted as kohya formats it
// (Python str() of floats and booleans, "None" for unset values, JSON for dataset folders and
// tag frequencies) so A1111 / Forge / ComfyUI and civitai read it as they read kohya's files.
// Also the modelspec.* keys kohya writes beside them (Stability AI's ModelSpec 1.0.0: the
// architecture, title, resolution, date, prediction type); the sshs_* hashes of the file itself
// are added when it is saved (train/lora_saving.cpp, io/model_hashes.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/model_family.h"

namespace lathe {

struct LoRAOptions;

struct LoRADatasetDir {
  std::string name;           // folder name, "10_sks dog"
  std::int64_t n_repeats = 1;
  std::int64_t img_count = 0;
};

// One non-empty bucket of kohya's ss_bucket_info.
struct LoRABucket {
  std::int64_t index = 0;  // kohya's bucket number: the position in its bucket resolution list
  std::int64_t width = 0, height = 0;
  std::int64_t count = 0;  // images x repeats
};

struct LoRATrainingInfo {
  ModelFamily family = ModelFamily::SD1;
  bool v_parameterization = false;
  std::string session_id;                 // ss_session_id
  std::int64_t training_started_at = 0;   // unix seconds
  std::string output_name;
  std::string sd_model_name;              // base checkpoint file or folder name
  std::string vae_name;                   // "" = None
  // Hashes of the base checkpoint file and the VAE file (io/model_hashes.h); "" = not written
  // (a diffusers folder or a tiny random base has no single file to hash).
  std::string sd_model_hash, new_sd_model_hash;  // legacy (8 hex), full SHA-256
  std::string vae_hash, new_vae_hash;
  // Set when the base is a tiny random model: written as lathe_base_model (and in the comment).
  std::string tiny_random_base;           // "tiny-random sd15 (seed 1234)"
  double learning_rate = 0;
  std::optional<double> unet_lr, text_encoder_lr;
  std::string optimizer;                  // "AdamW", "Prodigy(d_coef=1.0)" ...
  std::string lr_scheduler = "constant";
  std::int64_t lr_warmup_steps = 0;
  std::int64_t num_train_images = 0, num_reg_images = 0, num_batches_per_epoch = 0;
  std::int64_t num_epochs = 0, epoch = 0, steps = 0, max_train_steps = 0;
  double training_finished_at = 0;         // unix seconds of this save; 0 = not written
  std::int64_t batch_size = 1, gradient_accumulation_steps = 1;
  bool gradient_checkpointing = false;
  std::int64_t width = 512, height = 512;  // ss_resolution "(W, H)"
  bool enable_bucket = true;
  std::vector<LoRABucket> buckets;         // ss_bucket_info (written as null without bucketing)
  double mean_img_ar_error = 0;            // mean |bucket aspect - image aspect| over the images
  std::int64_t min_bucket_reso = 256, max_bucket_reso = 1024;
  std::string mixed_precision = "no";     // "no", "fp16", "bf16"
  std::string save_precision = "fp16";
  std::optional<std::int64_t> clip_skip;
  std::int64_t seed = 0;
  std::optional<double> noise_offset, min_snr_gamma, ip_noise_gamma, max_grad_norm;
  std::int64_t multires_noise_iterations = 0;
  double multires_noise_discount = 0.3;
  bool zero_terminal_snr = false;
  double caption_dropout_rate = 0, caption_tag_dropout_rate = 0;
  std::int64_t keep_tokens = 0;
  std::optional<std::int64_t> max_token_length;  // None = 75 tokens, as kohya's default
  std::optional<std::int64_t> min_timestep, max_timestep;  // set when not 0 / 1000
  // Validation (kohya's names): the split, the held-out images, the seed, the cadence.
  double validation_split = 0;
  std::int64_t num_validation_images = 0;
  std::optional<std::uint64_t> validation_seed;
  std::optional<std::int64_t> validate_every_n_steps, validate_every_n_epochs;
  bool shuffle_caption = false, flip_aug = false, random_crop = false, cache_latents = false;
  double prior_loss_weight = 1.0;
  std::string loss_type = "l2";           // "l2", "huber", "smooth_l1"
  std::string training_comment;
  std::vector<LoRADatasetDir> dataset_dirs, reg_dataset_dirs;
  // folder name -> tag -> count (kohya: per dataset folder)
  std::map<std::string, std::map<std::string, std::int64_t>> tag_frequency;
  std::map<std::string, std::string> extra;  // written last, overriding same-named keys
};

// "sd_v1", "sd_v2", "sdxl_base_v1-0" (ss_base_model_version).
const char* kohya_base_model_version(ModelFamily f);

// Python's str() of a float: shortest round-trip digits, "1.0" not "1", "1e-05".
std::string python_float(double v);

// kohya's ss_bucket_info: Python json.dumps of {"buckets": {index: {"resolution": [w, h],
// "count": n}}, "mean_img_ar_error": e}, or "null" without bucketing.
std::string kohya_bucket_info(const LoRATrainingInfo& info);

// "stable-diffusion-v1/lora", "stable-diffusion-v2-512/lora", "stable-diffusion-v2-768-v/lora"
// (v-prediction), "stable-diffusion-xl-v1-base/lora" (modelspec.architecture).
std::string modelspec_architecture(ModelFamily f, bool v_parameterization);

// Every ss_* and modelspec.* key (and lathe_base_model for tiny random bases) for a network
// with `options`. The sshs_* hashes are not among them: they depend on the saved tensors.
std::map<std::string, std::string> kohya_metadata(const LoRAOptions& options,
                                                  const LoRATrainingInfo& info);

}  // namespace lathe
