// Loading the base model of a run from [model]: a real checkpoint through open_checkpoint and
// load_component (configs from the diffusers config.json files or from the weights' shapes),
// with its tokenizer from model.tokenizer, the diffusers folder or text/vocab_locator.h; or a
// tiny random model. Everything ends in fp32, frozen and in eval mode on the run's device;
// storing the base weights in fp16/bf16 is the precision layer's job (precision.h).
#include "train/model/base_model.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "common/error.h"
#include "models/checkpoint.h"
#include "models/tensor_io.h"
#include "text/vocab_locator.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot be read", path.string()));
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

UNetConfig unet_config_of(const Checkpoint& ckpt) {
  const ComponentSource* src = ckpt.find(Component::UNet);
  if (src && !src->config.empty()) return unet_config_from_diffusers(read_json(src->config), src->config.string());
  return detect_unet_config(component_shapes(ckpt, Component::UNet), ckpt.path.string());
}

CLIPTextConfig clip_config_of(const Checkpoint& ckpt, Component c,
                              const std::map<std::string, TensorRef>& tensors) {
  const ComponentSource* src = ckpt.find(c);
  if (src && !src->config.empty()) return clip_text_config_from_hf(read_json(src->config), src->config.string());
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& [name, ref] : tensors) shapes[name] = ref.shape;
  // OpenAI's CLIP (SD 1.x, SDXL encoder 1) uses QuickGELU; OpenCLIP towers exact GELU.
  const bool quick_gelu = !src || src->naming != KeyNaming::OpenCLIP;
  return detect_clip_text_config(shapes, quick_gelu,
                                 fmt::format("{} ({})", ckpt.path.string(), component_name(c)));
}

// SD 2.x conditions on the penultimate layer of its OpenCLIP tower (LDM's FrozenOpenCLIPEmbedder
// layer = "penultimate"), so the last layer never runs. A single file stores the whole tower
// (24 layers in the released models); diffusers folders and kohya's loader drop the last layer
// (23). Lathe drops it too, so both layouts give the same module, the same output and the same
// LoRA module names. Returns the note for the run log, or "".
std::string drop_unused_last_layer(const Checkpoint& ckpt, CLIPTextConfig& config,
                                   std::map<std::string, TensorRef>& tensors) {
  const ComponentSource* src = ckpt.find(Component::TextEncoder);
  if (ckpt.family != ModelFamily::SD2 || !src || src->naming != KeyNaming::OpenCLIP || config.layers < 2) return "";
  config.layers -= 1;
  const std::string last = fmt::format("text_model.encoder.layers.{}.", config.layers);
  for (auto it = tensors.begin(); it != tensors.end();)
    it = it->first.compare(0, last.size(), last) == 0 ? tensors.erase(it) : std::next(it);
  return fmt::format("text encoder: OpenCLIP tower of {} layers; its last layer is not loaded, as SD 2.x "
                     "conditions on the penultimate one",
                     config.layers + 1);
}

VAEConfig vae_config_of(const Checkpoint& ckpt, const ModelConfig& config) {
  const double scaling = ckpt.family == ModelFamily::SDXL ? VAEConfig::sdxl().scaling_factor
                                                          : VAEConfig::sd().scaling_factor;
  if (config.vae) return vae_file_config(*config.vae, scaling);
  const ComponentSource* src = ckpt.find(Component::VAE);
  if (!src)
    throw Error(fmt::format("{}: the checkpoint carries no VAE (first_stage_model.*); set model.vae to a VAE "
                            "file (e.g. sd-vae-ft-mse for SD 1.x / 2.x, sdxl-vae for SDXL)",
                            ckpt.path.string()));
  if (!src->config.empty()) return vae_config_from_diffusers(read_json(src->config), src->config.string());
  return detect_vae_config(component_shapes(ckpt, Component::VAE), scaling,
                           fmt::format("{} (vae)", ckpt.path.string()));
}

// The tokenizer a real checkpoint uses: model.tokenizer, else the diffusers folder's own,
// else $LATHE_CLIP_VOCAB, else the vocabulary installed with Lathe. Never the word-hash stand-in.
std::filesystem::path tokenizer_path(const ModelConfig& config, const Checkpoint& ckpt) {
  if (config.tokenizer) return *config.tokenizer;
  if (!ckpt.tokenizers.empty()) return ckpt.tokenizers.front();
  if (auto located = text::locate_clip_vocab(std::nullopt)) return *located;
  throw Error(fmt::format(
      "model.path {}: the checkpoint carries no tokenizer; set model.tokenizer to a CLIP "
      "tokenizer folder (vocab.json + merges.txt), a diffusers model folder or OpenAI's "
      "bpe_simple_vocab_16e6.txt.gz (or set LATHE_CLIP_VOCAB); Lathe's own copy (share/lathe/clip "
      "beside the lathe binary) is missing: rebuild or reinstall Lathe",
      ckpt.path.string()));
}

