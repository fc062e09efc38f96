// TrainConfig: everything a training run is told by its TOML profile, as plain values that are
// const after validation (the model, dataset and concepts, caption and bucket options, the
// LoRA network, optimizer, LR schedule, noise and loss, training length and device,
// validation, saving and the output folder). It aggregates the config structs of the training
// primitives (OptimizerConfig, LrScheduleConfig, NoiseConfig, LossConfig, NoiseScheduleConfig)
// so the loop hands them on unchanged. Parsing (train_config_parse.cpp), `--set` overrides
// (train_config_override.cpp), rendering back to TOML (train_config_render.cpp) and the key
// lists (train_config_keys.h) live apart; this header is the contract.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataset/bucket_plan.h"
#include "dataset/profile_concepts.h"
#include "lora/lora_blocks.h"
#include "models/model_family.h"
#include "diffusion/losses.h"
#include "train/optim/lr_schedule.h"
#include "diffusion/noise.h"
#include "diffusion/noise_schedule.h"
#include "diffusion/sampler.h"
#include "train/optim/optimizers.h"

namespace lathe {

class Profile;

// Storage type of weights: base model weights ([model] dtype) and saved LoRA files
// ([saving] precision). "fp32" | "fp16" | "bf16".
enum class WeightDType { FP32, FP16, BF16 };
// "no" | "fp16" | "bf16" | "auto" (the device's low precision: bf16 where it runs bf16, else fp16;
// resolve_precision in precision.h turns it into one of the others before a run uses it).
enum class MixedPrecision { No, FP16, BF16, Auto };
enum class CropMode { Center, Random };        // "center" | "random"
enum class LatentCache { Off, Memory, Disk };  // "off" | "memory" | "disk"
// "lora" | "locon" | "loha" | "lokr" | "embedding". Embedding is textual inversion: no LoRA
// network, only the [[embeddings]] vectors train.
enum class NetworkType { LoRA, LoCon, LoHa, LoKr, Embedding };
// [dataset] on_bad_image: an image that cannot be decoded stops the run, or is left out of it
// with a warning in log.txt naming the file.
enum class BadImagePolicy { Stop, Skip };      // "stop" | "skip"

// The prefix of a tiny random-weight model path ("tiny-random:sd15", "tiny-random:sdxl").
inline constexpr const char* kTinyRandomPrefix = "tiny-random:";

struct ModelConfig {
  // A checkpoint file or diffusers folder (absolute after parsing; relative paths in the
  // profile are relative to the profile's folder), or "tiny-random:sd15" / "tiny-random:sdxl".
  std::string path;
  std::optional<std::filesystem::path> tokenizer;  // folder or OpenAI vocab file; absolute
  std::optional<ModelFamily> family;               // nullopt: detect from the checkpoint
  std::optional<Prediction> prediction;            // nullopt: the checkpoint's / family's
  int clip_skip = 1;                               // 1 = last layer, 2 = penultimate, ...
  // Base weights; LoRA stays fp32. nullopt is "auto": chosen per device when the run starts
  // (bf16 on the CPU and on CUDA cards with bf16, fp16 on older cards; see precision.h).
  std::optional<WeightDType> dtype;
  std::optional<std::filesystem::path> vae;        // a separate VAE file; absolute
  bool use_ema = false;  // train on the UNet's EMA copy (model_ema.*) of a non-pruned single file

