// Profile -> TrainConfig: each section is read by its own function with range checks that name
// file:line and the dotted key; a section stops at its first error and the others are still
// read, so one `lathe profile check` shows every broken section. Cross-checks between sections
// (what kohya would refuse, or silently ignore) run once every section has parsed.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <set>

#include "common/error.h"
#include "io/profile.h"
#include "text/bpe_vocab.h"
#include "text/embedding_name.h"
#include "text/vocab_locator.h"
#include "train/config/train_config.h"
#include "train/config/train_config_blocks.h"
#include "train/config/train_config_keys.h"
#include "train/config/train_config_sample.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

template <class E>
using Choices = std::vector<std::pair<const char*, E>>;

// A choice among names: `key = "cosine"`; an unknown name lists the valid ones.
template <class E>
E read_choice(const ProfileTable& t, std::string_view key, const Choices<E>& choices, E fallback) {
  auto text = t.get_string(key);
  if (!text) return fallback;
  std::vector<std::string_view> names;
  for (const auto& [name, value] : choices) {
    if (*text == name) return value;
    names.push_back(name);
  }
  std::string list;
  for (auto n : names) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", n);
  std::string guess = closest_key(*text, names);
  t.fail(key, fmt::format("\"{}\" is not one of {}{}", *text, list,
                          guess.empty() ? "" : fmt::format("; did you mean \"{}\"?", guess)));
}

int64_t read_int(const ProfileTable& t, std::string_view key, int64_t fallback, int64_t lo,
                 int64_t hi) {
  auto v = t.get_int(key);
  if (!v) return fallback;
  if (*v < lo || *v > hi) {
    if (hi == INT64_MAX) t.fail(key, fmt::format("must be at least {}, got {}", lo, *v));
    t.fail(key, fmt::format("must be {} to {}, got {}", lo, hi, *v));
  }
  return *v;
}

// A number in [lo, hi] (hi_open: [lo, hi)); infinities and NaN are refused.
double read_float(const ProfileTable& t, std::string_view key, double fallback, double lo,
                  double hi, bool hi_open = false) {
  auto v = t.get_float(key);
  if (!v) return fallback;
  if (!std::isfinite(*v)) t.fail(key, fmt::format("must be a finite number, got {}", *v));
  bool ok = *v >= lo && (hi_open ? *v < hi : *v <= hi);
  if (!ok) {
    if (std::isinf(hi)) t.fail(key, fmt::format("must be a number >= {}, got {}", lo, *v));
    t.fail(key, fmt::format("must be in [{}, {}{}, got {}", lo, hi, hi_open ? ")" : "]", *v));
  }
  return *v;
}

double read_positive(const ProfileTable& t, std::string_view key, double fallback) {
  auto v = t.get_float(key);
  if (!v) return fallback;
  // inf and nan are "above 0" to nobody: say what is wanted, not the comparison that failed.
  if (!std::isfinite(*v)) t.fail(key, fmt::format("must be a finite number above 0, got {}", *v));
  if (*v <= 0) t.fail(key, fmt::format("must be above 0, got {}", *v));
  return *v;
}

bool read_bool(const ProfileTable& t, std::string_view key, bool fallback) {
  return t.get_bool(key).value_or(fallback);
}

fs::path absolute_path(const fs::path& base, const std::string& p) {
  fs::path path(p);
  if (path.is_relative()) path = base / path;
  return fs::absolute(path).lexically_normal();
}

