// TrainConfig parsing: defaults, every section, errors that name file:line and key,
// did-you-mean for unknown sections and keys, cross-checks, --set overrides and their errors,
// the rendered profile's round trip, and the presets in profiles/.
#include "train/config/train_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "io/profile.h"
#include "lora/lora_network.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const char* kMinimal = R"(
[model]
path = "tiny-random:sd15"

[dataset]
path = "data"
)";

// Every key set to something other than its default.
const char* kFull = R"(
[model]
path = "models/base.safetensors"
tokenizer = "vocab/bpe_simple_vocab_16e6.txt.gz"
family = "sd2"
prediction = "v_prediction"
clip_skip = 2
dtype = "bf16"
vae = "models/vae.safetensors"

[dataset]
path = "data"
caption_extension = ".caption"
recursive = true
shuffle_caption = true
keep_tokens = 2
caption_dropout_rate = 0.05
caption_tag_dropout_rate = 0.1
flip = true
crop = "center"
bucketing = true
min_bucket_reso = 320
max_bucket_reso = 1536
bucket_reso_steps = 32
bucket_no_upscale = true
remainder_policy = "pad"
cache_latents = "disk"
cache_text_encoder_outputs = false

[[concepts]]
path = "10_cat"
repeats = 3
activation_tag = "lathecat"
is_regularization = false
loss_weight = 1.0

[[concepts]]
path = "reg"
is_regularization = true
loss_weight = 0.5

[network]
type = "locon"
rank = 16
alpha = 8
dropout = 0.1
rank_dropout = 0.2
module_dropout = 0.05
conv_dim = 8
conv_alpha = 4
train_unet = true
train_text_encoder = true

[optimizer]
type = "adamw"
lr = 2e-4
unet_lr = 3e-4
text_encoder_lr = 5e-5
weight_decay = 0.05
max_grad_norm = 0.5
beta1 = 0.85
beta2 = 0.995
eps = 1e-7

[schedule]
type = "cosine_with_restarts"
warmup_steps = 20
num_cycles = 3
power = 2.0
end_lr = 1e-6

[noise]
offset = 0.0357
multires_iterations = 6
multires_discount = 0.25
ip_noise_gamma = 0.1
min_snr_gamma = 5
zero_terminal_snr = true
min_timestep = 10
max_timestep = 990
loss = "huber"
huber_c = 0.2
huber_schedule = "exponential"
huber_scale = 1.5

[training]
epochs = 7
max_steps = 500
batch_size = 4
resolution = [768, 512]
seed = 1234
gradient_accumulation_steps = 2
gradient_checkpointing = true
mixed_precision = "bf16"
device = "cuda:1"

[validation]
split = 0.15
every_n_steps = 50
timesteps = [200, 600]
seed = 9

[saving]
every_n_epochs = 2
every_n_steps = 100
keep_last = 3
precision = "bf16"
name = "mylora"
log_every_n_steps = 5

[output]
dir = "/tmp/lathe-runs"
)";

ProfileCheck check(const std::string& text, const fs::path& path,
                   const std::vector<std::string>& sets = {}) {
  return check_train_profile(parse_profile(text, path), sets);
}

std::string all_errors(const ProfileCheck& c) {
  std::string s;
  for (const auto& e : c.errors) s += e + "\n";
  return s;
}

std::string all_warnings(const ProfileCheck& c) {
  std::string s;
  for (const auto& w : c.warnings) s += w + "\n";
  return s;
}

// The text with `line` appended under `section` (added if absent).
std::string with(const std::string& base, const std::string& section, const std::string& line) {
  std::string header = "[" + section + "]\n";
  std::size_t at = base.find(header);
  if (at == std::string::npos) return base + "\n" + header + line + "\n";
  at += header.size();
  return base.substr(0, at) + line + "\n" + base.substr(at);
}