BaseModel load_checkpoint_model(const ModelConfig& config, bool gradient_checkpointing) {
  CheckpointOptions options;
  if (config.prediction)
    options.prediction = *config.prediction == Prediction::VPrediction ? PredictionType::VPrediction
                                                                       : PredictionType::Epsilon;
  options.use_ema = config.use_ema;
  const std::filesystem::path path(config.path);
  Checkpoint ckpt = open_checkpoint(path, options);
  if (config.family && *config.family != ckpt.family)
    throw Error(fmt::format("model.family says {} but {} is {} ({})", family_name(*config.family),
                            path.string(), family_name(ckpt.family), ckpt.family_evidence));
  BaseModel m;
  m.family = ckpt.family;
  m.prediction = ckpt.prediction == PredictionType::VPrediction ? Prediction::VPrediction : Prediction::Epsilon;
  m.name = path.filename().string();
  m.tokenizer = make_clip_caption_tokenizer(tokenizer_path(config, ckpt), ckpt.family);
  std::string dropped_note;
  try {
    UNetConfig unet_config = unet_config_of(ckpt);
    unet_config.gradient_checkpointing = gradient_checkpointing;
    m.unet = UNet(unet_config);
    load_component(*m.unet, ckpt, Component::UNet, torch::kFloat32);
    std::vector<Component> encoders{Component::TextEncoder};
    if (ckpt.family == ModelFamily::SDXL) encoders.push_back(Component::TextEncoder2);
    for (Component c : encoders) {
      auto tensors = component_tensors(ckpt, c);
      CLIPTextConfig te_config = clip_config_of(ckpt, c, tensors);
      if (c == Component::TextEncoder)
        if (auto note = drop_unused_last_layer(ckpt, te_config, tensors); !note.empty()) dropped_note = note;
      m.text_encoders.emplace_back(te_config);
      load_tensors_into(*m.text_encoders.back(), ckpt, c, tensors, torch::kFloat32);
    }
    m.vae = VAE(vae_config_of(ckpt, config));
    if (config.vae) {
      load_vae_file(m.vae, *config.vae);
    } else {
      load_component(*m.vae, ckpt, Component::VAE, torch::kFloat32);
    }
  } catch (const Error&) {
    rethrow_with_context(fmt::format("loading {}", path.string()));
  }
  const std::filesystem::path vae_source = config.vae ? *config.vae : path;
  std::error_code ec;
  m.vae_identity = fmt::format("{}:{}:{}", std::filesystem::absolute(vae_source).string(),
                               std::filesystem::file_size(vae_source, ec),
                               ec ? 0 : std::filesystem::last_write_time(vae_source, ec).time_since_epoch().count());
  m.notes.push_back(fmt::format("base model: {} ({}, {} layout, {} prediction from {}); tokenizer: {}",
                                path.string(), family_name(ckpt.family), layout_name(ckpt.layout),
                                to_string(m.prediction), ckpt.prediction_source,
                                m.tokenizer->description()));
  if (ckpt.use_ema)
    m.notes.push_back(fmt::format("UNet: the file's EMA weights (model.use_ema; {} model_ema.* tensors)",
                                  ckpt.ema_tensors));
  if (!dropped_note.empty()) m.notes.push_back(dropped_note);
  if (config.vae) m.notes.push_back(fmt::format("VAE: {}", config.vae->string()));
  return m;
}

void freeze(torch::nn::Module& module, torch::Device device) {
  module.to(device);
  module.eval();
  for (auto& p : module.parameters()) p.set_requires_grad(false);
}

}  // namespace

BaseModel load_base_model(const ModelConfig& config, torch::Device device,
                          bool gradient_checkpointing) {
  BaseModel m = config.is_tiny_random()
                    ? build_tiny_random_model(config.tiny_random_family().value_or(ModelFamily::SD1),
                                              config.tokenizer, gradient_checkpointing)
                    : load_checkpoint_model(config, gradient_checkpointing);
  if (config.is_tiny_random() && config.prediction) m.prediction = *config.prediction;
  freeze(*m.unet, device);
  for (auto& te : m.text_encoders) freeze(*te, device);
  freeze(*m.vae, device);
  return m;
}

}  // namespace lathe