  bool is_tiny_random() const;
  // The family a tiny-random path names (sd15 -> SD1, sdxl -> SDXL); nullopt otherwise.
  std::optional<ModelFamily> tiny_random_family() const;
};

// Caption handling and image preparation ([dataset] keys; also accepted under [training]).
struct DataConfig {
  bool shuffle_caption = false;        // shuffle comma-separated tags each time
  int keep_tokens = 0;                 // the first N tags stay in place (and never drop)
  double caption_dropout_rate = 0.0;   // whole caption replaced by "" with this probability
  double caption_tag_dropout_rate = 0.0;  // each tag (after keep_tokens) dropped
  bool flip = false;                   // random horizontal flip
  CropMode crop = CropMode::Center;    // crop within the bucket
  bool bucketing = true;               // aspect-ratio buckets (off: every image at resolution)
  int min_bucket_reso = 256;
  int max_bucket_reso = 1024;
  int bucket_reso_steps = 64;
  bool bucket_no_upscale = false;
  RemainderPolicy remainder_policy = RemainderPolicy::Partial;
  LatentCache cache_latents = LatentCache::Memory;
  bool cache_text_encoder_outputs = false;
  BadImagePolicy on_bad_image = BadImagePolicy::Stop;
};

// [network]: what the profile says, including the type; to_lora_options() turns it into the
// LoRA network's options.
struct NetworkConfig {
  NetworkType type = NetworkType::LoRA;
  int64_t rank = 4;        // kohya --network_dim default
  double alpha = 1.0;      // scale = alpha / rank (kohya --network_alpha default 1)
  double dropout = 0.0;    // neuron dropout on the down projection's output
  double rank_dropout = 0.0;
  double module_dropout = 0.0;
  int64_t conv_dim = 0;    // LoCon rank of the 3x3/1x1 convolutions; 0 = none (lora)
  double conv_alpha = 0.0;  // LoCon alpha (locon defaults: conv_dim = rank, conv_alpha = alpha)
  bool dora = false;       // DoRA (LyCORIS dora_wd): a dora_scale magnitude per module, any type
  int64_t factor = -1;     // LoKr: LyCORIS's factor (-1 = the split closest to a square)
  bool decompose_both = false;  // LoKr: the small factor w1 a rank product too
  bool train_unet = true;
  bool train_text_encoder = true;  // kohya trains both unless --network_train_unet_only
  // block_dims, block_alphas, conv_block_dims, conv_block_alphas, down/mid/up_lr_weight,
  // block_lr_zero_threshold (kohya's network_args); checked against the family once known.
  LoRABlockSettings blocks;
};

struct LoRAOptions;  // lora/lora_network.h
// The [network] section as the LoRA network's construction options (multiplier 1).
LoRAOptions to_lora_options(const NetworkConfig& network);

// [optimizer]: the optimizer's own options plus the learning rates and clipping.
struct OptimizerSettings {
  OptimizerConfig config;  // type, weight_decay, betas, eps, momentum, Prodigy options
  double lr = 1e-4;
  std::optional<double> unet_lr;          // nullopt: lr
  std::optional<double> text_encoder_lr;  // nullopt: lr
  double max_grad_norm = 1.0;             // 0 = no clipping
  // The [[embeddings]] vectors' lr; nullopt: kDefaultEmbeddingLr (1.0 with Prodigy, whose lr
  // multiplies its own estimate). Textual inversion and pivotal tuning alike.
  std::optional<double> embedding_lr;
  // Pivotal tuning: the vectors stop training after this many optimizer steps (0 = never).
  int64_t embedding_stop_step = 0;

  double effective_unet_lr() const { return unet_lr.value_or(lr); }
  double effective_text_encoder_lr() const { return text_encoder_lr.value_or(lr); }
  double effective_embedding_lr() const;
};

// A1111's default embedding learning rate (its Train tab's 0.005); diffusers' textual_inversion
// example trains at 5e-4 x batch x accumulation (2e-3 with its accumulation 4). kohya's guide
// uses 1e-6, far too slow for new words at Lathe's step counts.
inline constexpr double kDefaultEmbeddingLr = 5e-3;

inline double OptimizerSettings::effective_embedding_lr() const {
  return embedding_lr.value_or(config.type == OptimizerType::Prodigy ? 1.0 : kDefaultEmbeddingLr);
}

// [noise] min_timestep / max_timestep: timesteps are drawn uniformly in [min, max).
struct TimestepRange {
  int64_t min = 0;
  int64_t max = 1000;
};

// [training]
struct TrainingConfig {
  int64_t epochs = 10;
  int64_t max_steps = 0;  // optimizer steps; 0 = epochs decide; else the run stops there
  int64_t batch_size = 1;
  int width = 512;  // resolution = 512 (square) or [width, height]
  int height = 512;
  uint64_t seed = 42;
  int64_t gradient_accumulation_steps = 1;
  bool gradient_checkpointing = false;
  MixedPrecision mixed_precision = MixedPrecision::No;
  std::string device = "auto";  // "auto" | "cpu" | "cuda" | "cuda:N"
  bool allow_tf32 = true;        // TF32 matmuls / convolutions on Ampere and newer GPUs
  bool deterministic = true;     // deterministic kernels where they exist, no cuDNN autotuning
};

// [validation]: a held-out split of the training images, or a concept folder of its own.
struct ValidationConfig {
  double split = 0.0;                              // fraction held out (seeded by `seed`)
  std::optional<std::filesystem::path> concept;    // absolute; exclusive with split
  int64_t every_n_steps = 0;                       // 0 = at each epoch end only
  std::vector<int64_t> timesteps = {100, 300, 500, 700, 900};
  uint64_t seed = 0;                               // fixed noise / split seed