TEST(TrainConfig, DefaultsFillWhatTheProfileLeavesOut) {
  TempDir dir;
  ProfileCheck c = check(kMinimal, dir / "p.toml");
  ASSERT_TRUE(c.ok()) << all_errors(c);
  const TrainConfig& t = *c.config;
  EXPECT_EQ(t.model.path, "tiny-random:sd15");
  EXPECT_TRUE(t.model.is_tiny_random());
  EXPECT_EQ(t.model.tiny_random_family(), ModelFamily::SD1);
  EXPECT_FALSE(t.model.family.has_value());
  EXPECT_FALSE(t.model.prediction.has_value());
  EXPECT_EQ(t.model.clip_skip, 1);
  EXPECT_FALSE(t.model.dtype.has_value());  // "auto": the device decides when the run starts
  EXPECT_EQ(t.training.mixed_precision, MixedPrecision::No);
  EXPECT_EQ(t.dataset.root, fs::absolute(dir / "data").lexically_normal());
  EXPECT_EQ(t.data.cache_latents, LatentCache::Memory);
  EXPECT_EQ(t.data.remainder_policy, RemainderPolicy::Partial);
  EXPECT_TRUE(t.data.bucketing);
  EXPECT_EQ(t.network.type, NetworkType::LoRA);
  EXPECT_EQ(t.network.rank, 4);
  EXPECT_DOUBLE_EQ(t.network.alpha, 1.0);
  EXPECT_EQ(t.network.conv_dim, 0);
  EXPECT_EQ(t.optimizer.config.type, OptimizerType::AdamW);
  EXPECT_DOUBLE_EQ(t.optimizer.lr, 1e-4);
  EXPECT_DOUBLE_EQ(t.optimizer.effective_text_encoder_lr(), 1e-4);
  EXPECT_DOUBLE_EQ(t.optimizer.config.weight_decay, 0.01);
  EXPECT_EQ(t.schedule.type, LrScheduleType::Constant);
  EXPECT_EQ(t.loss.type, LossType::MSE);
  EXPECT_EQ(t.timesteps.min, 0);
  EXPECT_EQ(t.timesteps.max, 1000);
  EXPECT_EQ(t.training.epochs, 10);
  EXPECT_EQ(t.training.batch_size, 1);
  EXPECT_EQ(t.training.width, 512);
  EXPECT_EQ(t.training.height, 512);
  EXPECT_EQ(t.training.seed, 42u);
  EXPECT_EQ(t.training.device, "auto");
  EXPECT_FALSE(t.validation.enabled());
  EXPECT_EQ(t.validation.timesteps, (std::vector<int64_t>{100, 300, 500, 700, 900}));
  EXPECT_EQ(t.saving.name, "p");  // the profile's stem
  EXPECT_EQ(t.saving.precision, WeightDType::FP16);
  EXPECT_EQ(t.output.dir, fs::absolute("runs").lexically_normal());
  EXPECT_EQ(c.sources.at("model.path"), KeySource::File);
  EXPECT_EQ(c.sources.count("network.rank"), 0u);  // default
}

// Every value kFull sets (each differs from its default), so a key the parser or the renderer
// dropped shows up here.
void expect_full_values(const TrainConfig& t, const fs::path& dir) {
  EXPECT_EQ(t.model.path, (dir / "models/base.safetensors").string());
  EXPECT_EQ(*t.model.tokenizer, dir / "vocab/bpe_simple_vocab_16e6.txt.gz");
  EXPECT_EQ(t.model.family, ModelFamily::SD2);
  EXPECT_EQ(t.model.prediction, Prediction::VPrediction);
  EXPECT_EQ(t.model.clip_skip, 2);
  EXPECT_EQ(t.model.dtype, WeightDType::BF16);
  EXPECT_EQ(*t.model.vae, dir / "models/vae.safetensors");

  EXPECT_EQ(t.dataset.options.caption_extension, ".caption");
  EXPECT_TRUE(t.dataset.options.recursive);
  ASSERT_EQ(t.dataset.concepts.size(), 2u);
  EXPECT_EQ(t.dataset.concepts[0].path, dir / "data/10_cat");
  EXPECT_EQ(t.dataset.concepts[0].repeats, 3);
  EXPECT_EQ(t.dataset.concepts[0].activation_tag, "lathecat");
  EXPECT_TRUE(t.dataset.concepts[1].is_regularization);
  EXPECT_DOUBLE_EQ(t.dataset.concepts[1].loss_weight, 0.5);
  EXPECT_TRUE(t.data.shuffle_caption);
  EXPECT_EQ(t.data.keep_tokens, 2);
  EXPECT_DOUBLE_EQ(t.data.caption_dropout_rate, 0.05);
  EXPECT_DOUBLE_EQ(t.data.caption_tag_dropout_rate, 0.1);
  EXPECT_TRUE(t.data.flip);
  EXPECT_EQ(t.data.min_bucket_reso, 320);
  EXPECT_EQ(t.data.max_bucket_reso, 1536);
  EXPECT_EQ(t.data.bucket_reso_steps, 32);
  EXPECT_TRUE(t.data.bucket_no_upscale);
  EXPECT_EQ(t.data.remainder_policy, RemainderPolicy::Pad);
  EXPECT_EQ(t.data.cache_latents, LatentCache::Disk);

  EXPECT_EQ(t.network.type, NetworkType::LoCon);
  EXPECT_EQ(t.network.rank, 16);
  EXPECT_DOUBLE_EQ(t.network.alpha, 8);
  EXPECT_DOUBLE_EQ(t.network.dropout, 0.1);
  EXPECT_DOUBLE_EQ(t.network.rank_dropout, 0.2);
  EXPECT_DOUBLE_EQ(t.network.module_dropout, 0.05);
  EXPECT_EQ(t.network.conv_dim, 8);
  EXPECT_DOUBLE_EQ(t.network.conv_alpha, 4);

  EXPECT_DOUBLE_EQ(t.optimizer.lr, 2e-4);
  EXPECT_DOUBLE_EQ(t.optimizer.effective_unet_lr(), 3e-4);
  EXPECT_DOUBLE_EQ(t.optimizer.effective_text_encoder_lr(), 5e-5);
  EXPECT_DOUBLE_EQ(t.optimizer.config.weight_decay, 0.05);
  EXPECT_DOUBLE_EQ(t.optimizer.max_grad_norm, 0.5);
  EXPECT_DOUBLE_EQ(t.optimizer.config.beta1, 0.85);
  EXPECT_DOUBLE_EQ(t.optimizer.config.beta2, 0.995);
  EXPECT_DOUBLE_EQ(t.optimizer.config.eps, 1e-7);

  EXPECT_EQ(t.schedule.type, LrScheduleType::CosineWithRestarts);
  EXPECT_EQ(t.schedule.warmup_steps, 20);
  EXPECT_EQ(t.schedule.num_cycles, 3.0);
  EXPECT_DOUBLE_EQ(t.schedule.power, 2.0);
  EXPECT_DOUBLE_EQ(t.schedule.end_lr, 1e-6);

  EXPECT_DOUBLE_EQ(t.noise.offset, 0.0357);
  EXPECT_EQ(t.noise.multires_iterations, 6);
  EXPECT_DOUBLE_EQ(t.noise.multires_discount, 0.25);
  EXPECT_DOUBLE_EQ(t.noise.ip_noise_gamma, 0.1);
  EXPECT_DOUBLE_EQ(t.loss.min_snr_gamma, 5);
  EXPECT_TRUE(t.noise_schedule.zero_terminal_snr);
  EXPECT_EQ(t.timesteps.min, 10);
  EXPECT_EQ(t.timesteps.max, 990);
  EXPECT_EQ(t.loss.type, LossType::Huber);
  EXPECT_DOUBLE_EQ(t.loss.huber_c, 0.2);
  EXPECT_EQ(t.loss.huber_schedule, HuberSchedule::Exponential);
  EXPECT_DOUBLE_EQ(t.loss.huber_scale, 1.5);

  EXPECT_EQ(t.training.epochs, 7);
  EXPECT_EQ(t.training.max_steps, 500);
  EXPECT_EQ(t.training.batch_size, 4);
  EXPECT_EQ(t.training.width, 768);
  EXPECT_EQ(t.training.height, 512);
  EXPECT_EQ(t.training.seed, 1234u);
  EXPECT_EQ(t.training.gradient_accumulation_steps, 2);
  EXPECT_TRUE(t.training.gradient_checkpointing);
  EXPECT_EQ(t.training.mixed_precision, MixedPrecision::BF16);
  EXPECT_EQ(t.training.device, "cuda:1");

  EXPECT_DOUBLE_EQ(t.validation.split, 0.15);
  EXPECT_EQ(t.validation.every_n_steps, 50);
  EXPECT_EQ(t.validation.timesteps, (std::vector<int64_t>{200, 600}));
  EXPECT_EQ(t.validation.seed, 9u);

  EXPECT_EQ(t.saving.every_n_epochs, 2);
  EXPECT_EQ(t.saving.every_n_steps, 100);
  EXPECT_EQ(t.saving.keep_last, 3);
  EXPECT_EQ(t.saving.precision, WeightDType::BF16);
  EXPECT_EQ(t.saving.name, "mylora");
  EXPECT_EQ(t.saving.log_every_n_steps, 5);
  EXPECT_EQ(t.output.dir, "/tmp/lathe-runs");
}

