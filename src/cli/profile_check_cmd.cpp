// `lathe profile check FILE [--set k=v ...]`: validates a training profile and prints "ok"
// with a one-screen summary of what the run would do, or every error (file:line and key).
// Paths that do not exist are warnings (presets ship with placeholders the user overrides);
// --require-files makes them errors, as `lathe train` does.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "io/profile.h"
#include "train/model/precision.h"
#include "train/config/train_config.h"

namespace lathe::cli {
namespace {

std::string rate(double v) { return fmt::format("{:g}", v); }

std::string model_line(const ModelConfig& m, const std::string& dtype) {
  if (m.is_tiny_random())
    return fmt::format("{} (tiny architecture, random weights with a fixed seed: for tests only; {} "
                       "weights)",
                       m.path, dtype);
  std::string family = m.family ? family_name(*m.family) : "family from the checkpoint";
  return fmt::format("{} ({}, {} weights)", m.path, family, dtype);
}

std::string dataset_line(const TrainConfig& c) {
  if (c.dataset.concepts.empty())
    return fmt::format("{} (kohya folder: NN_name concepts)", c.dataset.root.string());
  return fmt::format("{} concept{} under {}", c.dataset.concepts.size(),
                     c.dataset.concepts.size() == 1 ? "" : "s", c.dataset.root.string());
}

std::string network_line(const NetworkConfig& n) {
  if (n.type == NetworkType::Embedding) return "embedding (textual inversion: no LoRA, only the new vectors train)";
  std::string what = n.train_unet && n.train_text_encoder ? "UNet + text encoder"
                     : n.train_unet                       ? "UNet only"
                                                          : "text encoder only";
  std::string conv = n.conv_dim > 0
                         ? fmt::format(", conv rank {} alpha {:g}", n.conv_dim, n.conv_alpha)
                         : "";
  if (n.type == NetworkType::LoKr)
    conv += fmt::format(", factor {}{}", n.factor, n.decompose_both ? ", both factors decomposed" : "");
  return fmt::format("{}{} rank {} alpha {:g}{}, {}", to_string(n.type), n.dora ? " + DoRA" : "", n.rank, n.alpha,
                     conv, what);
}

std::string optimizer_line(const OptimizerSettings& o, bool textual_inversion) {
  std::string lrs = fmt::format("lr {}", rate(o.lr));
  if (textual_inversion) lrs = fmt::format("embedding lr {}", rate(o.effective_embedding_lr()));
  else if (o.unet_lr || o.text_encoder_lr)
    lrs = fmt::format("unet lr {}, text encoder lr {}", rate(o.effective_unet_lr()),
                      rate(o.effective_text_encoder_lr()));
  return fmt::format("{}, {}, weight decay {:g}, clip {}", to_string(o.config.type), lrs,
                     o.config.weight_decay,
                     o.max_grad_norm > 0 ? fmt::format("{:g}", o.max_grad_norm) : "off");
}

std::string schedule_line(const LrScheduleConfig& s) {
  std::string warmup = s.warmup_ratio > 0   ? fmt::format(", warmup {:g} of the run", s.warmup_ratio)
                       : s.warmup_steps > 0 ? fmt::format(", warmup {} steps", s.warmup_steps)
                                            : "";
  return to_string(s.type) + warmup;
}

std::string training_line(const TrainingConfig& t, const std::string& mixed) {
  std::string length = t.max_steps > 0
                           ? fmt::format("{} epochs, at most {} steps", t.epochs, t.max_steps)
                           : fmt::format("{} epochs", t.epochs);
  return fmt::format("{}, batch {}{}, {}x{}, seed {}, device {}, mixed precision {}", length,
                     t.batch_size,
                     t.gradient_accumulation_steps > 1
                         ? fmt::format(" x {} accumulated", t.gradient_accumulation_steps)
                         : "",
                     t.width, t.height, t.seed, t.device, mixed);
}

std::string validation_line(const ValidationConfig& v) {
  if (!v.enabled()) return "off";
  std::string from = v.concept ? v.concept->string() : fmt::format("{:g} of the images held out", v.split);
  return fmt::format("{}, {} timesteps, seed {}{}", from, v.timesteps.size(), v.seed,
                     v.every_n_steps > 0 ? fmt::format(", also every {} steps", v.every_n_steps)
                                         : "");
}

std::string saving_line(const TrainConfig& c) {
  const SavingConfig& s = c.saving;
  const OutputConfig& o = c.output;
  std::vector<std::string> when;
  if (s.every_n_epochs > 0)
    when.push_back(s.every_n_epochs == 1 ? "every epoch"
                                         : fmt::format("every {} epochs", s.every_n_epochs));
  if (s.every_n_steps > 0) when.push_back(fmt::format("every {} steps", s.every_n_steps));
  if (when.empty()) when.push_back("at the end");
  // Textual inversion saves each trained embedding under its own word, in float32.
  std::vector<std::string> stems;
  for (const EmbeddingSpec& e : c.embeddings)
    if (e.train && c.textual_inversion()) stems.push_back(e.name + "-eNNNN.safetensors");
  return fmt::format("{} as {} ({}{}) into {}/<run-id>/", fmt::join(when, " and "),
                     stems.empty() ? s.name + "-eNNNN.safetensors" : fmt::format("{}", fmt::join(stems, ", ")),
                     stems.empty() ? to_string(s.precision) : "fp32",
                     s.keep_last > 0 ? fmt::format(", keep last {}", s.keep_last) : "",
                     o.dir.string());
}

// [[embeddings]], shown only when the profile has some: "jinxdef 4 vectors from \"woman\", trains at
// 0.005 until step 200".
std::string embeddings_line(const TrainConfig& c) {
  std::vector<std::string> parts;
  for (const EmbeddingSpec& e : c.embeddings) {
    std::string count = e.vectors ? fmt::format("{} vector{}", *e.vectors, *e.vectors == 1 ? "" : "s")
                                  : std::string("vectors of the file");
    std::string from = e.file ? fmt::format("from {}", e.file->filename().string())
                              : fmt::format("from \"{}\"", e.init_word);
    parts.push_back(fmt::format("{} ({}, {}{})", e.name, count, from, e.train ? "" : ", frozen"));
  }
  std::string how;
  if (c.trains_embeddings()) {
    how = fmt::format("; lr {:g}", c.optimizer.effective_embedding_lr());
    if (c.optimizer.embedding_stop_step > 0)
      how += fmt::format(", frozen after step {}", c.optimizer.embedding_stop_step);
    if (!c.textual_inversion()) how += " (pivotal tuning with the LoRA)";
  }
  return fmt::format("{}{}", fmt::join(parts, ", "), how);
}

// [sample], shown only when the profile samples.
std::string sample_line(const SampleConfig& s, const TrainingConfig& t) {
  std::vector<std::string> when;
  if (s.at_start) when.push_back("at the start");
  if (s.every_n_steps > 0) when.push_back(fmt::format("every {} steps", s.every_n_steps));
  if (s.every_n_epochs > 0)
    when.push_back(s.every_n_epochs == 1 ? "every epoch" : fmt::format("every {} epochs", s.every_n_epochs));
  return fmt::format("{} prompt line{} {}, {} {} steps, CFG {:g}, {}x{}", s.prompts.size(),
                     s.prompts.size() == 1 ? "" : "s", fmt::join(when, " and "), to_string(s.sampler), s.steps, s.cfg,
                     s.width.value_or(t.width), s.height.value_or(t.height));
}

int run_profile_check(const Args& args) {
  const std::string& file = args.positional(0);
  ProfileCheck check = check_train_profile(load_profile(file), args.values("set"));
  // "auto" precision is decided by this machine's device; an explicit choice it cannot run
  // (bf16 on a card without bf16) fails here, not after a run has loaded the model.
  MachinePrecision precision;
  if (check.config) {
    precision = precision_on_this_machine(*check.config);
    if (!precision.error.empty()) check.errors.push_back(fmt::format("{}: {}", file, precision.error));
    if (!precision.warning.empty()) check.warnings.push_back(precision.warning);
  }
  if (!check.ok()) {
    for (const std::string& e : check.errors) std::cout << "error: " << terminal_safe(e) << "\n";
    std::cout << fmt::format("{}: {} error{}\n", file, check.errors.size(),
                             check.errors.size() == 1 ? "" : "s");
    return kExitInputErrors;
  }
  const TrainConfig& c = *check.config;
  std::vector<std::string> missing = missing_files(c);
  bool strict = args.has("require-files");
  std::cout << fmt::format("{}: {}\n", file, strict && !missing.empty() ? "errors" : "ok");
  const std::pair<const char*, std::string> lines[] = {
      {"model", model_line(c.model, precision.dtype_text)},
      {"dataset", dataset_line(c)},
      {"network", network_line(c.network)},
      {"optimizer", optimizer_line(c.optimizer, c.textual_inversion())},
      {"schedule", schedule_line(c.schedule)},
      {"training", training_line(c.training, precision.mixed_text)},
      {"validation", validation_line(c.validation)},
      {"saving", saving_line(c)},
  };
  for (const auto& [label, text] : lines) std::cout << fmt::format("  {:<11}{}\n", label, text);
  if (!c.embeddings.empty()) std::cout << fmt::format("  {:<11}{}\n", "embeddings", terminal_safe(embeddings_line(c)));
  if (c.sample.enabled()) std::cout << fmt::format("  {:<11}{}\n", "samples", terminal_safe(sample_line(c.sample, c.training)));
  for (const std::string& w : check.warnings) std::cout << "warning: " << terminal_safe(w) << "\n";
  for (const std::string& m : missing) std::cout << (strict ? "error: " : "warning: ") << m << "\n";
  std::cout.flush();
  return strict && !missing.empty() ? kExitInputErrors : kExitOk;
}

CommandSpec profile_check_command() {
  CommandSpec spec;
  spec.name = "profile check";
  spec.summary = "Validate a training profile: ok and a summary, or every error";
  spec.usage = "FILE [--set section.key=value ...] [--require-files]";
  spec.details =
      "Reads the profile, applies the --set overrides, and checks every key: types, ranges,\n"
      "unknown sections and keys (with a did-you-mean), and combinations that cannot work.\n"
      "Each error names file:line and the key. model.dtype and training.mixed_precision\n"
      "\"auto\" are shown as this machine's device resolves them; an explicit choice the\n"
      "device cannot run (bf16 on a GPU without bf16) is an error. Paths that do not exist\n"
      "(model, tokenizer, VAE, dataset, concepts) are warnings with a hint, since presets hold\n"
      "placeholders; --require-files makes them errors. Exit code: 0 ok (warnings allowed),\n"
      "1 errors, 2 usage.";
  spec.options = {
      {"set", "KEY=VALUE", "override a key, e.g. --set network.rank=16", true},
      {"require-files", "", "treat paths that do not exist as errors"},
  };
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_profile_check;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(profile_check_command)

}  // namespace lathe::cli