fs::path profile_dir(const Profile& profile) {
  fs::path dir = profile.path().parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

std::optional<fs::path> read_path(const ProfileTable& t, std::string_view key) {
  auto p = t.get_string(key);
  if (!p) return std::nullopt;
  if (p->empty()) t.fail(key, "is empty; give a path or remove the key");
  return absolute_path(profile_dir(t.profile()), *p);
}

const Choices<WeightDType> kDTypes = {
    {"fp32", WeightDType::FP32}, {"fp16", WeightDType::FP16}, {"bf16", WeightDType::BF16}};
// model.dtype also takes "auto" (nullopt): the device decides when the run starts.
const Choices<std::optional<WeightDType>> kBaseDTypes = {{"auto", std::nullopt},
                                                         {"fp32", WeightDType::FP32},
                                                         {"fp16", WeightDType::FP16},
                                                         {"bf16", WeightDType::BF16}};

// The sections of the profile as tables (absent ones are nullopt), for messages.
struct Sections {
  ProfileTable root;
  std::map<std::string, std::optional<ProfileTable>> tables;

  explicit Sections(const Profile& p) : root(ProfileTable::root(p)) {}
  const std::optional<ProfileTable>& get(const std::string& name) const {
    static const std::optional<ProfileTable> none;
    auto it = tables.find(name);
    return it == tables.end() ? none : it->second;
  }
  // "p.toml:12: key noise.zero_terminal_snr" (or the file alone when the section is absent).
  std::string where(const std::string& section, std::string_view key) const {
    // Caption / image keys may live in [training] instead of [dataset].
    if (section == "dataset" && is_data_option_key(key) && get("training") &&
        get("training")->has(key))
      return where("training", key);
    const auto& t = get(section);
    if (!t) return fmt::format("{}: key {}.{}", root.profile().path().string(), section, key);
    return fmt::format("{}: key {}", t->location(key), t->key_path(key));
  }
};

ModelConfig read_model(const ProfileTable& t) {
  t.check_known_keys(profile_section_keys("model"));
  ModelConfig m;
  if (!t.has("path"))
    t.fail("path",
           "missing; give a checkpoint file or folder, or \"tiny-random:sd15\" for a test model");
  std::string path = *t.get_string("path");
  if (path.empty()) t.fail("path", "is empty; give a checkpoint file or folder");
  if (path.rfind(kTinyRandomPrefix, 0) == 0) {
    m.path = path;
    if (!m.tiny_random_family())
      t.fail("path", fmt::format("\"{}\" is not a tiny model; use \"tiny-random:sd15\", "
                                 "\"tiny-random:sd2\" or \"tiny-random:sdxl\"",
                                 path));
  } else {
    m.path = absolute_path(profile_dir(t.profile()), path).string();
  }
  m.tokenizer = read_path(t, "tokenizer");
  m.vae = read_path(t, "vae");
  if (t.has("family")) {
    m.family = read_choice<ModelFamily>(
        t, "family", {{"sd15", ModelFamily::SD1}, {"sd1", ModelFamily::SD1},
                      {"sd2", ModelFamily::SD2}, {"sdxl", ModelFamily::SDXL}},
        ModelFamily::SD1);
    if (auto tiny = m.tiny_random_family(); tiny && *tiny != *m.family)
      t.fail("family", fmt::format("{} contradicts model.path \"{}\"", family_id(*m.family),
                                   m.path));
  }
  if (t.has("prediction"))
    m.prediction = read_choice<Prediction>(
        t, "prediction",
        {{"epsilon", Prediction::Epsilon}, {"v_prediction", Prediction::VPrediction}},
        Prediction::Epsilon);
  m.clip_skip = static_cast<int>(read_int(t, "clip_skip", m.clip_skip, 1, 12));
  m.dtype = read_choice(t, "dtype", kBaseDTypes, m.dtype);
  m.use_ema = read_bool(t, "use_ema", m.use_ema);
  if (m.use_ema && m.is_tiny_random())
    t.fail("use_ema", "tiny random models have no EMA weights; remove model.use_ema or set model.path "
                      "to a non-pruned checkpoint");
  return m;
}

// Caption / image keys from [dataset] and [training]; a key in both is an error.
DataConfig read_data_options(const std::optional<ProfileTable>& dataset,
                             const std::optional<ProfileTable>& training) {
  for (std::string_view key : data_option_keys()) {
    if (dataset && training && dataset->has(key) && training->has(key))
      training->fail(key, fmt::format("also set at {} as {}; keep one", dataset->location(key),
                                      dataset->key_path(key)));
  }
  DataConfig d;
  for (const auto& opt : {dataset, training}) {
    if (!opt) continue;
    const ProfileTable& t = *opt;
    d.shuffle_caption = read_bool(t, "shuffle_caption", d.shuffle_caption);
    d.keep_tokens = static_cast<int>(read_int(t, "keep_tokens", d.keep_tokens, 0, 255));
    d.caption_dropout_rate = read_float(t, "caption_dropout_rate", d.caption_dropout_rate, 0, 1,
                                        true);
    d.caption_tag_dropout_rate =
        read_float(t, "caption_tag_dropout_rate", d.caption_tag_dropout_rate, 0, 1, true);
    d.flip = read_bool(t, "flip", d.flip);
    d.crop = read_choice<CropMode>(t, "crop",
                                   {{"center", CropMode::Center}, {"random", CropMode::Random}},
                                   d.crop);
    d.bucketing = read_bool(t, "bucketing", d.bucketing);
    d.min_bucket_reso = static_cast<int>(read_int(t, "min_bucket_reso", d.min_bucket_reso, 64, 8192));
    d.max_bucket_reso = static_cast<int>(read_int(t, "max_bucket_reso", d.max_bucket_reso, 64, 8192));
    d.bucket_reso_steps =
        static_cast<int>(read_int(t, "bucket_reso_steps", d.bucket_reso_steps, 8, 1024));
    if (t.has("bucket_reso_steps") && d.bucket_reso_steps % 8 != 0)
      t.fail("bucket_reso_steps",
             fmt::format("must be a multiple of 8 (the VAE's downscale), got {}",
                         d.bucket_reso_steps));
    d.bucket_no_upscale = read_bool(t, "bucket_no_upscale", d.bucket_no_upscale);
    d.remainder_policy = read_choice<RemainderPolicy>(
        t, "remainder_policy",
        {{"partial", RemainderPolicy::Partial}, {"drop", RemainderPolicy::Drop},
         {"pad", RemainderPolicy::Pad}},
        d.remainder_policy);
    d.cache_latents = read_choice<LatentCache>(
        t, "cache_latents",
        {{"memory", LatentCache::Memory}, {"disk", LatentCache::Disk}, {"off", LatentCache::Off}},
        d.cache_latents);
    d.cache_text_encoder_outputs =
        read_bool(t, "cache_text_encoder_outputs", d.cache_text_encoder_outputs);
    d.on_bad_image = read_choice<BadImagePolicy>(
        t, "on_bad_image", {{"stop", BadImagePolicy::Stop}, {"skip", BadImagePolicy::Skip}},
        d.on_bad_image);
  }
  return d;
}

ProfileDataset read_dataset(const Profile& profile, const Sections& s) {
  if (const auto& ds = s.get("dataset")) ds->check_known_keys(profile_section_keys("dataset"));
  for (const ProfileTable& c : s.root.get_table_array("concepts"))
    c.check_known_keys(profile_section_keys("concepts"));
  ProfileDataset d = read_profile_dataset(profile);
  d.root = fs::absolute(d.root).lexically_normal();
  for (ConceptSpec& c : d.concepts) c.path = fs::absolute(c.path).lexically_normal();
  return d;
}

// The keys of one network type: dora on any type, factor and decompose_both on lokr.
void read_network_type_keys(const ProfileTable& t, NetworkConfig* n) {
  n->dora = read_bool(t, "dora", n->dora);
  // LyCORIS's DoRA builds the weight and ignores neuron dropout; refusing it says so.
  if (n->dora && n->dropout > 0) t.fail("dropout", "does not apply with dora = true (DoRA builds the weight)");
  if (n->type == NetworkType::LoKr) {
    n->factor = read_int(t, "factor", n->factor, -1, 65536);
    if (n->factor == 0) t.fail("factor", "must be -1 (the split closest to a square) or a positive integer");
    n->decompose_both = read_bool(t, "decompose_both", n->decompose_both);
  } else {
    for (std::string_view key : {"factor", "decompose_both"})
      if (t.has(key)) t.fail(key, "applies to LoKr only; set network.type = \"lokr\" or remove it");
  }
}

NetworkConfig read_network(const ProfileTable& t) {
  t.check_known_keys(profile_section_keys("network"));
  NetworkConfig n;
  n.type = read_choice<NetworkType>(t, "type",
                                    {{"lora", NetworkType::LoRA},
                                     {"locon", NetworkType::LoCon},
                                     {"loha", NetworkType::LoHa},
                                     {"lokr", NetworkType::LoKr},
                                     {"embedding", NetworkType::Embedding}},
                                    n.type);
  if (n.type == NetworkType::Embedding) {
    // Textual inversion builds no network: a LoRA knob here would tune nothing.
    for (const std::string& key : t.keys())
      if (key != "type")
        t.fail(key, "does not apply to network.type = \"embedding\" (textual inversion trains only the "
                    "[[embeddings]] vectors); remove it, or pick a LoRA type for pivotal tuning");
    n.train_unet = n.train_text_encoder = false;  // no LoRA on either
    return n;
  }
  n.rank = read_int(t, "rank", n.rank, 1, 4096);
  n.alpha = read_positive(t, "alpha", n.alpha);
  n.dropout = read_float(t, "dropout", n.dropout, 0, 1, true);
  n.rank_dropout = read_float(t, "rank_dropout", n.rank_dropout, 0, 1, true);
  n.module_dropout = read_float(t, "module_dropout", n.module_dropout, 0, 1, true);
  if (n.type == NetworkType::LoRA) {
    for (std::string_view key : {"conv_dim", "conv_alpha"}) {
      if (t.has(key))
        t.fail(key, "applies to LoCon, LoHa and LoKr only; set network.type = \"locon\" or remove it");
    }
  } else if (n.type == NetworkType::LoCon) {
    n.conv_dim = read_int(t, "conv_dim", n.rank, 1, 4096);
    n.conv_alpha = read_positive(t, "conv_alpha", n.alpha);
  } else {
    // LyCORIS's LoHa / LoKr adapt the 3x3 convolutions only when conv_dim is given.
    n.conv_dim = read_int(t, "conv_dim", 0, 0, 4096);
    n.conv_alpha = n.conv_dim > 0 ? read_positive(t, "conv_alpha", n.alpha) : 0.0;
    if (n.conv_dim == 0 && t.has("conv_alpha")) t.fail("conv_alpha", "needs conv_dim (the rank of the convolutions)");
    // LyCORIS has no neuron dropout for LoHa / LoKr ("haven't implemented normal dropout").
    if (n.dropout > 0) t.fail("dropout", "applies to lora / locon only; use rank_dropout or module_dropout");
  }
  read_network_type_keys(t, &n);
  n.blocks = read_network_blocks(t, n.conv_dim > 0);
  n.train_unet = read_bool(t, "train_unet", n.train_unet);
  n.train_text_encoder = read_bool(t, "train_text_encoder", n.train_text_encoder);
  if (!n.train_unet && !n.train_text_encoder)
    t.fail(t.has("train_unet") ? "train_unet" : "train_text_encoder",
           "train_unet and train_text_encoder are both false: nothing would be trained");
  return n;
}

// Which optimizer keys each type reads; the others are refused so nobody tunes a knob that
// does nothing.
bool optimizer_key_applies(OptimizerType type, std::string_view key) {
  static const std::set<std::string_view> common = {
      "type", "lr", "unet_lr", "text_encoder_lr", "weight_decay", "max_grad_norm",
      "embedding_lr", "embedding_stop_step"};
  if (common.count(key)) return true;
  switch (type) {
    case OptimizerType::AdamW:
      return key == "beta1" || key == "beta2" || key == "eps";
    case OptimizerType::Lion:
      return key == "beta1" || key == "beta2";
    case OptimizerType::SGD:
      return key == "momentum" || key == "dampening" || key == "nesterov";
    case OptimizerType::Prodigy:
      return key == "beta1" || key == "beta2" || key == "beta3" || key == "eps" || key == "d0" ||
             key == "d_coef" || key == "growth_rate" || key == "decouple" ||
             key == "use_bias_correction" || key == "safeguard_warmup";
  }
  return false;
}

OptimizerSettings read_optimizer(const ProfileTable& t) {
  t.check_known_keys(profile_section_keys("optimizer"));
  OptimizerSettings o;
  OptimizerType type = read_choice<OptimizerType>(
      t, "type",
      {{"adamw", OptimizerType::AdamW}, {"prodigy", OptimizerType::Prodigy},
       {"lion", OptimizerType::Lion}, {"sgd", OptimizerType::SGD}},
      OptimizerType::AdamW);
  for (const std::string& key : t.keys()) {
    if (!optimizer_key_applies(type, key))
      t.fail(key, fmt::format("does not apply to optimizer.type = \"{}\"; remove it",
                              to_string(type)));
  }
  OptimizerConfig& c = o.config;
  c = OptimizerConfig::defaults_for(type);
  if (type == OptimizerType::Prodigy) o.lr = 1.0;  // Prodigy's lr multiplies its own estimate
  o.lr = read_positive(t, "lr", o.lr);
  if (t.has("unet_lr")) o.unet_lr = read_positive(t, "unet_lr", o.lr);
  if (t.has("text_encoder_lr")) o.text_encoder_lr = read_positive(t, "text_encoder_lr", o.lr);
  if (t.has("embedding_lr")) o.embedding_lr = read_positive(t, "embedding_lr", kDefaultEmbeddingLr);
  o.embedding_stop_step = read_int(t, "embedding_stop_step", o.embedding_stop_step, 0, INT64_MAX);
  o.max_grad_norm = read_float(t, "max_grad_norm", o.max_grad_norm, 0, INFINITY);
  c.weight_decay = read_float(t, "weight_decay", c.weight_decay, 0, INFINITY);
  c.beta1 = read_float(t, "beta1", c.beta1, 0, 1, true);
  c.beta2 = read_float(t, "beta2", c.beta2, 0, 1, true);
  if (t.has("beta3")) c.beta3 = read_float(t, "beta3", 0, 0, 1, true);
  c.eps = read_positive(t, "eps", c.eps);
  c.momentum = read_float(t, "momentum", c.momentum, 0, 1, true);
  c.dampening = read_float(t, "dampening", c.dampening, 0, 1, true);
  c.nesterov = read_bool(t, "nesterov", c.nesterov);
  if (c.nesterov && !(c.momentum > 0 && c.dampening == 0))
    t.fail("nesterov", "needs optimizer.momentum > 0 and optimizer.dampening = 0");
  c.d0 = read_positive(t, "d0", c.d0);
  c.d_coef = read_positive(t, "d_coef", c.d_coef);
  if (auto g = t.get_float("growth_rate")) {
    if (!(*g >= 1.0)) t.fail("growth_rate", fmt::format("must be >= 1 (inf: no limit), got {}", *g));
    c.growth_rate = *g;
  }
  c.decouple = read_bool(t, "decouple", c.decouple);
  c.use_bias_correction = read_bool(t, "use_bias_correction", c.use_bias_correction);
  c.safeguard_warmup = read_bool(t, "safeguard_warmup", c.safeguard_warmup);
  check_optimizer_config(c);  // backstop; every rule above already named its line
  return o;
}

LrScheduleConfig read_schedule(const ProfileTable& t) {
  t.check_known_keys(profile_section_keys("schedule"));
  LrScheduleConfig s;
  s.type = read_choice<LrScheduleType>(
      t, "type",
      {{"constant", LrScheduleType::Constant},
       {"constant_with_warmup", LrScheduleType::ConstantWithWarmup},
       {"linear", LrScheduleType::Linear},
       {"cosine", LrScheduleType::Cosine},
       {"cosine_with_restarts", LrScheduleType::CosineWithRestarts},
       {"polynomial", LrScheduleType::Polynomial}},
      s.type);
  if (t.has("warmup_steps") && t.has("warmup_ratio"))
    t.fail("warmup_ratio", "set warmup_steps or warmup_ratio, not both");
  s.warmup_steps = read_int(t, "warmup_steps", s.warmup_steps, 0, INT64_MAX);
  s.warmup_ratio = read_float(t, "warmup_ratio", s.warmup_ratio, 0, 1, true);
  if (t.has("num_cycles")) s.num_cycles = read_positive(t, "num_cycles", 1.0);
  s.power = read_positive(t, "power", s.power);
  s.end_lr = read_float(t, "end_lr", s.end_lr, 0, INFINITY);
  if (s.type == LrScheduleType::Constant && (s.warmup_steps > 0 || s.warmup_ratio > 0))
    t.fail(t.has("warmup_steps") ? "warmup_steps" : "warmup_ratio",
           "type \"constant\" has no warmup; use type = \"constant_with_warmup\"");
  return s;
}

void read_noise(const ProfileTable& t, TrainConfig& c) {
  t.check_known_keys(profile_section_keys("noise"));
  NoiseConfig& n = c.noise;
  n.offset = read_float(t, "offset", n.offset, 0, 1);
  n.multires_iterations = read_int(t, "multires_iterations", n.multires_iterations, 0, 64);
  n.multires_discount = read_float(t, "multires_discount", n.multires_discount, 0, 1);
  if (t.has("multires_discount") && n.multires_discount == 0)
    t.fail("multires_discount", "must be in (0, 1], got 0");
  n.ip_noise_gamma = read_float(t, "ip_noise_gamma", n.ip_noise_gamma, 0, 1);
  LossConfig& l = c.loss;
  l.min_snr_gamma = read_float(t, "min_snr_gamma", l.min_snr_gamma, 0, INFINITY);
  l.type = read_choice<LossType>(
      t, "loss",
      {{"mse", LossType::MSE}, {"huber", LossType::Huber}, {"smooth_l1", LossType::SmoothL1}},
      l.type);
  l.huber_c = read_float(t, "huber_c", l.huber_c, 0, 1);
  if (t.has("huber_c") && l.huber_c == 0) t.fail("huber_c", "must be in (0, 1], got 0");
  l.huber_schedule = read_choice<HuberSchedule>(
      t, "huber_schedule",
      {{"snr", HuberSchedule::SNR}, {"exponential", HuberSchedule::Exponential},
       {"constant", HuberSchedule::Constant}},
      l.huber_schedule);
  l.huber_scale = read_positive(t, "huber_scale", l.huber_scale);
  c.noise_schedule.zero_terminal_snr =
      read_bool(t, "zero_terminal_snr", c.noise_schedule.zero_terminal_snr);
  const int64_t T = c.noise_schedule.num_timesteps;
  c.timesteps.min = read_int(t, "min_timestep", c.timesteps.min, 0, T - 1);
  c.timesteps.max = read_int(t, "max_timestep", c.timesteps.max, 1, T);
  if (c.timesteps.min > c.timesteps.max)
    t.fail(t.has("min_timestep") ? "min_timestep" : "max_timestep",
           fmt::format("min_timestep {} is above max_timestep {}", c.timesteps.min,
                       c.timesteps.max));
  check_noise_config(n);
  check_loss_config(l);
}

bool valid_device(const std::string& d) {
  if (d == "auto" || d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
  return std::all_of(d.begin() + 5, d.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

TrainingConfig read_training(const ProfileTable& t, const std::vector<int64_t>& resolution) {
  t.check_known_keys(profile_section_keys("training"));
  TrainingConfig tr;
  tr.epochs = read_int(t, "epochs", tr.epochs, 1, 1000000);
  tr.max_steps = read_int(t, "max_steps", tr.max_steps, 0, INT64_MAX);
  tr.batch_size = read_int(t, "batch_size", tr.batch_size, 1, 4096);
  if (!resolution.empty()) {
    for (int64_t side : resolution) {
      if (side < 64 || side > 8192 || side % 8 != 0)
        t.fail("resolution",
               fmt::format("each side must be a multiple of 8 from 64 to 8192, got {}", side));
    }
    tr.width = static_cast<int>(resolution[0]);
    tr.height = static_cast<int>(resolution.back());
  }
  tr.seed = static_cast<uint64_t>(read_int(t, "seed", 42, 0, INT64_MAX));
  tr.gradient_accumulation_steps =
      read_int(t, "gradient_accumulation_steps", tr.gradient_accumulation_steps, 1, 4096);
  tr.gradient_checkpointing = read_bool(t, "gradient_checkpointing", tr.gradient_checkpointing);
  tr.mixed_precision = read_choice<MixedPrecision>(
      t, "mixed_precision",
      {{"no", MixedPrecision::No}, {"fp16", MixedPrecision::FP16}, {"bf16", MixedPrecision::BF16},
       {"auto", MixedPrecision::Auto}},
      tr.mixed_precision);
  if (auto d = t.get_string("device")) {
    if (!valid_device(*d))
      t.fail("device", fmt::format("\"{}\" is not \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"", *d));
    tr.device = *d;
  }
  tr.allow_tf32 = read_bool(t, "allow_tf32", tr.allow_tf32);
  tr.deterministic = read_bool(t, "deterministic", tr.deterministic);
  return tr;
}

// resolution = 512 or [width, height]; read apart because it has two shapes.
std::vector<int64_t> read_resolution(const ProfileTable& t) {
  if (!t.has("resolution")) return {};
  std::optional<int64_t> square;
  try {
    square = t.get_int("resolution");
  } catch (const Error&) {
  }
  if (square) return {*square};
  // An array of two integers; anything else gets one message showing both forms.
  try {
    auto arr = t.get_int_array("resolution");
    if (arr && arr->size() == 2) return *arr;
  } catch (const Error&) {
  }
  t.fail("resolution", "expected 512 (square) or [width, height] such as [768, 512]");
}

ValidationConfig read_validation(const ProfileTable& t) {
  t.check_known_keys(profile_section_keys("validation"));
  ValidationConfig v;
  if (t.has("split") && t.has("concept"))
    t.fail("concept", "set validation.split or validation.concept, not both");
  v.split = read_float(t, "split", v.split, 0, 0.9);
  v.concept = read_path(t, "concept");
  v.every_n_steps = read_int(t, "every_n_steps", v.every_n_steps, 0, INT64_MAX);
  if (auto ts = t.get_int_array("timesteps")) {
    if (ts->empty()) t.fail("timesteps", "is empty; give timesteps such as [100, 500, 900]");
    for (int64_t step : *ts) {
      if (step < 0 || step >= 1000)
        t.fail("timesteps", fmt::format("{} is outside 0 to 999", step));
    }
    v.timesteps = *ts;
  }
  v.seed = static_cast<uint64_t>(read_int(t, "seed", 0, 0, INT64_MAX));
  return v;
}

bool valid_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

SavingConfig read_saving(const ProfileTable* t, const Profile& profile) {
  SavingConfig s;
  s.name = profile.path().stem().string();
  if (!valid_file_name(s.name)) s.name = "lora";
  if (!t) return s;
  t->check_known_keys(profile_section_keys("saving"));
  s.every_n_epochs = read_int(*t, "every_n_epochs", s.every_n_epochs, 0, INT64_MAX);
  s.every_n_steps = read_int(*t, "every_n_steps", s.every_n_steps, 0, INT64_MAX);
  s.keep_last = read_int(*t, "keep_last", s.keep_last, 0, INT64_MAX);
  s.precision = read_choice(*t, "precision", kDTypes, s.precision);
  if (auto name = t->get_string("name")) {
    if (!valid_file_name(*name))
      t->fail("name", fmt::format("\"{}\" is not a file name (no slashes, not empty)", *name));
    s.name = *name;
  }
  s.log_every_n_steps = read_int(*t, "log_every_n_steps", s.log_every_n_steps, 1, INT64_MAX);
  s.embedding_file = read_bool(*t, "embedding_file", s.embedding_file);
  return s;
}

OutputConfig read_output(const ProfileTable* t) {
  OutputConfig o;
  if (t) {
    t->check_known_keys(profile_section_keys("output"));
    if (auto dir = t->get_string("dir")) {
      if (dir->empty()) t->fail("dir", "is empty; give a folder (default \"runs\")");
      o.dir = *dir;
    }
  }
  o.dir = fs::absolute(o.dir).lexically_normal();
  return o;
}

std::string lower_ascii(std::string text) {
  for (char& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return text;
}

// An embedding name is one word in captions and prompts and part of the LoRA file's
// bundle_emb.<name>.* keys: text/embedding_name.h's rule, which embedding files and the audit
// share. The refusal says why for the usual mistakes.
void check_profile_embedding_name(const ProfileTable& t, const std::string& name) {
  const std::string problem = text::embedding_name_problem(name);
  if (problem.empty()) return;
  if (name.empty()) t.fail("name", "is empty; give the word captions will use, such as \"jinxdef\"");
  const auto has = [&](std::string_view chars) { return name.find_first_of(chars) != std::string::npos; };
  const char* why = has(" \t\n") ? " (a space splits words: an embedding is one word; use '_' or run them together)"
                    : has(",")    ? " (commas split tags)"
                    : has(".")    ? " (a '.' would cut A1111's split of the LoRA file's bundle_emb.<name>.* key)"
                    : has("()[]{}<>:|") ? " (that is prompt syntax)"
                                        : "";
  t.fail("name", fmt::format("\"{}\" {}{}; {}", name, problem, why, text::embedding_name_rule()));
}

// The word new vectors start from when init_word is not given: the class word of a
// [[concepts]] activation tag written "NAME CLASS" (kohya's "identifier class"), else "*"
// (A1111's fallback).
std::string default_init_word(const std::string& name, const std::vector<ConceptSpec>& concepts) {
  for (const ConceptSpec& c : concepts) {
    if (!c.activation_tag) continue;
    const std::string& tag = *c.activation_tag;
    if (tag.size() > name.size() + 1 && tag.compare(0, name.size(), name) == 0 && tag[name.size()] == ' ') {
      std::string rest = tag.substr(name.size() + 1);
      rest.erase(0, rest.find_first_not_of(' '));
      if (!rest.empty()) return rest;
    }
  }
  return "*";
}

EmbeddingSpec read_embedding(const ProfileTable& t, const std::vector<ConceptSpec>& concepts) {
  t.check_known_keys(profile_section_keys("embeddings"));
  EmbeddingSpec e;
  if (!t.has("name")) t.fail("name", "missing; give the word captions will use, such as \"jinxdef\"");
  e.name = *t.get_string("name");
  check_profile_embedding_name(t, e.name);
  if (t.has("vectors")) e.vectors = read_int(t, "vectors", 1, 1, 75);
  e.file = read_path(t, "file");
  e.train = read_bool(t, "train", e.train);
  if (!e.train && !e.file)
    t.fail("train", "is false but no file is given: a frozen embedding needs its vectors from file = \"...\"");
  if (auto init = t.get_string("init_word")) {
    if (e.file)
      t.fail("init_word", "starts new vectors, but file gives them; remove one of the two");
    if (init->find_first_not_of(" \t") == std::string::npos)
      t.fail("init_word", "is empty; give a word such as \"woman\", or remove it for \"*\"");
    e.init_word = *init;
  } else if (!e.file) {
    e.init_word = default_init_word(e.name, concepts);
  }
  return e;
}

std::vector<EmbeddingSpec> read_embeddings(const Sections& s, const std::vector<ConceptSpec>& concepts) {
  std::vector<EmbeddingSpec> out;
  for (const ProfileTable& t : s.root.get_table_array("embeddings")) {
    EmbeddingSpec e = read_embedding(t, concepts);
    for (const EmbeddingSpec& earlier : out)
      if (lower_ascii(earlier.name) == lower_ascii(e.name))
        t.fail("name", fmt::format("\"{}\" is already the name of an earlier [[embeddings]] entry (CLIP "
                                   "lowercases captions, so case does not tell them apart)",
                                   e.name));
    out.push_back(std::move(e));
  }
  return out;
}

// The CLIP vocabulary the run will tokenize with, when one can be found without the model:
// model.tokenizer, a diffusers folder's tokenizer/, or Lathe's own copy. nullopt for a tiny
// model without a tokenizer (it hashes words) or when none loads.
std::shared_ptr<const text::BpeVocab> profile_vocab(const ModelConfig& m) {
  std::optional<fs::path> where = m.tokenizer;
  std::error_code ec;
  if (!where && !m.is_tiny_random() && fs::is_directory(fs::path(m.path) / "tokenizer", ec))
    where = fs::path(m.path);
  if (!where && !m.is_tiny_random()) where = text::locate_clip_vocab(std::nullopt);
  if (!where) return nullptr;
  try {
    return text::load_bpe_vocab(*where);
  } catch (const Error&) {
    return nullptr;  // a broken tokenizer path is reported when the run loads the model
  }
}

// [[embeddings]] against the rest of the profile: what trains them, what they need.
void check_embeddings(const TrainConfig& c, const Sections& s, ProfileCheck& out) {
  auto error = [&](const std::string& section, std::string_view key, const std::string& msg) {
    out.errors.push_back(fmt::format("{}: {}", s.where(section, key), msg));
  };
  auto warn = [&](const std::string& section, std::string_view key, const std::string& msg) {
    out.warnings.push_back(fmt::format("{}: {}", s.where(section, key), msg));
  };
  const auto& opt = s.get("optimizer");
  const bool ti = c.textual_inversion(), trains = c.trains_embeddings();
  if (ti && c.embeddings.empty())
    error("network", "type",
          "\"embedding\" trains new words, but the profile has no [[embeddings]] entry; add one with "
          "name = \"yourword\" and vectors = 4");
  else if (ti && !trains)
    error("network", "type",
          "\"embedding\": every [[embeddings]] entry has train = false, so nothing would be trained");
  if (ti) {
    for (const char* key : {"unet_lr", "text_encoder_lr"})
      if (opt && opt->has(key))
        error("optimizer", key,
              "does not apply to textual inversion (no LoRA); the vectors train at optimizer.embedding_lr");
    if (opt && opt->has("embedding_stop_step"))
      error("optimizer", "embedding_stop_step",
            "stops the vectors of pivotal tuning; with network.type = \"embedding\" they are all that "
            "trains, so end the run with training.max_steps instead");
    if (opt && opt->has("lr") && !opt->has("embedding_lr"))
      warn("optimizer", "lr",
           fmt::format("is not used by textual inversion; the vectors train at optimizer.embedding_lr "
                       "(default {:g})",
                       c.optimizer.effective_embedding_lr()));
    if (const auto& sv = s.get("saving"); sv && sv->has("embedding_file"))
      error("saving", "embedding_file",
            "textual inversion always writes embedding files; the key is for pivotal tuning, remove it");
  }
  if (!trains && !ti) {
    if (opt && opt->has("embedding_lr"))
      error("optimizer", "embedding_lr", "applies when an [[embeddings]] entry trains (train = true); remove it");
    if (opt && opt->has("embedding_stop_step"))
      error("optimizer", "embedding_stop_step",
            "applies when an [[embeddings]] entry trains (pivotal tuning); remove it");
    if (c.saving.embedding_file)
      error("saving", "embedding_file", "applies when an [[embeddings]] entry trains (pivotal tuning); remove it");
  }
  if (trains && c.data.cache_text_encoder_outputs)
    error("dataset", "cache_text_encoder_outputs",
          "the [[embeddings]] vectors train, so the text encoder's outputs change every step and cannot "
          "be cached; set it false (latents may still be cached)");
  if (trains && !ti && c.optimizer.embedding_stop_step > 0 && c.training.max_steps > 0 &&
      c.optimizer.embedding_stop_step >= c.training.max_steps)
    warn("optimizer", "embedding_stop_step",
         fmt::format("{} is not before training.max_steps {}: the vectors train to the end",
                     c.optimizer.embedding_stop_step, c.training.max_steps));
  if (c.embeddings.empty()) return;
  auto vocab = profile_vocab(c.model);
  if (!vocab) return;
  std::vector<ProfileTable> tables = s.root.get_table_array("embeddings");
  for (std::size_t i = 0; i < c.embeddings.size() && i < tables.size(); ++i) {
    const std::string word = lower_ascii(c.embeddings[i].name);
    if (vocab->ids.count(word + "</w>"))
      out.errors.push_back(fmt::format(
          "{}: key {}: \"{}\" is a word CLIP already knows (one token of its vocabulary): every caption "
          "and prompt using it would mean the embedding instead; pick a made-up word such as \"{}xq\"",
          tables[i].location("name"), tables[i].key_path("name"), c.embeddings[i].name, word));
  }
}

// Combinations each section accepts alone but that do not make sense together.
void cross_check(const TrainConfig& c, const Sections& s, ProfileCheck& out) {
  auto error = [&](const std::string& section, std::string_view key, const std::string& msg) {
    out.errors.push_back(fmt::format("{}: {}", s.where(section, key), msg));
  };
  auto warn = [&](const std::string& section, std::string_view key, const std::string& msg) {
    out.warnings.push_back(fmt::format("{}: {}", s.where(section, key), msg));
  };
  const DataConfig& d = c.data;
  if (d.cache_text_encoder_outputs) {
    if (c.network.train_text_encoder)
      error("network", "train_text_encoder",
            "text-encoder outputs are cached (cache_text_encoder_outputs = true), so the text "
            "encoder cannot train; set network.train_text_encoder = false or stop caching");
    if (d.shuffle_caption || d.caption_dropout_rate > 0 || d.caption_tag_dropout_rate > 0)
      error("dataset", "cache_text_encoder_outputs",
            "captions change every step (shuffle_caption or caption dropout), so their "
            "text-encoder outputs cannot be cached; turn one of them off");
  }
  if (d.cache_latents != LatentCache::Off && d.crop == CropMode::Random)
    error("dataset", "crop",
          "crop = \"random\" changes the image every epoch, so its latents cannot be cached; "
          "use crop = \"center\" or cache_latents = \"off\"");
  if (d.keep_tokens > 0 && !d.shuffle_caption && d.caption_tag_dropout_rate == 0)
    warn("dataset", "keep_tokens",
         "has no effect without shuffle_caption = true or caption_tag_dropout_rate > 0");
  BucketSettings b;
  b.width = c.training.width;
  b.height = c.training.height;
  b.min_bucket_reso = d.min_bucket_reso;
  b.max_bucket_reso = d.max_bucket_reso;
  b.bucket_reso_steps = d.bucket_reso_steps;
  b.no_upscale = d.bucket_no_upscale;
  if (d.bucketing && !d.bucket_no_upscale &&
      d.min_bucket_reso > std::min(c.training.width, c.training.height))
    warn("dataset", "min_bucket_reso",
         fmt::format("{} is above the resolution's shorter side ({}x{}); buckets will be "
                     "lopsided, lower it",
                     d.min_bucket_reso, c.training.width, c.training.height));
  if (d.bucketing) {
    try {
      validate_bucket_settings(b);
    } catch (const Error& e) {
      error("dataset", "max_bucket_reso", e.what());
    }
  }

  std::optional<ModelFamily> family = c.model.family ? c.model.family : c.model.tiny_random_family();
  if (family && c.network.blocks.any()) {
    try {
      network_block_plan(c.network, *family);
    } catch (const Error& e) {
      // "network.block_dims: has 3 values; ..." -> located at that key.
      const std::string msg = e.what();
      const auto colon = msg.find(": ");
      error("network", msg.substr(8, colon - 8), msg.substr(colon + 2));
    }
  }
  std::optional<Prediction> pred = c.model.prediction;
  int side = std::max(c.training.width, c.training.height);
  if (family == ModelFamily::SD2 && side >= 768 && pred == Prediction::Epsilon)
    warn("model", "prediction",
         "SD 2.x 768 models predict v; use \"v_prediction\" unless this is the 512 base model");
  if (family == ModelFamily::SD2 && side >= 768 && !pred)
    warn("model", "prediction",
         "not set; an SD 2.x 768 checkpoint needs \"v_prediction\" (Lathe assumes it for "
         "SD 2.x when the checkpoint does not say)");
  if ((family == ModelFamily::SD1 || family == ModelFamily::SDXL) &&
      pred == Prediction::VPrediction)
    warn("model", "prediction",
         fmt::format("{} base models predict epsilon; v_prediction is right only for a "
                     "v-prediction fine-tune",
                     family_name(*family)));
  // Unset prediction: SD 2.x defaults to v, others to epsilon, an undetected family is unknown.
  bool epsilon = pred ? *pred == Prediction::Epsilon
                      : family.has_value() && *family != ModelFamily::SD2;
  if (c.noise_schedule.zero_terminal_snr && epsilon)
    warn("noise", "zero_terminal_snr",
         "is meant for v-prediction; with epsilon the last timestep carries no signal");
  if (c.training.max_steps > 0) {
    try {
      check_total_steps(c, c.training.max_steps);
    } catch (const Error& e) {
      error("schedule", c.schedule.warmup_ratio > 0 ? "warmup_ratio" : "warmup_steps",
            e.what());
    }
  }
  if (c.validation.every_n_steps > 0 && !c.validation.enabled())
    warn("validation", "every_n_steps",
         "no validation data: set validation.split or validation.concept");
  if (c.saving.every_n_epochs == 0 && c.saving.every_n_steps == 0)
    warn("saving", "every_n_epochs", "and every_n_steps are 0: only the final LoRA is saved");
  bool cpu = c.training.device == "cpu";
  if (cpu && c.training.mixed_precision == MixedPrecision::FP16)
    warn("training", "mixed_precision", "fp16 is slow on a CPU (no fp16 arithmetic); use "
                                        "\"bf16\" or \"no\"");
  if (cpu && c.model.dtype == WeightDType::FP16)
    warn("model", "dtype", "fp16 is slow on a CPU (no fp16 arithmetic); use \"auto\" or \"bf16\"");
  if (c.optimizer.config.type == OptimizerType::Prodigy && c.optimizer.lr < 0.1)
    warn("optimizer", "lr",
         fmt::format("Prodigy estimates the step size itself; lr multiplies it and is "
                     "normally 1.0, got {}",
                     c.optimizer.lr));
  check_embeddings(c, s, out);
}

// Runs one section reader, turning its first error into an entry of `out.errors`.
template <class F>
void guarded(ProfileCheck& out, F&& read) {
  try {
    read();
  } catch (const Error& e) {
    out.errors.push_back(e.what());
  }
}

// File or --set for every key present; an override's value carries the source name
// "--set ...", which is how it is told apart.
void record_sources(const Sections& s, ProfileCheck& out) {
  auto source_of = [](const ProfileTable& t, const std::string& key) {
    return t.location(key).rfind("--set ", 0) == 0 ? KeySource::Override : KeySource::File;
  };
  for (const auto& [name, t] : s.tables) {
    if (!t) continue;
    for (const std::string& key : t->keys()) {
      std::string canonical = name == "training" && is_data_option_key(key) ? "dataset" : name;
      out.sources[fmt::format("{}.{}", canonical, key)] = source_of(*t, key);
    }
  }
  for (const char* list : {"concepts", "embeddings"}) {
    std::vector<ProfileTable> entries;
    try {
      entries = s.root.get_table_array(list);
    } catch (const Error&) {
    }
    for (const ProfileTable& c : entries) {
      for (const std::string& key : c.keys())
        out.sources[fmt::format("{}.{}", c.name(), key)] = source_of(c, key);
    }
  }
}

}  // namespace

ProfileCheck check_train_profile(Profile profile, const std::vector<std::string>& overrides) {
  ProfileCheck out;
  for (const std::string& o : overrides) {
    try {
      apply_override(profile, o);
    } catch (const Error& e) {
      out.errors.push_back(e.what());
    }
  }
  if (!out.errors.empty()) return out;

  Sections s(profile);
  // Each unknown section is one error; the known sections are still read, so a typo in a
  // section name does not hide the other mistakes of the profile.
  for (const std::string& key : s.root.keys()) {
    const auto& known = profile_sections();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    guarded(out, [&] {
      std::string guess = closest_key(key, known);
      s.root.fail(key, guess.empty()
                           ? std::string("unknown section; remove it or check the spelling")
                           : fmt::format("unknown section; did you mean [{}]?", guess));
    });
  }
  // A known section that is not a table ("model = 3") leaves nothing to read its keys from.
  bool unreadable = false;
  for (std::string_view name : profile_sections()) {
    if (name == "concepts" || name == "embeddings") continue;
    guarded(out, [&] {
      try {
        s.tables[std::string(name)] = s.root.get_table(name);
      } catch (const Error&) {
        unreadable = true;
        throw;
      }
    });
  }
  if (unreadable) return out;

  TrainConfig c;
  c.profile_path = profile.path();
  auto table = [&](const char* name) -> const std::optional<ProfileTable>& { return s.get(name); };
  guarded(out, [&] {
    if (!table("model"))
      throw Error(fmt::format("{}: key model.path: missing; add [model] path = \"checkpoint\" "
                              "(or \"tiny-random:sd15\" for a test model)",
                              profile.path().string()));
    c.model = read_model(*table("model"));
  });
  guarded(out, [&] { c.dataset = read_dataset(profile, s); });
  guarded(out, [&] { c.data = read_data_options(table("dataset"), table("training")); });
  guarded(out, [&] { if (table("network")) c.network = read_network(*table("network")); });
  guarded(out, [&] {
    if (table("optimizer")) c.optimizer = read_optimizer(*table("optimizer"));
  });
  guarded(out, [&] { if (table("schedule")) c.schedule = read_schedule(*table("schedule")); });
  guarded(out, [&] { if (table("noise")) read_noise(*table("noise"), c); });
  guarded(out, [&] {
    if (table("training")) c.training = read_training(*table("training"), read_resolution(*table("training")));
  });
  guarded(out, [&] {
    if (table("validation")) c.validation = read_validation(*table("validation"));
  });
  guarded(out, [&] { c.saving = read_saving(table("saving") ? &*table("saving") : nullptr, profile); });
  guarded(out, [&] { c.output = read_output(table("output") ? &*table("output") : nullptr); });
  guarded(out, [&] { if (table("sample")) c.sample = read_sample(*table("sample")); });
  guarded(out, [&] { c.embeddings = read_embeddings(s, c.dataset.concepts); });
  record_sources(s, out);
  if (!out.errors.empty()) return out;

  cross_check(c, s, out);
  if (out.errors.empty()) out.config = std::move(c);
  return out;
}

}  // namespace lathe
