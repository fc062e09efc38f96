// kohya's ss_* metadata (see lora_metadata.h). Values are strings formatted as Python's str()
// would format the argparse values kohya stores, since tools compare and parse them as such.
#include "lora/lora_metadata.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lora/lora_network.h"

namespace lathe {
namespace {

std::string py_bool(bool b) { return b ? "True" : "False"; }
std::string py_opt(const std::optional<double>& v) { return v ? python_float(*v) : "None"; }
template <typename Int>
std::string py_opt_int(const std::optional<Int>& v) { return v ? std::to_string(*v) : "None"; }

// ModelSpec's date: Python's datetime.fromtimestamp(int(t)).isoformat(), local time.
std::string iso_local_date(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  localtime_r(&t, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &local);
  return text;
}

// kohya's sai_model_spec.build_metadata for a LoRA: the architecture and implementation of the
// base, the output name as title, the training resolution, the prediction type, the save date.
void add_modelspec(const LoRATrainingInfo& i, std::map<std::string, std::string>& m) {
  m["modelspec.sai_model_spec"] = "1.0.0";
  m["modelspec.architecture"] = modelspec_architecture(i.family, i.v_parameterization);
  m["modelspec.implementation"] = i.family == ModelFamily::SDXL
                                      ? "https://github.com/Stability-AI/generative-models"
                                      : "diffusers";
  m["modelspec.title"] = i.output_name;
  m["modelspec.resolution"] = fmt::format("{}x{}", i.width, i.height);
  m["modelspec.prediction_type"] = i.v_parameterization ? "v" : "epsilon";
  if (i.training_finished_at > 0) m["modelspec.date"] = iso_local_date(i.training_finished_at);
  if (i.clip_skip) m["modelspec.encoder_layer"] = std::to_string(*i.clip_skip);
  if (i.min_timestep || i.max_timestep)
    m["modelspec.timestep_range"] = fmt::format("{},{}", i.min_timestep.value_or(0), i.max_timestep.value_or(1000));
}

nlohmann::json dirs_json(const std::vector<LoRADatasetDir>& dirs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& d : dirs) j[d.name] = {{"n_repeats", d.n_repeats}, {"img_count", d.img_count}};
  return j;
}

}  // namespace

const char* kohya_base_model_version(ModelFamily f) {
  switch (f) {
    case ModelFamily::SD1: return "sd_v1";
    case ModelFamily::SD2: return "sd_v2";
    case ModelFamily::SDXL: return "sdxl_base_v1-0";
  }
  return "sd_v1";
}

std::string modelspec_architecture(ModelFamily f, bool v_parameterization) {
  switch (f) {
    case ModelFamily::SD1: return "stable-diffusion-v1/lora";
    case ModelFamily::SD2:
      return v_parameterization ? "stable-diffusion-v2-768-v/lora" : "stable-diffusion-v2-512/lora";
    case ModelFamily::SDXL: return "stable-diffusion-xl-v1-base/lora";
  }
  return "stable-diffusion-v1/lora";
}

// Written by hand rather than with nlohmann: Python's json.dumps separates with ", " and ": ".
std::string kohya_bucket_info(const LoRATrainingInfo& i) {
  if (!i.enable_bucket) return "null";
  std::string buckets;
  for (const LoRABucket& b : i.buckets)
    buckets += fmt::format("{}\"{}\": {{\"resolution\": [{}, {}], \"count\": {}}}", buckets.empty() ? "" : ", ",
                           b.index, b.width, b.height, b.count);
  return fmt::format("{{\"buckets\": {{{}}}, \"mean_img_ar_error\": {}}}", buckets,
                     python_float(i.mean_img_ar_error));
}

std::string python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);  // shortest round-trip, like repr()
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  // Python writes exponents with at least two digits ("1e-05"); fmt does too.
  return s;
}