TEST(TrainConfig, EverySectionIsRead) {
  TempDir dir;
  ProfileCheck c = check(kFull, dir / "p.toml");
  ASSERT_TRUE(c.ok()) << all_errors(c);
  expect_full_values(*c.config, dir.path());
}

TEST(TrainConfig, CaptionKeysAreAcceptedUnderTraining) {
  TempDir dir;
  ProfileCheck c = check(with(kMinimal, "training", "shuffle_caption = true\nkeep_tokens = 1"),
                         dir / "p.toml");
  ASSERT_TRUE(c.ok()) << all_errors(c);
  EXPECT_TRUE(c.config->data.shuffle_caption);
  EXPECT_EQ(c.config->data.keep_tokens, 1);
  EXPECT_EQ(c.sources.at("dataset.shuffle_caption"), KeySource::File);

  ProfileCheck both = check(with(with(kMinimal, "training", "flip = true"), "dataset",
                                 "flip = false"),
                            dir / "p.toml");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(all_errors(both).find("key training.flip: also set at"), std::string::npos)
      << all_errors(both);
}

TEST(TrainConfig, ErrorsNameFileLineAndKey) {
  TempDir dir;
  std::string text = std::string(kMinimal) + "\n[network]\nrank = 0\n";
  // kMinimal has 6 lines (leading newline); "[network]" is line 8, rank line 9.
  ProfileCheck c = check(text, dir / "p.toml");
  ASSERT_EQ(c.errors.size(), 1u) << all_errors(c);
  EXPECT_EQ(c.errors[0], (dir / "p.toml").string() +
                             ":9: key network.rank: must be 1 to 4096, got 0");

  ProfileCheck type = check(with(kMinimal, "training", "batch_size = \"two\""), dir / "p.toml");
  ASSERT_FALSE(type.ok());
  EXPECT_NE(all_errors(type).find("key training.batch_size: expected an integer, got a string"),
            std::string::npos)
      << all_errors(type);

  ProfileCheck choice = check(with(kMinimal, "schedule", "type = \"cosin\""), dir / "p.toml");
  EXPECT_NE(all_errors(choice).find("key schedule.type: \"cosin\" is not one of"),
            std::string::npos);
  EXPECT_NE(all_errors(choice).find("did you mean \"cosine\"?"), std::string::npos);
}