  bool enabled() const { return split > 0.0 || concept.has_value(); }
};

// [saving]
struct SavingConfig {
  int64_t every_n_epochs = 1;    // 0 = not by epoch
  int64_t every_n_steps = 0;     // 0 = not by step
  int64_t keep_last = 0;         // keep the newest K epoch files; 0 = keep all
  WeightDType precision = WeightDType::FP16;
  std::string name;              // file name stem; default: the profile file's stem
  int64_t log_every_n_steps = 10;
  // Pivotal tuning: each trained embedding is also written as its own embedding file beside
  // the LoRA file (the LoRA file carries them as bundle_emb.* keys either way).
  bool embedding_file = false;
};

// [[embeddings]]: a new word for the text encoder(s), its vectors trained (textual inversion,
// pivotal tuning) or loaded from a file and used frozen.
struct EmbeddingSpec {
  std::string name;               // the word captions and prompts use: ASCII letters, digits, _ -
  std::optional<int64_t> vectors;  // 1..75 (one 77-token row less BOS, EOS); nullopt: the file's, else 1
  std::string init_word;          // its tokens' embeddings start new vectors; "" with `file`
  std::optional<std::filesystem::path> file;  // an existing embedding to start from; absolute
  bool train = true;              // false: used frozen (needs `file`)

  int64_t vector_count() const { return vectors.value_or(1); }
};

// [sample]: images rendered with the LoRA while it trains, written to samples/ in the run
// folder. Rendering never changes what is trained, so [sample] is left out of the checkpoint
// identity (render_profile_identity): samples can be turned on, off or changed for a resume.
struct SampleConfig {
  // Prompt lines in kohya's sample-prompt format ("a cat --n blurry --w 512 --d 7"), from the
  // inline `prompts` list or read from `prompts_file` when the profile is parsed (the frozen
  // profile keeps the lines, so a run's samples do not change when the file does). A line with
  // "{activation}" stands for one prompt per concept with an activation tag.
  std::vector<std::string> prompts;
  std::optional<std::filesystem::path> prompts_file;  // where `prompts` came from; absolute
  int64_t every_n_steps = 0;   // 0 = not by step
  int64_t every_n_epochs = 0;  // 0 = not by epoch (1 when neither key is given)
  bool at_start = false;       // also before the first step (the base model with the fresh LoRA)
  SamplerKind sampler = SamplerKind::EulerAncestral;
  int64_t steps = 20;
  double cfg = 7.0;
  std::optional<int> width, height;  // nullopt: the training resolution
  uint64_t seed = 42;                // prompt i is rendered with seed + i (unless it sets --d)
  std::string negative_prompt;

  bool enabled() const { return !prompts.empty(); }
};

// [output]
struct OutputConfig {
  // Where runs/<run-id>/ go. Relative to the current directory (like kohya's --output_dir),
  // not to the profile; absolute after parsing.
  std::filesystem::path dir = "runs";
};

struct TrainConfig {
  std::filesystem::path profile_path;  // the file it came from (messages only)
  ModelConfig model;
  ProfileDataset dataset;  // [dataset] path / caption_extension / recursive + [[concepts]]
  DataConfig data;
  NetworkConfig network;
  OptimizerSettings optimizer;
  LrScheduleConfig schedule;
  NoiseConfig noise;
  LossConfig loss;                   // [noise] loss, huber_c, huber_schedule, min_snr_gamma
  NoiseScheduleConfig noise_schedule;  // [noise] zero_terminal_snr
  TimestepRange timesteps;           // [noise] min_timestep, max_timestep
  TrainingConfig training;
  ValidationConfig validation;
  SavingConfig saving;
  SampleConfig sample;
  OutputConfig output;
  std::vector<EmbeddingSpec> embeddings;  // [[embeddings]], in file order

