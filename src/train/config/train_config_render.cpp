// TrainConfig -> TOML: every effective value, defaults included, in the schema's order, with
// absolute paths, so the frozen runs/<id>/profile.toml re-parses to the same config wherever
// it is read from. `lathe profile show` prints the same entries.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "train/config/train_config.h"
#include "train/config/train_config_blocks.h"
#include "train/config/train_config_keys.h"
#include "train/config/train_config_sample.h"

namespace lathe {
namespace {

// Shortest text that reads back to the same double, always a TOML float.
std::string number(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string number(int64_t v) { return fmt::format("{}", v); }
std::string boolean(bool v) { return v ? "true" : "false"; }

class Entries {
 public:
  explicit Entries(std::vector<ConfigEntry>& out) : out_(out) {}
  Entries& section(std::string name) {
    section_ = std::move(name);
    return *this;
  }
  void add(const char* key, std::string toml) { out_.push_back({section_, key, std::move(toml)}); }
  void str(const char* key, const std::string& v) { add(key, toml_quote(v)); }
  void opt_str(const char* key, const std::optional<std::string>& v) {
    add(key, v ? toml_quote(*v) : std::string());
  }
  void opt_path(const char* key, const std::optional<std::filesystem::path>& v) {
    add(key, v ? toml_quote(v->string()) : std::string());
  }
  void num(const char* key, double v) { add(key, number(v)); }
  void opt_num(const char* key, const std::optional<double>& v) {
    add(key, v ? number(*v) : std::string());
  }
  void integer(const char* key, int64_t v) { add(key, number(v)); }
  void flag(const char* key, bool v) { add(key, boolean(v)); }

 private:
  std::vector<ConfigEntry>& out_;
  std::string section_;
};

const char* family_key(ModelFamily f) {
  switch (f) {
    case ModelFamily::SD1: return "sd15";
    case ModelFamily::SD2: return "sd2";
    case ModelFamily::SDXL: return "sdxl";
  }
  return "sd15";
}

void add_model(Entries& e, const ModelConfig& m) {
  e.section("model");
  e.str("path", m.path);
  e.opt_path("tokenizer", m.tokenizer);
  e.opt_str("family", m.family ? std::optional<std::string>(family_key(*m.family)) : std::nullopt);
  e.opt_str("prediction",
            m.prediction ? std::optional<std::string>(to_string(*m.prediction)) : std::nullopt);
  e.integer("clip_skip", m.clip_skip);
  e.str("dtype", to_string(m.dtype));
  e.opt_path("vae", m.vae);
  if (m.use_ema) e.flag("use_ema", true);  // only when set, so earlier runs' profile hashes still match
}

void add_dataset(Entries& e, const ProfileDataset& ds, const DataConfig& d) {
  e.section("dataset");
  e.str("path", ds.root.string());
  e.str("caption_extension", ds.options.caption_extension);
  e.flag("recursive", ds.options.recursive);
  e.flag("shuffle_caption", d.shuffle_caption);
  e.integer("keep_tokens", d.keep_tokens);
  e.num("caption_dropout_rate", d.caption_dropout_rate);
  e.num("caption_tag_dropout_rate", d.caption_tag_dropout_rate);
  e.flag("flip", d.flip);
  e.str("crop", to_string(d.crop));
  e.flag("bucketing", d.bucketing);
  e.integer("min_bucket_reso", d.min_bucket_reso);
  e.integer("max_bucket_reso", d.max_bucket_reso);
  e.integer("bucket_reso_steps", d.bucket_reso_steps);
  e.flag("bucket_no_upscale", d.bucket_no_upscale);
  e.str("remainder_policy", remainder_policy_name(d.remainder_policy));
  e.str("cache_latents", to_string(d.cache_latents));
  e.flag("cache_text_encoder_outputs", d.cache_text_encoder_outputs);
  e.str("on_bad_image", d.on_bad_image == BadImagePolicy::Skip ? "skip" : "stop");
  for (std::size_t i = 0; i < ds.concepts.size(); ++i) {
    const ConceptSpec& c = ds.concepts[i];
    e.section(fmt::format("concepts[{}]", i + 1));
    e.str("path", c.path.string());
    e.integer("repeats", c.repeats);
    e.opt_str("activation_tag", c.activation_tag);
    e.str("caption_extension", c.caption_extension);
    e.flag("is_regularization", c.is_regularization);
    e.num("loss_weight", c.loss_weight);
  }
}

void add_network(Entries& e, const NetworkConfig& n) {
  e.section("network");
  e.str("type", to_string(n.type));
  if (n.type == NetworkType::Embedding) return;  // textual inversion has no LoRA keys
  e.integer("rank", n.rank);
  e.num("alpha", n.alpha);
  e.num("dropout", n.dropout);
  e.num("rank_dropout", n.rank_dropout);
  e.num("module_dropout", n.module_dropout);
  if (n.conv_dim > 0) {
    e.integer("conv_dim", n.conv_dim);
    e.num("conv_alpha", n.conv_alpha);
  }
  e.flag("dora", n.dora);
  if (n.type == NetworkType::LoKr) {
    e.integer("factor", n.factor);
    e.flag("decompose_both", n.decompose_both);
  }
  e.flag("train_unet", n.train_unet);
  e.flag("train_text_encoder", n.train_text_encoder);
  for (const auto& [key, toml] : network_block_entries(n.blocks)) e.add(key, toml);  // only when set
}

void add_optimizer(Entries& e, const OptimizerSettings& o) {
  const OptimizerConfig& c = o.config;
  e.section("optimizer");
  e.str("type", to_string(c.type));
  e.num("lr", o.lr);
  e.opt_num("unet_lr", o.unet_lr);
  e.opt_num("text_encoder_lr", o.text_encoder_lr);
  e.num("weight_decay", c.weight_decay);
  e.num("max_grad_norm", o.max_grad_norm);
  switch (c.type) {
    case OptimizerType::AdamW:
      e.num("beta1", c.beta1);
      e.num("beta2", c.beta2);
      e.num("eps", c.eps);
      break;
    case OptimizerType::Lion:
      e.num("beta1", c.beta1);
      e.num("beta2", c.beta2);
      break;
    case OptimizerType::SGD:
      e.num("momentum", c.momentum);
      e.num("dampening", c.dampening);
      e.flag("nesterov", c.nesterov);
      break;
    case OptimizerType::Prodigy:
      e.num("beta1", c.beta1);
      e.num("beta2", c.beta2);
      e.opt_num("beta3", c.beta3);
      e.num("eps", c.eps);
      e.num("d0", c.d0);
      e.num("d_coef", c.d_coef);
      e.num("growth_rate", c.growth_rate);
      e.flag("decouple", c.decouple);
      e.flag("use_bias_correction", c.use_bias_correction);
      e.flag("safeguard_warmup", c.safeguard_warmup);
      break;
  }
}

void add_schedule(Entries& e, const LrScheduleConfig& s) {
  e.section("schedule");
  e.str("type", to_string(s.type));
  if (s.warmup_ratio > 0)
    e.num("warmup_ratio", s.warmup_ratio);
  else
    e.integer("warmup_steps", s.warmup_steps);
  e.opt_num("num_cycles", s.num_cycles);
  e.num("power", s.power);
  e.num("end_lr", s.end_lr);
}

void add_noise(Entries& e, const TrainConfig& c) {
  e.section("noise");
  e.num("offset", c.noise.offset);
  e.integer("multires_iterations", c.noise.multires_iterations);
  e.num("multires_discount", c.noise.multires_discount);
  e.num("ip_noise_gamma", c.noise.ip_noise_gamma);
  e.num("min_snr_gamma", c.loss.min_snr_gamma);
  e.flag("zero_terminal_snr", c.noise_schedule.zero_terminal_snr);
  e.integer("min_timestep", c.timesteps.min);
  e.integer("max_timestep", c.timesteps.max);
  e.str("loss", to_string(c.loss.type));
  e.num("huber_c", c.loss.huber_c);
  e.str("huber_schedule", to_string(c.loss.huber_schedule));
  e.num("huber_scale", c.loss.huber_scale);
}

void add_training(Entries& e, const TrainingConfig& t) {
  e.section("training");
  e.integer("epochs", t.epochs);
  e.integer("max_steps", t.max_steps);
  e.integer("batch_size", t.batch_size);
  e.add("resolution", t.width == t.height ? number(int64_t{t.width})
                                          : fmt::format("[{}, {}]", t.width, t.height));
  e.integer("seed", static_cast<int64_t>(t.seed));
  e.integer("gradient_accumulation_steps", t.gradient_accumulation_steps);
  e.flag("gradient_checkpointing", t.gradient_checkpointing);
  e.str("mixed_precision", to_string(t.mixed_precision));
  e.str("device", t.device);
  e.flag("allow_tf32", t.allow_tf32);
  e.flag("deterministic", t.deterministic);
}

void add_validation(Entries& e, const ValidationConfig& v) {
  e.section("validation");
  if (v.concept)
    e.opt_path("concept", v.concept);
  else
    e.num("split", v.split);
  e.integer("every_n_steps", v.every_n_steps);
  e.add("timesteps", fmt::format("[{}]", fmt::join(v.timesteps, ", ")));
  e.integer("seed", static_cast<int64_t>(v.seed));
}

// The [[embeddings]] entries and the optimizer / saving keys that go with them; nothing when the
// profile has none, so the identity of runs without embeddings is what it always was.
void add_embedding_optimizer_keys(Entries& e, const TrainConfig& c) {
  if (!c.trains_embeddings()) return;
  e.num("embedding_lr", c.optimizer.effective_embedding_lr());
  if (!c.textual_inversion()) e.integer("embedding_stop_step", c.optimizer.embedding_stop_step);
}

void add_embeddings(Entries& e, const std::vector<EmbeddingSpec>& embeddings) {
  for (std::size_t i = 0; i < embeddings.size(); ++i) {
    const EmbeddingSpec& m = embeddings[i];
    e.section(fmt::format("embeddings[{}]", i + 1));
    e.str("name", m.name);
    if (m.vectors) e.integer("vectors", *m.vectors);
    if (!m.init_word.empty()) e.str("init_word", m.init_word);
    e.opt_path("file", m.file);
    e.flag("train", m.train);
  }
}

void add_saving(Entries& e, const SavingConfig& s, const OutputConfig& o, bool pivotal) {
  e.section("saving");
  e.integer("every_n_epochs", s.every_n_epochs);
  e.integer("every_n_steps", s.every_n_steps);
  e.integer("keep_last", s.keep_last);
  e.str("precision", to_string(s.precision));
  e.str("name", s.name);
  e.integer("log_every_n_steps", s.log_every_n_steps);
  if (pivotal) e.flag("embedding_file", s.embedding_file);
  e.section("output");
  e.str("dir", o.dir.string());
}

}  // namespace

std::vector<ConfigEntry> config_entries(const TrainConfig& c) {
  std::vector<ConfigEntry> out;
  Entries e(out);
  add_model(e, c.model);
  add_dataset(e, c.dataset, c.data);
  add_network(e, c.network);
  add_optimizer(e, c.optimizer);
  add_embedding_optimizer_keys(e, c);
  add_schedule(e, c.schedule);
  add_noise(e, c);
  add_training(e, c.training);
  add_validation(e, c.validation);
  add_saving(e, c.saving, c.output, c.trains_embeddings() && !c.textual_inversion());
  add_embeddings(e, c.embeddings);
  e.section("sample");
  for (const auto& [key, toml] : sample_entries(c.sample)) e.add(key, toml);  // only when sampling
  return out;
}

namespace {

std::string render_entries(const std::vector<ConfigEntry>& entries) {
  std::string out, section;
  for (const ConfigEntry& entry : entries) {
    if (entry.section != section) {
      section = entry.section;
      const auto bracket = section.find('[');
      out += bracket != std::string::npos ? fmt::format("\n[[{}]]\n", section.substr(0, bracket))
                                          : fmt::format("\n[{}]\n", section);
    }
    if (!entry.toml.empty()) out += fmt::format("{} = {}\n", entry.key, entry.toml);
  }
  return out;
}

}  // namespace

std::string render_profile_toml(const TrainConfig& c) {
  return fmt::format(
             "# Effective Lathe training profile (defaults included, paths absolute).\n"
             "# Rendered from {}.\n",
             toml_quote(c.profile_path.string())) +
         render_entries(config_entries(c));
}

std::string render_profile_identity(const TrainConfig& c) {
  // The header names the file the config was read from (the run's own profile.toml when a
  // worker reads it), [output] dir names where runs go and [sample] what is rendered on the
  // side (the trainer restores every state sampling touches): none changes what is trained.
  std::vector<ConfigEntry> entries = config_entries(c);
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const ConfigEntry& e) { return e.section == "output" || e.section == "sample"; }),
                entries.end());
  return render_entries(entries);
}

}  // namespace lathe