TEST(TrainConfig, RangesAreChecked) {
  TempDir dir;
  struct Case {
    const char* section;
    const char* line;
    const char* expected;
  };
  const Case cases[] = {
      {"optimizer", "lr = 0", "key optimizer.lr: must be above 0"},
      {"optimizer", "lr = -1e-4", "key optimizer.lr: must be above 0"},
      {"network", "dropout = 1.0", "key network.dropout: must be in [0, 1)"},
      {"network", "alpha = 0", "key network.alpha: must be above 0"},
      {"training", "resolution = 500", "key training.resolution: each side must be a multiple"},
      {"training", "resolution = [768]", "key training.resolution: expected 512"},
      {"training", "device = \"gpu\"", "key training.device: \"gpu\" is not"},
      {"training", "epochs = 0", "key training.epochs: must be 1 to"},
      {"noise", "min_timestep = 1000", "key noise.min_timestep: must be 0 to 999"},
      {"noise", "multires_discount = 0", "key noise.multires_discount: must be in (0, 1]"},
      {"validation", "split = 0.95", "key validation.split: must be in [0, 0.9]"},
      {"validation", "timesteps = [100, 1000]", "key validation.timesteps: 1000 is outside"},
      {"saving", "name = \"a/b\"", "key saving.name: \"a/b\" is not a file name"},
      {"model", "clip_skip = 0", "key model.clip_skip: must be 1 to 12"},
  };
  for (const Case& k : cases) {
    ProfileCheck c = check(with(kMinimal, k.section, k.line), dir / "p.toml");
    EXPECT_NE(all_errors(c).find(k.expected), std::string::npos)
        << k.line << " gave:\n" << all_errors(c);
  }
}

TEST(TrainConfig, UnknownKeysAndSectionsGetDidYouMean) {
  TempDir dir;
  ProfileCheck key = check(with(kMinimal, "network", "rnak = 8"), dir / "p.toml");
  EXPECT_NE(all_errors(key).find("key network.rnak: unknown key; did you mean rank?"),
            std::string::npos)
      << all_errors(key);

  ProfileCheck section = check(std::string(kMinimal) + "\n[netwrk]\nrank = 8\n", dir / "p.toml");
  EXPECT_NE(all_errors(section).find("key netwrk: unknown section; did you mean [network]?"),
            std::string::npos)
      << all_errors(section);

  ProfileCheck concept = check(std::string(kMinimal) + "\n[[concepts]]\npath = \"a\"\nrepeat = 2\n",
                               dir / "p.toml");
  EXPECT_NE(all_errors(concept).find("key concepts[1].repeat: unknown key; did you mean repeats?"),
            std::string::npos)
      << all_errors(concept);
}

TEST(TrainConfig, EveryBrokenSectionIsReported) {
  TempDir dir;
  std::string text = with(with(kMinimal, "network", "rank = 0"), "optimizer", "lr = 0");
  ProfileCheck c = check(text, dir / "p.toml");
  EXPECT_EQ(c.errors.size(), 2u) << all_errors(c);
  EXPECT_FALSE(c.config.has_value());
}

TEST(TrainConfig, UnknownSectionsDoNotHideOtherErrors) {
  TempDir dir;
  // Two misspelt sections and a range error in a known one: all three are reported at once.
  std::string text = with(kMinimal, "network", "rank = 0") + "\n[optimzer]\nlr = 1e-4\n[foo]\nx = 1\n";
  ProfileCheck c = check(text, dir / "p.toml");
  EXPECT_EQ(c.errors.size(), 3u) << all_errors(c);
  EXPECT_NE(all_errors(c).find("key optimzer: unknown section; did you mean [optimizer]?"), std::string::npos)
      << all_errors(c);
  EXPECT_NE(all_errors(c).find("key foo: unknown section; remove it or check the spelling"), std::string::npos)
      << all_errors(c);
  EXPECT_NE(all_errors(c).find("key network.rank: must be 1 to 4096, got 0"), std::string::npos) << all_errors(c);
  EXPECT_FALSE(c.config.has_value());
}

TEST(TrainConfig, InfinityAndNanAreAskedToBeFinite) {
  TempDir dir;
  struct Case {
    const char* section;
    const char* line;
    const char* expected;
  };
  const Case cases[] = {
      {"optimizer", "lr = inf", "key optimizer.lr: must be a finite number above 0, got inf"},
      {"optimizer", "unet_lr = +inf", "key optimizer.unet_lr: must be a finite number above 0, got inf"},
      {"network", "alpha = inf", "key network.alpha: must be a finite number above 0, got inf"},
      {"network", "alpha = nan", "key network.alpha: must be a finite number above 0, got nan"},
      {"optimizer", "max_grad_norm = inf", "key optimizer.max_grad_norm: must be a finite number, got inf"},
      {"noise", "offset = nan", "key noise.offset: must be a finite number, got nan"},
  };
  for (const Case& k : cases) {
    ProfileCheck c = check(with(kMinimal, k.section, k.line), dir / "p.toml");
    EXPECT_NE(all_errors(c).find(k.expected), std::string::npos) << k.line << " gave:\n" << all_errors(c);
  }
  // Still the plain range message for a finite value out of range.
  ProfileCheck zero = check(with(kMinimal, "optimizer", "lr = 0"), dir / "p.toml");
  EXPECT_NE(all_errors(zero).find("key optimizer.lr: must be above 0, got 0"), std::string::npos)
      << all_errors(zero);
}

