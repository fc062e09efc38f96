// `lathe model inspect PATH`: what a base checkpoint is (family, layout, components with their
// tensor and parameter counts and stored dtypes, prediction type, tokenizer), read from the
// safetensors headers only, so it answers in milliseconds even for a 7 GB SDXL file.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "models/checkpoint.h"
#include "models/stage_c_weights.h"
#include "text/vocab_locator.h"

namespace lathe::cli {
namespace {

struct ComponentSummary {
  std::size_t tensors = 0;        // stored tensors
  std::uint64_t parameters = 0;   // values across them
  std::uint64_t bytes = 0;
  std::map<std::string, std::size_t> dtypes;  // stored dtype -> tensor count
  std::string file;
};

ComponentSummary summarize(const Checkpoint& ck, const ComponentSource& s) {
  component_tensors(ck, s.component);  // fails here, not at training time, on unmappable keys
  ComponentSummary out;
  out.file = s.file->path().string();
  for (const auto& key : s.keys) {
    const TensorInfo& t = s.file->info(key);
    ++out.tensors;
    out.parameters += t.numel();
    out.bytes += t.end - t.begin;
    ++out.dtypes[dtype_name(t.dtype)];
  }
  return out;
}

std::string dtype_list(const std::map<std::string, std::size_t>& dtypes) {
  std::string out;
  for (const auto& [name, n] : dtypes)
    out += (out.empty() ? "" : ", ") + (dtypes.size() == 1 ? name : fmt::format("{} ({})", name, n));
  return out;
}

std::string millions(std::uint64_t n) { return fmt::format("{:.1f} M", n / 1e6); }

std::vector<Component> expected_components(ModelFamily f) {
  if (f == ModelFamily::SDXL)
    return {Component::UNet, Component::TextEncoder, Component::TextEncoder2, Component::VAE};
  return {Component::UNet, Component::TextEncoder, Component::VAE};
}

std::string tokenizer_text(const Checkpoint& ck) {
  if (!ck.tokenizers.empty()) {
    std::string out;
    for (const auto& t : ck.tokenizers) out += (out.empty() ? "" : ", ") + t.filename().string() + "/";
    return "found: " + out;
  }
  const auto vocab = text::find_clip_vocab(std::nullopt);
  const std::string used = vocab ? fmt::format("training uses {} ({})", vocab->path.string(), vocab->source)
                                 : text::clip_vocab_missing_message();
  return ck.layout == CheckpointLayout::SingleFile
             ? "none (single files carry no tokenizer); " + used
             : "not found (no tokenizer/vocab.json + merges.txt); " + used;
}

int print_json(const Checkpoint& ck, const std::map<Component, ComponentSummary>& found) {
  nlohmann::ordered_json j;
  j["path"] = ck.path.string();
  j["layout"] = layout_name(ck.layout);
  j["family"] = family_id(ck.family);
  j["family_name"] = family_name(ck.family);
  j["family_evidence"] = ck.family_evidence;
  j["prediction_type"] = prediction_name(ck.prediction);
  j["prediction_source"] = ck.prediction_source;
  j["tokenizers"] = nlohmann::json::array();
  for (const auto& t : ck.tokenizers) j["tokenizers"].push_back(t.string());
  j["components"] = nlohmann::ordered_json::object();
  for (Component c : expected_components(ck.family)) {
    auto it = found.find(c);
    if (it == found.end()) {
      j["components"][component_name(c)] = nullptr;
      continue;
    }
    const auto& s = it->second;
    j["components"][component_name(c)] = {{"file", s.file},         {"tensors", s.tensors},
                                          {"parameters", s.parameters}, {"bytes", s.bytes},
                                          {"dtypes", s.dtypes}};
  }
  j["ema_tensors"] = ck.ema_tensors;
  j["ignored_tensors"] = ck.ignored_keys;
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int print_text(const Checkpoint& ck, const std::map<Component, ComponentSummary>& found) {
  // Key names, metadata and paths come from the file: shown with control bytes escaped.
  std::cout << fmt::format("{}\n", terminal_safe(ck.path.string()));
  std::cout << fmt::format("  layout      {}\n", ck.layout == CheckpointLayout::SingleFile
                                                     ? "single-file (original LDM keys)"
                                                     : "diffusers folder");
  std::cout << fmt::format("  family      {}  [{}]\n", family_name(ck.family), terminal_safe(ck.family_evidence));
  std::cout << fmt::format("  prediction  {}  [{}]\n", prediction_name(ck.prediction), terminal_safe(ck.prediction_source));
  std::cout << fmt::format("  tokenizer   {}\n", terminal_safe(tokenizer_text(ck)));
  std::cout << "  components\n";
  std::uint64_t total = 0;
  for (Component c : expected_components(ck.family)) {
    auto it = found.find(c);
    if (it == found.end()) {
      std::cout << fmt::format("    {:<15} missing\n", component_name(c));
      continue;
    }
    const auto& s = it->second;
    total += s.parameters;
    std::cout << fmt::format("    {:<15} {:>5} tensors  {:>9} params  {:>8.1f} MiB  {}\n", component_name(c),
                             s.tensors, millions(s.parameters), s.bytes / 1048576.0, dtype_list(s.dtypes));
  }
  std::cout << fmt::format("    {:<15} {:>5}          {:>9} params\n", "total", "", millions(total));
  if (ck.ema_tensors > 0)
    std::cout << fmt::format("  ema         {} UNet tensors (model_ema.*; model.use_ema = true trains on them)\n",
                             ck.ema_tensors);
  if (!ck.ignored_keys.empty())
    std::cout << fmt::format("  ignored     {} tensor{} no network uses ({})\n", ck.ignored_keys.size(),
                             ck.ignored_keys.size() == 1 ? "" : "s", terminal_safe(list_some(ck.ignored_keys, 3)));
  return kExitOk;
}

std::string int_list(const std::vector<std::int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

// A Stable Cascade Stage C prior: its variant, layout and the configuration read from it.
int inspect_stage_c(const std::filesystem::path& prior, bool json) {
  const StageCWeights w = open_stage_c(prior);
  const StageCConfig& c = w.config;
  std::vector<std::int64_t> up_order(c.up_layers.rbegin(), c.up_layers.rend());  // up_blocks order
  std::size_t stored = 0;
  for (const auto& [name, n] : w.stored_dtypes()) stored += n;
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = w.path.string();
    j["model"] = stage_c_variant_name(c);
    j["layout"] = stage_c_layout_name(w.layout);
    j["files"] = nlohmann::json::array();
    for (const auto& f : w.files) j["files"].push_back(f->path().string());
    j["widths"] = c.widths;
    j["heads"] = c.heads;
    j["heads_source"] = w.heads_source;
    j["down_layers"] = c.down_layers;
    j["up_layers"] = up_order;
    j["conditioning_dim"] = c.conditioning_dim;
    j["clip_text_in_channels"] = c.clip_text_in_channels;
    j["clip_text_pooled_in_channels"] = c.clip_text_pooled_in_channels;
    j["clip_image_in_channels"] = c.clip_image_in_channels;
    j["clip_seq"] = c.clip_seq;
    j["parameters"] = w.parameters();
    j["tensors"] = stored;
    j["bytes"] = w.stored_bytes();
    j["dtypes"] = w.stored_dtypes();
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{}\n", terminal_safe(w.path.string()));
  std::cout << fmt::format("  model       {}\n", stage_c_variant_name(c));
  std::cout << fmt::format("  layout      {} ({} file{})\n", stage_c_layout_name(w.layout), w.files.size(),
                           w.files.size() == 1 ? "" : "s");
  std::cout << fmt::format("  width       {}, heads {} ({})\n", int_list(c.widths), int_list(c.heads),
                           terminal_safe(w.heads_source));
  std::cout << fmt::format("  levels      {}: layers down {} / up {}\n", c.levels(), int_list(c.down_layers),
                           int_list(up_order));
  std::cout << fmt::format("  condition   {} wide; CLIP inputs text {}, pooled {} and image {} ({} tokens each)\n",
                           c.conditioning_dim, c.clip_text_in_channels, c.clip_text_pooled_in_channels,
                           c.clip_image_in_channels, c.clip_seq);
  std::cout << fmt::format("  parameters  {} ({}) in {} tensors, {:.1f} MiB, {}\n", millions(w.parameters()),
                           w.parameters(), stored, w.stored_bytes() / 1048576.0, dtype_list(w.stored_dtypes()));
  return kExitOk;
}

int run_model_inspect(const Args& args) {
  // Stage C first: its keys (down_blocks.*, clip_txt_mapper) are no SD layout's.
  if (auto prior = find_stage_c_prior(args.positional(0))) return inspect_stage_c(*prior, args.has("json"));
  CheckpointOptions options;
  if (auto p = args.value("prediction")) {
    PredictionType t;
    if (!parse_prediction_type(*p, &t))
      throw UsageError(fmt::format("lathe model inspect: --prediction must be epsilon or v, got '{}'", *p));
    options.prediction = t;
  }
  Checkpoint ck = open_checkpoint(args.positional(0), options);
  std::map<Component, ComponentSummary> found;
  for (const auto& s : ck.components) found[s.component] = summarize(ck, s);
  return args.has("json") ? print_json(ck, found) : print_text(ck, found);
}

CommandSpec model_inspect_spec() {
  CommandSpec s;
  s.name = "model inspect";
  s.summary = "what a base checkpoint is: family, layout, components, dtypes";
  s.usage = "PATH [--json] [--prediction epsilon|v]";
  s.details =
      "PATH is a single-file .safetensors checkpoint (original LDM keys: SD 1.x, SD 2.x, SDXL\n"
      "base) or a diffusers folder (unet/, text_encoder/, text_encoder_2/, vae/, tokenizer/,\n"
      "scheduler/; .fp16.safetensors variants are read too). Only headers are read.\n"
      "Prints the family and the evidence for it, the prediction type and where it comes from,\n"
      "whether a tokenizer is present, and per component the tensor and parameter counts, size\n"
      "and stored dtypes. Pickled .ckpt/.pt/.bin files are refused with how to convert them.\n"
      "The prediction type of SD 2.x single files cannot be read from the weights (768-v and\n"
      "512-base have the same shapes): it defaults to v_prediction; state it with --prediction.\n"
      "A Stable Cascade Stage C prior (stage_c*.safetensors, or a diffusers prior/ folder or the\n"
      "pipeline folder holding it) is named with its variant, widths, heads and layers.";
  s.options = {
      {"json", "", "print one JSON object instead of the report"},
      {"prediction", "TYPE", "state the prediction type (epsilon or v) instead of detecting it"},
  };
  s.min_positionals = 1;
  s.max_positionals = 1;
  s.run = run_model_inspect;
  return s;
}

}  // namespace

LATHE_REGISTER_COMMAND(model_inspect_spec)

}  // namespace lathe::cli
