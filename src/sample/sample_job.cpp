// `lathe sample`'s work (see sample_job.h): requests from prompts and seeds, the model with its
// LoRAs, then one PNG (and caption) per request.
#include "sample/sample_job.h"

#include <fmt/format.h>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <regex>

#include "common/error.h"
#include "io/atomic_file.h"
#include "lora/lora_network.h"
#include "sample/sample_embeddings.h"
#include "sample/png_parameters.h"
#include "train/config/train_config.h"
#include "train/model/base_model.h"
#include "train/model/compute_device.h"
#include "train/model/precision.h"

namespace lathe {

int64_t native_image_side(const BaseModel& model) {
  if (model.family == ModelFamily::SDXL) return 1024;
  if (model.family == ModelFamily::SD2 && model.prediction == Prediction::VPrediction) return 768;
  return 512;
}

// The compute dtype `name` names on `device` ("auto": bf16 where the device runs it, else fp16
// on CUDA; see precision.h).
WeightDType sample_compute_dtype(const std::string& name, const torch::Device& device) {
  std::optional<WeightDType> chosen;
  if (name == "fp32") chosen = WeightDType::FP32;
  else if (name == "bf16") chosen = WeightDType::BF16;
  else if (name == "fp16") chosen = WeightDType::FP16;
  else if (name != "auto") throw Error(fmt::format("--dtype {}: use auto, fp32, bf16 or fp16", name));
  return resolve_precision(chosen, MixedPrecision::No, device, describe_device(device)).weights;
}

BaseModel load_sample_model(const SampleJob& job, const torch::Device& device, WeightDType dtype) {
  ModelConfig config;
  config.path = job.model;
  if (!config.is_tiny_random()) {
    std::error_code ec;
    if (!std::filesystem::exists(job.model, ec))
      throw Error(fmt::format("model {}: no such file or folder (give a .safetensors checkpoint, a diffusers "
                              "folder or tiny-random:sd15|sd2|sdxl)",
                              job.model));
    config.path = std::filesystem::absolute(job.model).string();
  }
  config.clip_skip = job.defaults.clip_skip;
  BaseModel model = load_base_model(config, device);
  // The UNet and text encoders compute in their weights' dtype; the VAE stays fp32 (the SDXL
  // VAE overflows in fp16, and decoding is a small share of the time).
  if (dtype != WeightDType::FP32) {
    store_base_weights(*model.unet, dtype);
    for (auto& te : model.text_encoders) store_base_weights(*te, dtype);
  }
  return model;
}

namespace {

std::string hash_note(const std::string& hash) { return hash.empty() ? "" : fmt::format(" [{}]", hash); }

}  // namespace

LoRAChoice parse_lora_choice(const std::string& text) {
  LoRAChoice choice{text, 1.0};
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return choice;
  const std::string tail = text.substr(colon + 1);
  std::size_t used = 0;
  double scale = 0;
  try {
    scale = std::stod(tail, &used);
  } catch (const std::exception&) {
    return choice;  // not a number: the ':' is part of the path
  }
  if (used != tail.size()) return choice;
  if (!std::isfinite(scale))
    throw Error(fmt::format("--lora {}: the scale after ':' must be a finite number (e.g. my_lora.safetensors:0.8)", text));
  return {text.substr(0, colon), scale};
}

std::pair<int64_t, int64_t> parse_image_size(const std::string& text) {
  static const std::regex form(R"((\d{1,5})[xX](\d{1,5}))");
  std::smatch m;
  if (!std::regex_match(text, m, form))
    throw Error(fmt::format("--size {}: write WIDTHxHEIGHT, e.g. 512x768", text));
  return {std::stoll(m[1]), std::stoll(m[2])};
}

bool is_concept_folder(const std::filesystem::path& dir) {
  std::filesystem::path p = dir;
  if (p.filename().empty()) p = p.parent_path();
  static const std::regex concept_name(R"(\d+_.+)");
  return std::regex_match(p.filename().string(), concept_name);
}

std::vector<ImageRequest> expand_requests(const SampleJob& job, int64_t side) {
  if (job.prompts.empty()) throw Error("no prompt: give --prompt TEXT or --prompts FILE");
  if (job.count < 1) throw Error(fmt::format("--count {}: must be 1 or more", job.count));
  std::vector<ImageRequest> out;
  for (const auto& p : job.prompts) {
    ImageRequest r = job.defaults;
    r.prompt = p.prompt;
    if (p.negative) r.negative = *p.negative;
    r.width = p.width.value_or(r.width > 0 ? r.width : side);
    r.height = p.height.value_or(r.height > 0 ? r.height : side);
    if (p.steps) r.steps = *p.steps;
    if (p.cfg) r.cfg = *p.cfg;
    if (p.sampler) r.sampler = *p.sampler;
    const std::uint64_t seed = p.seed.value_or(job.defaults.seed);
    for (int64_t i = 0; i < job.count; ++i) {
      r.seed = seed + static_cast<std::uint64_t>(i);
      out.push_back(r);
    }
  }
  return out;
}

int64_t next_image_index(const std::filesystem::path& dir) {
  static const std::regex name(R"((\d+)-\d+\.png)");
  int64_t next = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::smatch m;
    const std::string file = it->path().filename().string();
    if (std::regex_match(file, m, name) && m[1].length() < 18) next = std::max<int64_t>(next, std::stoll(m[1]) + 1);
  }
  return next;
}