TEST(TrainConfig, DtypeAndMixedPrecisionTakeAuto) {
  TempDir dir;
  TrainConfig t = parse_train_config(with(with(kMinimal, "model", "dtype = \"auto\""), "training",
                                          "mixed_precision = \"auto\""),
                                     dir / "p.toml");
  EXPECT_FALSE(t.model.dtype.has_value());
  EXPECT_EQ(t.training.mixed_precision, MixedPrecision::Auto);
  // The frozen profile keeps "auto", so a resumed run decides on the machine it runs on.
  std::string rendered = render_profile_toml(t);
  EXPECT_NE(rendered.find("dtype = \"auto\"\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("mixed_precision = \"auto\"\n"), std::string::npos) << rendered;
  TrainConfig again = parse_train_config(rendered, dir / "runs/r/profile.toml");
  EXPECT_FALSE(again.model.dtype.has_value());
  EXPECT_EQ(again.training.mixed_precision, MixedPrecision::Auto);
  EXPECT_EQ(parse_train_config(with(kMinimal, "model", "dtype = \"fp16\""), dir / "p.toml").model.dtype,
            WeightDType::FP16);
  // Saved LoRA files need a real dtype: "auto" is not one for saving.precision.
  ProfileCheck saving = check(with(kMinimal, "saving", "precision = \"auto\""), dir / "p.toml");
  EXPECT_NE(all_errors(saving).find("key saving.precision: \"auto\" is not one of \"fp32\", \"fp16\", \"bf16\""),
            std::string::npos)
      << all_errors(saving);
  ProfileCheck bad = check(with(kMinimal, "model", "dtype = \"fp8\""), dir / "p.toml");
  EXPECT_NE(all_errors(bad).find("\"fp8\" is not one of \"auto\", \"fp32\", \"fp16\", \"bf16\""),
            std::string::npos)
      << all_errors(bad);
}

TEST(TrainConfig, CrossChecks) {
  TempDir dir;
  auto errors_of = [&](const std::string& text) { return all_errors(check(text, dir / "p.toml")); };
  auto warnings_of = [&](const std::string& text) {
    return all_warnings(check(text, dir / "p.toml"));
  };
  EXPECT_NE(errors_of(with(kMinimal, "dataset", "cache_text_encoder_outputs = true"))
                .find("key network.train_text_encoder: text-encoder outputs are cached"),
            std::string::npos);
  EXPECT_NE(errors_of(with(with(kMinimal, "dataset",
                                "cache_text_encoder_outputs = true\nshuffle_caption = true"),
                           "network", "train_text_encoder = false"))
                .find("cannot be cached"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "dataset", "crop = \"random\""))
                .find("key dataset.crop: crop = \"random\" changes the image"),
            std::string::npos);
  EXPECT_NE(warnings_of(with(kMinimal, "dataset", "keep_tokens = 1"))
                .find("key dataset.keep_tokens: has no effect without shuffle_caption"),
            std::string::npos);
  EXPECT_NE(errors_of(with(with(kMinimal, "schedule", "type = \"cosine\"\nwarmup_steps = 100"),
                           "training", "max_steps = 100"))
                .find("warmup (100 steps) must be shorter than the run (the run has 100 optimizer steps)"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "schedule", "warmup_steps = 10"))
                .find("type \"constant\" has no warmup"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "schedule", "warmup_steps = 10\nwarmup_ratio = 0.1"))
                .find("set warmup_steps or warmup_ratio, not both"),
            std::string::npos);
  std::string sd2 = R"(
[model]
path = "x.safetensors"
family = "sd2"
prediction = "epsilon"
[dataset]
path = "data"
[training]
resolution = 768
)";
  EXPECT_NE(warnings_of(sd2).find("key model.prediction: SD 2.x 768 models predict v"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "optimizer", "momentum = 0.9"))
                .find("key optimizer.momentum: does not apply to optimizer.type = \"adamw\""),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "network", "conv_dim = 4"))
                .find("key network.conv_dim: applies to LoCon, LoHa and LoKr only"),
            std::string::npos);
  // Network types (#17): each type's own keys, and the combinations LyCORIS does not have.
  EXPECT_NE(errors_of(with(kMinimal, "network", "factor = 4"))
                .find("key network.factor: applies to LoKr only"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "network", "type = \"loha\"\ndropout = 0.1"))
                .find("key network.dropout: applies to lora / locon only"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "network", "dora = true\ndropout = 0.1"))
                .find("key network.dropout: does not apply with dora = true"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "network", "type = \"lokr\"\nfactor = 0"))
                .find("key network.factor: must be -1"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "network", "type = \"loha\"\nconv_alpha = 2"))
                .find("key network.conv_alpha: needs conv_dim"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "network", "train_unet = false\ntrain_text_encoder = false"))
                .find("nothing would be trained"),
            std::string::npos);
  EXPECT_NE(errors_of(with(kMinimal, "model", "family = \"sdxl\""))
                .find("key model.family: sdxl contradicts model.path"),
            std::string::npos);
}