std::map<std::string, std::string> kohya_metadata(const LoRAOptions& o, const LoRATrainingInfo& i) {
  std::map<std::string, std::string> m;
  m["ss_session_id"] = i.session_id;
  m["ss_training_started_at"] = std::to_string(i.training_started_at);
  m["ss_output_name"] = i.output_name;
  m["ss_learning_rate"] = python_float(i.learning_rate);
  m["ss_unet_lr"] = py_opt(i.unet_lr);
  m["ss_text_encoder_lr"] = py_opt(i.text_encoder_lr);
  m["ss_num_train_images"] = std::to_string(i.num_train_images);
  m["ss_num_reg_images"] = std::to_string(i.num_reg_images);
  m["ss_num_batches_per_epoch"] = std::to_string(i.num_batches_per_epoch);
  m["ss_num_epochs"] = std::to_string(i.num_epochs);
  m["ss_epoch"] = std::to_string(i.epoch);
  if (i.training_finished_at > 0) m["ss_training_finished_at"] = python_float(i.training_finished_at);
  m["ss_steps"] = std::to_string(i.steps);
  m["ss_max_train_steps"] = std::to_string(i.max_train_steps);
  m["ss_lr_warmup_steps"] = std::to_string(i.lr_warmup_steps);
  m["ss_lr_scheduler"] = i.lr_scheduler;
  m["ss_optimizer"] = i.optimizer;
  m["ss_batch_size_per_device"] = std::to_string(i.batch_size);
  m["ss_total_batch_size"] = std::to_string(i.batch_size * i.gradient_accumulation_steps);
  m["ss_gradient_accumulation_steps"] = std::to_string(i.gradient_accumulation_steps);
  m["ss_gradient_checkpointing"] = py_bool(i.gradient_checkpointing);
  // LoHa, LoKr and DoRA are LyCORIS's: its kohya entry point writes these two keys so
  // (network_module "lycoris.kohya", network_args {"algo": ...}); kohya's own LoRA / LoCon keep
  // networks.lora.
  const bool lycoris = o.algo != NetworkAlgo::LoRA || o.dora;
  m["ss_network_module"] = lycoris ? "lycoris.kohya" : "networks.lora";
  m["ss_network_dim"] = std::to_string(o.rank);
  m["ss_network_alpha"] = python_float(o.alpha > 0 ? o.alpha : static_cast<double>(o.rank));
  m["ss_network_dropout"] = o.dropout > 0 ? python_float(o.dropout) : "None";
  // kohya stores --network_args as given (strings), JSON-encoded.
  nlohmann::json args = nlohmann::json::object();
  if (lycoris) {
    args["algo"] = o.algo == NetworkAlgo::LoRA ? (o.conv_rank > 0 ? "locon" : "lora") : network_algo_name(o.algo);
    if (o.dora) args["dora_wd"] = "True";
    if (o.algo == NetworkAlgo::LoKr) {
      args["factor"] = std::to_string(o.lokr_factor);
      if (o.lokr_decompose_both) args["decompose_both"] = "True";
    }
  }
  if (o.conv_rank > 0) {
    args["conv_dim"] = std::to_string(o.conv_rank);
    args["conv_alpha"] = python_float(o.conv_alpha > 0 ? o.conv_alpha : static_cast<double>(o.conv_rank));
  }
  if (o.rank_dropout > 0) args["rank_dropout"] = python_float(o.rank_dropout);
  if (o.module_dropout > 0) args["module_dropout"] = python_float(o.module_dropout);
  const LoRABlockSettings& b = o.blocks;  // kohya's comma text, as its network_args hold them
  if (!b.dims.empty()) args["block_dims"] = block_list_text(b.dims);
  if (!b.alphas.empty()) args["block_alphas"] = block_list_text(b.alphas);
  if (!b.conv_dims.empty()) args["conv_block_dims"] = block_list_text(b.conv_dims);
  if (!b.conv_alphas.empty()) args["conv_block_alphas"] = block_list_text(b.conv_alphas);
  if (b.down_lr_weight.set()) args["down_lr_weight"] = lr_weight_text(b.down_lr_weight);
  if (!b.mid_lr_weight.empty()) args["mid_lr_weight"] = block_list_text(b.mid_lr_weight);
  if (b.up_lr_weight.set()) args["up_lr_weight"] = lr_weight_text(b.up_lr_weight);
  if (b.lr_zero_threshold > 0) args["block_lr_zero_threshold"] = python_float(b.lr_zero_threshold);
  if (!args.empty()) m["ss_network_args"] = args.dump();
  m["ss_mixed_precision"] = i.mixed_precision;
  m["ss_full_fp16"] = "False";
  m["ss_v2"] = py_bool(i.family == ModelFamily::SD2);
  m["ss_base_model_version"] = kohya_base_model_version(i.family);
  if (i.v_parameterization) m["ss_v_parameterization"] = "True";
  m["ss_resolution"] = fmt::format("({}, {})", i.width, i.height);
  m["ss_enable_bucket"] = py_bool(i.enable_bucket);
  m["ss_min_bucket_reso"] = std::to_string(i.min_bucket_reso);
  m["ss_max_bucket_reso"] = std::to_string(i.max_bucket_reso);
  m["ss_bucket_info"] = kohya_bucket_info(i);
  m["ss_clip_skip"] = i.clip_skip ? std::to_string(*i.clip_skip) : "None";
  m["ss_seed"] = std::to_string(i.seed);
  m["ss_noise_offset"] = py_opt(i.noise_offset);
  m["ss_multires_noise_iterations"] = i.multires_noise_iterations > 0 ? std::to_string(i.multires_noise_iterations) : "None";
  m["ss_multires_noise_discount"] = python_float(i.multires_noise_discount);
  m["ss_ip_noise_gamma"] = py_opt(i.ip_noise_gamma);
  m["ss_min_snr_gamma"] = py_opt(i.min_snr_gamma);
  m["ss_zero_terminal_snr"] = py_bool(i.zero_terminal_snr);
  m["ss_max_grad_norm"] = py_opt(i.max_grad_norm);
  m["ss_caption_dropout_rate"] = python_float(i.caption_dropout_rate);
  m["ss_caption_tag_dropout_rate"] = python_float(i.caption_tag_dropout_rate);
  m["ss_keep_tokens"] = std::to_string(i.keep_tokens);
  m["ss_max_token_length"] = py_opt_int(i.max_token_length);
  m["ss_validation_split"] = python_float(i.validation_split);
  m["ss_num_validation_images"] = std::to_string(i.num_validation_images);
  m["ss_validation_seed"] = py_opt_int(i.validation_seed);
  m["ss_validate_every_n_steps"] = py_opt_int(i.validate_every_n_steps);
  m["ss_validate_every_n_epochs"] = py_opt_int(i.validate_every_n_epochs);
  m["ss_max_validation_steps"] = "None";  // Lathe validates on every held-out image
  m["ss_shuffle_caption"] = py_bool(i.shuffle_caption);
  m["ss_flip_aug"] = py_bool(i.flip_aug);
  m["ss_random_crop"] = py_bool(i.random_crop);
  m["ss_cache_latents"] = py_bool(i.cache_latents);
  m["ss_prior_loss_weight"] = python_float(i.prior_loss_weight);
  m["ss_loss_type"] = i.loss_type;
  m["ss_training_comment"] = i.training_comment.empty() ? "None" : i.training_comment;
  m["ss_sd_model_name"] = i.sd_model_name;
  m["ss_vae_name"] = i.vae_name.empty() ? "None" : i.vae_name;
  if (!i.sd_model_hash.empty()) m["ss_sd_model_hash"] = i.sd_model_hash;
  if (!i.new_sd_model_hash.empty()) m["ss_new_sd_model_hash"] = i.new_sd_model_hash;
  if (!i.vae_hash.empty()) m["ss_vae_hash"] = i.vae_hash;
  if (!i.new_vae_hash.empty()) m["ss_new_vae_hash"] = i.new_vae_hash;
  m["ss_dataset_dirs"] = dirs_json(i.dataset_dirs).dump();
  m["ss_reg_dataset_dirs"] = dirs_json(i.reg_dataset_dirs).dump();
  m["ss_tag_frequency"] = nlohmann::json(i.tag_frequency).dump();
  add_modelspec(i, m);
  if (!i.tiny_random_base.empty()) m["lathe_base_model"] = i.tiny_random_base;
  for (const auto& kv : i.extra) m[kv.first] = kv.second;
  return m;
}

}  // namespace lathe