  // network.type = "embedding": only the embeddings' vectors train, no LoRA network.
  bool textual_inversion() const { return network.type == NetworkType::Embedding; }
  // Some [[embeddings]] entry trains (textual inversion, or pivotal tuning beside a LoRA).
  bool trains_embeddings() const {
    for (const EmbeddingSpec& e : embeddings)
      if (e.train) return true;
    return false;
  }
};

// Where an effective value came from, for `lathe profile show`.
enum class KeySource { Default, File, Override };

// The outcome of validating a profile: either a config, or the errors (one per problem found;
// each names file:line (or the --set argument) and the dotted key). Warnings never stop a
// run: questionable combinations, and paths that do not exist (see missing_files).
struct ProfileCheck {
  std::optional<TrainConfig> config;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::map<std::string, KeySource> sources;  // "section.key" -> where it came from
  bool ok() const { return errors.empty(); }
};

// Validates `profile` after applying `overrides` ("section.key=value" as given to --set).
// Never throws for anything in the profile or the overrides; they become errors.
ProfileCheck check_train_profile(Profile profile, const std::vector<std::string>& overrides = {});

// Loads and validates a profile file; throws lathe::Error listing every error (one per line).
// Warnings are appended to `warnings` when given.
TrainConfig load_train_config(const std::filesystem::path& path,
                              const std::vector<std::string>& overrides = {},
                              std::vector<std::string>* warnings = nullptr);

// The same from text (tests, the frozen profile); `path` names it in messages and is the base
// for relative paths.
TrainConfig parse_train_config(std::string_view text, const std::filesystem::path& path,
                               const std::vector<std::string>& overrides = {},
                               std::vector<std::string>* warnings = nullptr);

// Applies one "section.key=value" override to a parsed profile. The value is read as TOML
// (16, [768, 512], "x", true), and as a bare string when it is not TOML (cuda:0, my/path).
// Throws lathe::Error naming the key, with a did-you-mean for unknown sections and keys.
void apply_override(Profile& profile, const std::string& assignment);

// Paths the config names that do not exist: "model.path: /x/sd15.safetensors does not exist".
// tiny-random models have no file. `lathe profile check` reports them as warnings; a run
// cannot start with any.
std::vector<std::string> missing_files(const TrainConfig& config);

// Cross-checks that need the run's length, known only once the dataset is scanned: warmup
// shorter than the run. Throws lathe::Error naming the schedule key.
void check_total_steps(const TrainConfig& config, int64_t total_steps);

// The effective profile as TOML: every key with its value, defaults included, absolute paths.
// parse_train_config(render_profile_toml(c), any path) gives back `c` (the frozen
// runs/<id>/profile.toml).
std::string render_profile_toml(const TrainConfig& config);

// What a run's checkpoints are matched against on resume: every key that decides what is
// trained, without the header comment, [output] dir and [sample], so the text is the same
// wherever the run folder lives (a moved or copied run resumes) and whatever is sampled.
std::string render_profile_identity(const TrainConfig& config);

// One effective value for display: section ("model", "concepts[1]"), key, its value as TOML
// text, and whether it is set at all (optional keys such as model.vae may be unset).
struct ConfigEntry {
  std::string section;
  std::string key;
  std::string toml;  // empty when unset
};
std::vector<ConfigEntry> config_entries(const TrainConfig& config);

// Names of enum values as they are written in profiles.
const char* to_string(WeightDType v);
const char* to_string(const std::optional<WeightDType>& v);  // nullopt: "auto"
const char* to_string(MixedPrecision v);
const char* to_string(CropMode v);
const char* to_string(LatentCache v);
const char* to_string(NetworkType v);

}  // namespace lathe