TEST(TrainConfig, OptimizerDefaultsFollowTheType) {
  TempDir dir;
  TrainConfig prodigy = parse_train_config(with(kMinimal, "optimizer", "type = \"prodigy\""),
                                           dir / "p.toml");
  EXPECT_DOUBLE_EQ(prodigy.optimizer.lr, 1.0);
  EXPECT_DOUBLE_EQ(prodigy.optimizer.config.weight_decay, 0.0);
  TrainConfig sgd = parse_train_config(with(kMinimal, "optimizer", "type = \"sgd\""),
                                       dir / "p.toml");
  EXPECT_DOUBLE_EQ(sgd.optimizer.config.momentum, 0.9);
  TrainConfig locon = parse_train_config(with(kMinimal, "network", "type = \"locon\"\nrank = 8"),
                                         dir / "p.toml");
  EXPECT_EQ(locon.network.conv_dim, 8);
  EXPECT_DOUBLE_EQ(locon.network.conv_alpha, 1.0);
}

TEST(TrainConfig, NetworkBecomesLoRAOptions) {
  TempDir dir;
  TrainConfig lora = parse_train_config(
      with(kMinimal, "network", "rank = 16\nalpha = 8\ndropout = 0.1\ntrain_text_encoder = false"),
      dir / "p.toml");
  LoRAOptions o = to_lora_options(lora.network);
  EXPECT_EQ(o.rank, 16);
  EXPECT_DOUBLE_EQ(o.alpha, 8);
  EXPECT_DOUBLE_EQ(o.dropout, 0.1);
  EXPECT_EQ(o.conv_rank, 0);
  EXPECT_TRUE(o.unet);
  EXPECT_FALSE(o.text_encoders);
  TrainConfig locon = parse_train_config(
      with(kMinimal, "network", "type = \"locon\"\nconv_dim = 4\nconv_alpha = 2"), dir / "p.toml");
  LoRAOptions c = to_lora_options(locon.network);
  EXPECT_EQ(c.conv_rank, 4);
  EXPECT_DOUBLE_EQ(c.conv_alpha, 2);
  EXPECT_TRUE(c.text_encoders);  // LoHa / LoKr: no convolutions unless conv_dim is given; DoRA and LoKr's keys pass through.
  LoRAOptions loha = to_lora_options(
      parse_train_config(with(kMinimal, "network", "type = \"loha\"\ndora = true"), dir / "p.toml").network);
  EXPECT_EQ(loha.algo, NetworkAlgo::LoHa);
  EXPECT_TRUE(loha.dora);
  EXPECT_EQ(loha.conv_rank, 0);
  LoRAOptions lokr = to_lora_options(
      parse_train_config(with(kMinimal, "network", "type = \"lokr\"\nfactor = 8\ndecompose_both = true\nconv_dim = 2"),
                         dir / "p.toml")
          .network);
  EXPECT_EQ(lokr.algo, NetworkAlgo::LoKr);
  EXPECT_EQ(lokr.lokr_factor, 8);
  EXPECT_TRUE(lokr.lokr_decompose_both);
  EXPECT_EQ(lokr.conv_rank, 2);
  EXPECT_FALSE(lokr.dora);
}

TEST(TrainConfigOverride, SetsValuesParsedAsToml) {
  TempDir dir;
  ProfileCheck c = check(kMinimal, dir / "p.toml",
                         {"network.rank=16", "training.resolution=[768,512]",
                          "model.path=\"tiny-random:sdxl\"", "training.device=cuda:0",
                          "optimizer.lr=5e-5", "validation.split=0.2"});
  ASSERT_TRUE(c.ok()) << all_errors(c);
  EXPECT_EQ(c.config->network.rank, 16);
  EXPECT_EQ(c.config->training.width, 768);
  EXPECT_EQ(c.config->training.height, 512);
  EXPECT_EQ(c.config->model.path, "tiny-random:sdxl");
  EXPECT_EQ(c.config->training.device, "cuda:0");
  EXPECT_DOUBLE_EQ(c.config->optimizer.lr, 5e-5);
  EXPECT_DOUBLE_EQ(c.config->validation.split, 0.2);
  EXPECT_EQ(c.sources.at("network.rank"), KeySource::Override);
  EXPECT_EQ(c.sources.at("validation.split"), KeySource::Override);
  EXPECT_EQ(c.sources.at("dataset.path"), KeySource::File);
}

