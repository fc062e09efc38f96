// Key lists of the profile schema, in the order `lathe profile show` prints them.
#include "train/config/train_config_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace lathe {
namespace {

using Keys = std::vector<std::string_view>;

const Keys& data_keys() {
  static const Keys keys = {"shuffle_caption", "keep_tokens", "caption_dropout_rate",
                            "caption_tag_dropout_rate", "flip", "crop", "bucketing",
                            "min_bucket_reso", "max_bucket_reso", "bucket_reso_steps",
                            "bucket_no_upscale", "remainder_policy", "cache_latents",
                            "cache_text_encoder_outputs", "on_bad_image"};
  return keys;
}

Keys with_data_keys(Keys base) {
  base.insert(base.end(), data_keys().begin(), data_keys().end());
  return base;
}

const std::map<std::string_view, Keys>& schema() {
  static const std::map<std::string_view, Keys> s = {
      {"model", {"path", "tokenizer", "family", "prediction", "clip_skip", "dtype", "vae", "use_ema"}},
      {"dataset", with_data_keys({"path", "caption_extension", "recursive"})},
      {"concepts",
       {"path", "repeats", "activation_tag", "caption_extension", "is_regularization",
        "loss_weight"}},
      {"network",
       {"type", "rank", "alpha", "dropout", "rank_dropout", "module_dropout", "conv_dim",
        "conv_alpha", "dora", "factor", "decompose_both", "train_unet", "train_text_encoder", "block_dims", "block_alphas",
        "conv_block_dims", "conv_block_alphas", "down_lr_weight", "mid_lr_weight", "up_lr_weight",
        "block_lr_zero_threshold"}},
      {"optimizer",
       {"type", "lr", "unet_lr", "text_encoder_lr", "weight_decay", "max_grad_norm", "beta1",
        "beta2", "eps", "momentum", "dampening", "nesterov", "beta3", "d0", "d_coef",
        "growth_rate", "decouple", "use_bias_correction", "safeguard_warmup", "embedding_lr",
        "embedding_stop_step"}},
      {"schedule", {"type", "warmup_steps", "warmup_ratio", "num_cycles", "power", "end_lr"}},
      {"noise",
       {"offset", "multires_iterations", "multires_discount", "ip_noise_gamma", "min_snr_gamma",
        "zero_terminal_snr", "min_timestep", "max_timestep", "loss", "huber_c",
        "huber_schedule", "huber_scale"}},
      {"training",
       with_data_keys({"epochs", "max_steps", "batch_size", "resolution", "seed",
                       "gradient_accumulation_steps", "gradient_checkpointing",
                       "mixed_precision", "device", "allow_tf32", "deterministic"})},
      {"validation", {"split", "concept", "every_n_steps", "timesteps", "seed"}},
      {"saving",
       {"every_n_epochs", "every_n_steps", "keep_last", "precision", "name",
        "log_every_n_steps", "embedding_file"}},
      {"sample",
       {"prompts", "prompts_file", "every_n_steps", "every_n_epochs", "at_start", "sampler",
        "steps", "cfg", "width", "height", "seed", "negative_prompt"}},
      {"output", {"dir"}},
      {"embeddings", {"name", "vectors", "init_word", "file", "train"}},
  };
  return s;
}

}  // namespace

const std::vector<std::string_view>& profile_sections() {
  static const Keys sections = {"model",    "dataset",  "concepts",   "network",
                                "optimizer", "schedule", "noise",      "training",
                                "validation", "saving",  "sample",     "output",
                                "embeddings"};
  return sections;
}

const std::vector<std::string_view>& profile_section_keys(std::string_view section) {
  static const Keys none;
  auto it = schema().find(section);
  return it == schema().end() ? none : it->second;
}

const std::vector<std::string_view>& data_option_keys() { return data_keys(); }

bool is_data_option_key(std::string_view key) {
  return std::find(data_keys().begin(), data_keys().end(), key) != data_keys().end();
}

std::string toml_quote(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04X}", c);
        else
          out += ch;
    }
  }
  return out + "\"";
}

}  // namespace lathe