std::filesystem::path image_path(const std::filesystem::path& dir, int64_t index, std::uint64_t seed) {
  return dir / fmt::format("{:05}-{}.png", index, seed);
}

std::vector<std::filesystem::path> run_sample_job(const SampleJob& job, const SampleCallbacks& callbacks) {
  auto note = [&](const std::string& text) {
    if (callbacks.on_note) callbacks.on_note(text);
  };
  if (job.prompts.empty()) throw Error("no prompt: give --prompt TEXT or --prompts FILE");
  if (job.count < 1) throw Error(fmt::format("--count {}: must be 1 or more", job.count));
  for (const auto& l : job.loras) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(l.path, ec))
      throw Error(fmt::format("--lora {}: no such file", l.path.string()));
  }
  const torch::Device device = resolve_device(job.device);
  const WeightDType dtype = sample_compute_dtype(job.dtype, device);
  BaseModel model = load_sample_model(job, device, dtype);
  const std::vector<ImageRequest> requests = expand_requests(job, native_image_side(model));
  install_sample_embeddings(model, job.embeddings, job.loras, note);

  // Every LoRA through the network training uses; several stack on one module (module_adapter.h).
  std::vector<LoRANetwork> networks;
  std::vector<LoRAIdentity> loras;
  for (const auto& l : job.loras) {
    networks.emplace_back(model.unet, model.text_encoders, model.family, l.path, l.scale);
    networks.back()->eval();
    loras.push_back(lora_identity(l.path, l.scale));
    note(fmt::format("LoRA {} at {:g}{}", l.path.string(), l.scale, hash_note(loras.back().hash)));
  }
  const ModelIdentity identity = model_identity(job.model);
  note(fmt::format("model {} ({}, {} on {}){}", job.model, family_name(model.family), weight_dtype_name(dtype),
                   device.str(), hash_note(identity.hash)));

  std::error_code ec;
  std::filesystem::create_directories(job.out_dir, ec);
  if (ec) throw Error(fmt::format("--out {}: cannot create the folder: {}", job.out_dir.string(), ec.message()));
  RenderOptions options;
  options.device = device;
  options.dtype = torch_dtype_of(dtype);
  options.tiled_decode = job.tiled_decode;

  SampleProgress progress;
  progress.images = static_cast<int64_t>(requests.size());
  for (const auto& r : requests) progress.total_steps += r.steps;
  std::vector<std::filesystem::path> written;
  int64_t index = next_image_index(job.out_dir);
  for (const auto& request : requests) {
    const auto started = std::chrono::steady_clock::now();
    options.on_step = [&](int64_t step, int64_t steps, const torch::Tensor&) {
      progress.step = step + 1;
      progress.steps = steps;
      ++progress.done_steps;
      return !callbacks.on_step || callbacks.on_step(progress);
    };
    torch::Tensor image = decode_image(model, render_latents(model, request, options), options);
    std::filesystem::path path = image_path(job.out_dir, index, request.seed);
    while (std::filesystem::exists(path, ec)) path = image_path(job.out_dir, ++index, request.seed);
    ++index;
    // The caption first: a crash between the two leaves a caption without its image (ignored
    // by training), never an image that would train without its caption.
    if (job.captions) {
      std::filesystem::path caption = path;
      write_file_atomic(caption.replace_extension(".txt"), request.prompt);
    }
    write_parameters_png(path, image, a1111_parameters(request, identity, loras));
    written.push_back(path);
    if (callbacks.on_image)
      callbacks.on_image(path, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    ++progress.image;
  }
  return written;
}

}  // namespace lathe