TEST(TrainConfigOverride, BareAndRelativePathsMeanTheCurrentDirectory) {
  TempDir dir;
  ProfileCheck c = check(kMinimal, dir / "sub/p.toml",
                         {"model.path=my/model.safetensors", "dataset.path=/abs/data"});
  ASSERT_TRUE(c.ok()) << all_errors(c);
  EXPECT_EQ(c.config->model.path, fs::absolute("my/model.safetensors").lexically_normal().string());
  EXPECT_EQ(c.config->dataset.root, "/abs/data");
}

TEST(TrainConfigOverride, ReplacesADataKeyWhereTheFileHasIt) {
  TempDir dir;
  ProfileCheck c = check(with(kMinimal, "training", "flip = false"), dir / "p.toml",
                         {"dataset.flip=true"});
  ASSERT_TRUE(c.ok()) << all_errors(c);
  EXPECT_TRUE(c.config->data.flip);
}

TEST(TrainConfigOverride, ErrorsNameTheOverride) {
  TempDir dir;
  auto error_of = [&](const std::string& set) {
    return all_errors(check(kMinimal, dir / "p.toml", {set}));
  };
  EXPECT_EQ(error_of("network.rank=0"),
            "--set network.rank=0: key network.rank: must be 1 to 4096, got 0\n");
  EXPECT_EQ(error_of("network.rank=abc"),
            "--set network.rank=abc: key network.rank: expected an integer, got a string\n");
  EXPECT_EQ(error_of("network.rnak=8"),
            "--set network.rnak=8: unknown key network.rnak; did you mean network.rank?\n");
  EXPECT_EQ(error_of("netwrk.rank=8"),
            "--set netwrk.rank=8: unknown section netwrk; did you mean network?\n");
  EXPECT_NE(error_of("rank=8").find("the key must be section.key"), std::string::npos);
  EXPECT_NE(error_of("network.rank").find("expected section.key=value"), std::string::npos);
  EXPECT_NE(error_of("network.rank=").find("no value"), std::string::npos);
  EXPECT_NE(error_of("concepts.path=x").find("cannot be set"), std::string::npos);
}

void expect_round_trip(const TrainConfig& original, const fs::path& frozen_path) {
  std::string rendered = render_profile_toml(original);
  TrainConfig again = parse_train_config(rendered, frozen_path);
  std::string rendered_again = render_profile_toml(again);
  // The header names the source file; everything after it must match.
  auto body = [](const std::string& s) { return s.substr(s.find("\n[")); };
  EXPECT_EQ(body(rendered), body(rendered_again)) << rendered;
  EXPECT_EQ(again.model.path, original.model.path);
  EXPECT_EQ(again.dataset.root, original.dataset.root);
  ASSERT_EQ(again.dataset.concepts.size(), original.dataset.concepts.size());
  for (std::size_t i = 0; i < again.dataset.concepts.size(); ++i) {
    EXPECT_EQ(again.dataset.concepts[i].path, original.dataset.concepts[i].path);
    EXPECT_EQ(again.dataset.concepts[i].repeats, original.dataset.concepts[i].repeats);
  }
  EXPECT_EQ(again.optimizer.lr, original.optimizer.lr);  // exact, not approximately
  EXPECT_EQ(again.noise.offset, original.noise.offset);
  EXPECT_EQ(again.optimizer.config.growth_rate, original.optimizer.config.growth_rate);
  EXPECT_EQ(again.training.width, original.training.width);
  EXPECT_EQ(again.training.height, original.training.height);
  EXPECT_EQ(again.saving.name, original.saving.name);
  EXPECT_EQ(again.output.dir, original.output.dir);
}

TEST(TrainConfigRender, RoundTripsThroughTheFrozenProfile) {
  TempDir dir;
  fs::path frozen = dir / "runs/20260101-000000/profile.toml";
  expect_round_trip(parse_train_config(kFull, dir / "p.toml"), frozen);
  expect_full_values(parse_train_config(render_profile_toml(parse_train_config(kFull, dir / "p.toml")),
                                        frozen),
                     dir.path());
  expect_round_trip(parse_train_config(kMinimal, dir / "p.toml"), frozen);
  expect_round_trip(parse_train_config(with(kMinimal, "optimizer", "type = \"prodigy\"\nbeta3 = 0.99"),
                                       dir / "p.toml"),
                    frozen);
  expect_round_trip(parse_train_config(with(kMinimal, "optimizer", "type = \"sgd\"\nnesterov = true"),
                                       dir / "p.toml"),
                    frozen);
  expect_round_trip(
      parse_train_config(with(kMinimal, "validation", "concept = \"val\""), dir / "p.toml"), frozen);
  // Strings that need escaping survive.
  TrainConfig odd = parse_train_config(
      "[model]\npath = 'we\"ird\\\\na\tme \u00fc.safetensors'\n[dataset]\npath = \"d\"\n"
      "[[concepts]]\npath = \"c\"\nactivation_tag = \"say \\\"hi\\\"\"\n",
      dir / "p.toml");
  TrainConfig odd_again = parse_train_config(render_profile_toml(odd), frozen);
  EXPECT_EQ(odd_again.model.path, odd.model.path);
  EXPECT_NE(odd.model.path.find("we\"ird\\\\na\tme \u00fc"), std::string::npos);
  EXPECT_EQ(odd_again.dataset.concepts[0].activation_tag, "say \"hi\"");
  // Values set with --set are in the frozen copy.
  TrainConfig overridden =
      parse_train_config(kMinimal, dir / "p.toml", {"network.rank=12", "optimizer.lr=3.3e-5"});
  std::string rendered = render_profile_toml(overridden);
  EXPECT_NE(rendered.find("rank = 12\n"), std::string::npos);
  TrainConfig again = parse_train_config(rendered, frozen);
  EXPECT_EQ(again.network.rank, 12);
  EXPECT_EQ(again.optimizer.lr, 3.3e-5);
}

TEST(TrainConfigRender, IdentityDoesNotDependOnWhereTheRunLives) {
  TempDir dir;
  // The same frozen profile read from two run folders (a run moved or copied elsewhere), with
  // runs going to different places: what is trained is the same, so is the identity.
  TrainConfig original = parse_train_config(kFull, dir / "p.toml");
  const std::string frozen = render_profile_toml(original);
  TrainConfig here = parse_train_config(frozen, dir / "runs/20260101-000000-a/profile.toml");
  TrainConfig moved = parse_train_config(frozen, dir / "elsewhere/copy/profile.toml",
                                         {"output.dir=/somewhere/else"});
  EXPECT_NE(render_profile_toml(here), render_profile_toml(moved));  // the header names the file
  EXPECT_EQ(render_profile_identity(here), render_profile_identity(moved));
  EXPECT_EQ(render_profile_identity(here), render_profile_identity(original));
  EXPECT_EQ(render_profile_identity(here).find("Rendered from"), std::string::npos);
  // A key that changes what is trained changes it.
  TrainConfig other = parse_train_config(frozen, dir / "runs/20260101-000000-a/profile.toml", {"network.rank=9"});
  EXPECT_NE(render_profile_identity(here), render_profile_identity(other));
}

TEST(TrainConfigRender, ShowEntriesCoverEveryKnownKey) {
  TempDir dir;
  TrainConfig t = parse_train_config(kMinimal, dir / "p.toml");
  std::vector<ConfigEntry> entries = config_entries(t);
  auto find = [&](const std::string& section, const std::string& key) {
    for (const auto& e : entries)
      if (e.section == section && e.key == key) return e.toml;
    return std::string("<absent>");
  };
  EXPECT_EQ(find("network", "rank"), "4");
  EXPECT_EQ(find("network", "alpha"), "1.0");
  EXPECT_EQ(find("training", "resolution"), "512");
  EXPECT_EQ(find("model", "vae"), "");  // unset optional
  EXPECT_EQ(find("optimizer", "lr"), "0.0001");
}

TEST(TrainConfig, MissingFilesAreListedNotErrors) {
  TempDir dir;
  ProfileCheck c = check(with(kMinimal, "model", "vae = \"nope.safetensors\""), dir / "p.toml");
  ASSERT_TRUE(c.ok()) << all_errors(c);
  std::vector<std::string> missing = missing_files(*c.config);
  ASSERT_EQ(missing.size(), 2u);  // the VAE and the dataset folder; tiny-random has no file
  EXPECT_NE(missing[0].find("model.vae: "), std::string::npos);
  EXPECT_NE(missing[1].find("dataset.path: "), std::string::npos);
  fs::create_directories(dir / "data");
  test::write_text(dir / "nope.safetensors", "x");
  EXPECT_TRUE(missing_files(*c.config).empty());
}

TEST(TrainConfig, CheckTotalSteps) {
  TempDir dir;
  TrainConfig t = parse_train_config(with(kMinimal, "schedule", "type = \"linear\"\nwarmup_ratio = 0.1"),
                                     dir / "p.toml");
  EXPECT_NO_THROW(check_total_steps(t, 100));
  EXPECT_THROW(check_total_steps(t, 0), Error);
  TrainConfig w = parse_train_config(with(kMinimal, "schedule", "type = \"linear\"\nwarmup_steps = 50"),
                                     dir / "p.toml");
  EXPECT_NO_THROW(check_total_steps(w, 51));
  EXPECT_THROW(check_total_steps(w, 50), Error);
}

TEST(TrainConfigPresets, EveryPresetParses) {
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(test::source_dir() / "profiles")) {
    if (entry.path().extension() != ".toml") continue;
    ++seen;
    std::vector<std::string> warnings;
    TrainConfig t;
    ASSERT_NO_THROW(t = load_train_config(entry.path(), {}, &warnings)) << entry.path();
    expect_round_trip(t, fs::temp_directory_path() / "lathe-frozen.toml");
  }
  EXPECT_GE(seen, 5);
}

TEST(TrainConfigPresets, DemoNeedsNoFilesBeyondTheRepository) {
  TrainConfig demo = load_train_config(test::source_dir() / "profiles/demo.toml");
  EXPECT_TRUE(demo.model.is_tiny_random());
  EXPECT_TRUE(missing_files(demo).empty());
  EXPECT_TRUE(demo.validation.enabled());
  EXPECT_EQ(demo.saving.every_n_epochs, 1);
}

}  // namespace
}  // namespace lathe
