// Checkpoint detection and component key mapping (see checkpoint.h). Detection is by key
// structure, never by widths alone, so tiny test models of each family are detected exactly
// like the released ones.
#include "models/checkpoint.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/pickle_file.h"
#include "models/key_maps.h"
#include "models/stage_c_config.h"

namespace lathe {
namespace fs = std::filesystem;
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

struct PrefixRule {
  const char* prefix;
  Component component;
  KeyNaming naming;
};

constexpr PrefixRule kSingleFileRules[] = {
    {"model.diffusion_model.", Component::UNet, KeyNaming::LDM},
    {"first_stage_model.", Component::VAE, KeyNaming::LDM},
    {"cond_stage_model.transformer.", Component::TextEncoder, KeyNaming::HFClip},
    {"cond_stage_model.model.", Component::TextEncoder, KeyNaming::OpenCLIP},
    {"conditioner.embedders.0.transformer.", Component::TextEncoder, KeyNaming::HFClip},
    {"conditioner.embedders.1.model.", Component::TextEncoder2, KeyNaming::OpenCLIP},
};

// The EMA copies of the UNet weights in a non-pruned single file (see ldm_ema_key); beside
// them LitEma stores `model_ema.decay` and `model_ema.num_updates`.
constexpr const char* kEmaUNetPrefix = "model_ema.diffusion_model";

// Tensors single files carry that no network uses: the DDPM schedule buffers and EMA copy of
// the LDM training wrapper, HF's position_ids buffer, OpenCLIP's logit_scale, marker keys.
bool is_ignorable_key(const std::string& k) {
  static const std::set<std::string> kExact = {
      "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
      "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
      "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
      "posterior_mean_coef1", "posterior_mean_coef2", "logvar", "lvlb_weights", "v_pred", "ztsnr"};
  if (kExact.count(k) || starts_with(k, "model_ema.") || ends_with(k, "embeddings.position_ids"))
    return true;
  for (const char* p : {"cond_stage_model.model.", "conditioner.embedders.1.model."})
    if (starts_with(k, p) && openclip_key_is_unused(k.substr(std::string(p).size()))) return true;
  return false;
}

[[noreturn]] void refuse_pickle(const fs::path& path) {
  throw Error(fmt::format(
      "{} is a PyTorch pickle checkpoint. Lathe reads only .safetensors, because loading a pickle "
      "can run arbitrary code. Convert it once on a machine with PyTorch, e.g.\n"
      "  python -c \"import torch, safetensors.torch as st; sd = torch.load('{}', map_location='cpu', "
      "weights_only=True); sd = sd.get('state_dict', sd); st.save_file({{k: v.detach().clone().contiguous() "
      "for k, v in sd.items() if isinstance(v, torch.Tensor)}}, 'model.safetensors')\"\n"
      "or with diffusers' scripts/convert_original_stable_diffusion_to_diffusers.py --to_safetensors "
      "(or kohya-ss sd-scripts' tools/convert_diffusers20_original_sd.py), then give Lathe the "
      ".safetensors file or folder.",
      path.string(), path.filename().string()));
}

// Names what a set of keys is when it is not an SD base checkpoint, or "".
std::string other_model_kind(const std::vector<std::string>& keys) {
  auto any = [&](auto pred) { return std::any_of(keys.begin(), keys.end(), pred); };
  if (any([](const std::string& k) {
        return starts_with(k, "lora_") || k.find(".lora_down.") != std::string::npos ||
               k.find(".lora_A.") != std::string::npos || k.find(".hada_w1") != std::string::npos;
      }))
    return "a LoRA file, not a base model (see `lathe lora inspect`)";
  if (any([](const std::string& k) { return starts_with(k, "conditioner.embedders.0.model."); }))
    return "an SDXL refiner (only SDXL base models are supported)";
  if (any([](const std::string& k) { return k.find("joint_blocks.") != std::string::npos; }))
    return "a Stable Diffusion 3 model (not supported)";
  if (any([](const std::string& k) { return k.find("double_blocks.") != std::string::npos; }))
    return "a Flux model (not supported)";
  if (any([](const std::string& k) { return starts_with(k, "encoder.down."); }))
    return "a standalone VAE, not a full model";
  if (looks_like_stage_c(keys)) return "a Stable Cascade Stage C prior, not an SD checkpoint";
  if (any([](const std::string& k) { return starts_with(k, "down_blocks."); }))
    return "a diffusers component file (give the folder that holds unet/, vae/ and text_encoder/)";
  if (any([](const std::string& k) { return starts_with(k, "text_model."); }))
    return "a standalone text encoder, not a full model";
  return "";
}

std::optional<nlohmann::json> read_json_if_present(const fs::path& p) {
  if (!fs::exists(p)) return std::nullopt;
  try {
    return nlohmann::json::parse(read_file(p, 16 << 20));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", p.string(), e.what()));
  }
}

ComponentSource& add_source(Checkpoint& ck, Component c, const SafetensorsFile* file,
                            const std::string& prefix, KeyNaming naming) {
  ck.components.push_back({c, file, prefix, naming, {}, {}});
  return ck.components.back();
}

void detect_single_file_family(Checkpoint& ck) {
  auto has = [&](Component c, KeyNaming n) {
    for (const auto& s : ck.components)
      if (s.component == c && s.naming == n) return true;
    return false;
  };
  const SafetensorsFile& f = *ck.files.front();
  if (ck.find(Component::TextEncoder2) || f.contains("model.diffusion_model.label_emb.0.0.weight")) {
    ck.family = ModelFamily::SDXL;
    ck.family_evidence = ck.find(Component::TextEncoder2)
                             ? "conditioner.embedders.1.model.* (OpenCLIP bigG text encoder)"
                             : "model.diffusion_model.label_emb.* (SDXL size conditioning)";
  } else if (has(Component::TextEncoder, KeyNaming::OpenCLIP)) {
    ck.family = ModelFamily::SD2;
    ck.family_evidence = "cond_stage_model.model.* (OpenCLIP ViT-H text encoder)";
  } else if (has(Component::TextEncoder, KeyNaming::HFClip)) {
    ck.family = ModelFamily::SD1;
    ck.family_evidence = "cond_stage_model.transformer.* (CLIP ViT-L text encoder)";
  } else {
    const std::string proj = "model.diffusion_model.middle_block.1.proj_in.weight";
    const bool linear = f.contains(proj) && f.info(proj).shape.size() == 2;
    ck.family = linear ? ModelFamily::SD2 : ModelFamily::SD1;
    ck.family_evidence = linear ? "UNet only; Linear proj_in (SD 2.x style)"
                                : "UNet only; 1x1-conv proj_in (SD 1.x style)";
  }
}

void open_single_file(Checkpoint& ck, const fs::path& path) {
  if (is_disguised_pickle(path)) refuse_pickle(path);
  ck.layout = CheckpointLayout::SingleFile;
  ck.files.push_back(std::make_unique<SafetensorsFile>(path));
  const SafetensorsFile& f = *ck.files.front();
  const std::vector<std::string> keys = f.names();
  std::vector<std::string> stray;
  std::map<const PrefixRule*, std::vector<std::string>> grouped;
  for (const auto& k : keys) {
    if (is_ignorable_key(k)) {
      ck.ignored_keys.push_back(k);
      if (starts_with(k, kEmaUNetPrefix)) ++ck.ema_tensors;
      continue;
    }
    const PrefixRule* rule = nullptr;
    for (const auto& r : kSingleFileRules)
      if (starts_with(k, r.prefix)) rule = &r;
    if (rule) grouped[rule].push_back(k);
    else stray.push_back(k);
  }
  if (!grouped.count(&kSingleFileRules[0])) {
    std::string kind = other_model_kind(keys);
    throw Error(fmt::format("{}: {}", path.string(),
                            kind.empty() ? "no UNet tensors (model.diffusion_model.*): not a Stable "
                                           "Diffusion checkpoint in the LDM layout"
                                         : "this is " + kind));
  }
  if (!stray.empty()) {
    std::string kind = other_model_kind(stray);
    throw Error(fmt::format("{}: {} tensors belong to no SD component ({}){}", path.string(), stray.size(),
                            list_some(stray), kind.empty() ? "" : "; they look like " + kind));
  }
  for (const auto& r : kSingleFileRules) {
    auto it = grouped.find(&r);
    if (it == grouped.end()) continue;
    add_source(ck, r.component, &f, r.prefix, r.naming).keys = it->second;
  }
  detect_single_file_family(ck);
  if (ck.family == ModelFamily::SD2) {
    // SD 2.x conditions on the penultimate layer without the projection; the ViT-H module
    // has no text_projection, so the stored one is carried but unused.
    for (auto& src : ck.components) {
      auto& k = src.keys;
      auto it = std::find(k.begin(), k.end(), "cond_stage_model.model.text_projection");
      if (it == k.end()) continue;
      ck.ignored_keys.push_back(*it);
      k.erase(it);
    }
  }
  if (f.contains("v_pred")) {
    ck.prediction = PredictionType::VPrediction;
    ck.prediction_source = "the file's v_pred marker tensor";
  }
}

// The weights file of a diffusers subfolder: full precision first, then the .fp16 variant.
std::optional<fs::path> component_file(const fs::path& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".safetensors", stem + ".fp16.safetensors"})
    if (fs::is_regular_file(dir / name)) return dir / name;
  if (fs::exists(dir / (stem + ".safetensors.index.json")) ||
      fs::exists(dir / (stem + ".fp16.safetensors.index.json")))
    throw Error(fmt::format("{}: sharded weights ({}-0000N-of-0000M.safetensors) are not supported; "
                            "merge the shards into one {}.safetensors", dir.string(), stem, stem));
  for (const std::string& name : {stem + ".bin", stem + ".fp16.bin"})
    if (fs::exists(dir / name)) refuse_pickle(dir / name);
  return std::nullopt;
}

void detect_diffusers_family(Checkpoint& ck, const fs::path& root) {
  const ComponentSource* unet = ck.find(Component::UNet);
  const bool add_embedding =
      std::any_of(unet->keys.begin(), unet->keys.end(),
                  [](const std::string& k) { return starts_with(k, "add_embedding."); });
  if (ck.find(Component::TextEncoder2) || add_embedding) {
    ck.family = ModelFamily::SDXL;
    ck.family_evidence = ck.find(Component::TextEncoder2) ? "text_encoder_2/ present"
                                                          : "unet add_embedding (SDXL size conditioning)";
    return;
  }
  if (auto te = read_json_if_present(root / "text_encoder" / "config.json");
      te && te->contains("hidden_act") && (*te)["hidden_act"].is_string()) {
    const std::string act = (*te)["hidden_act"];
    ck.family = act == "quick_gelu" ? ModelFamily::SD1 : ModelFamily::SD2;
    ck.family_evidence = fmt::format("text_encoder/config.json hidden_act \"{}\" ({})", act,
                                     act == "quick_gelu" ? "OpenAI CLIP ViT-L" : "OpenCLIP ViT-H");
    return;
  }
  auto uc = read_json_if_present(root / "unet" / "config.json");
  const bool linear = uc && uc->value("use_linear_projection", false);
  ck.family = linear ? ModelFamily::SD2 : ModelFamily::SD1;
  ck.family_evidence = linear ? "unet/config.json use_linear_projection (SD 2.x style)"
                              : "unet/config.json without linear projections (SD 1.x style)";
}

void open_diffusers(Checkpoint& ck, const fs::path& root) {
  ck.layout = CheckpointLayout::Diffusers;
  struct Sub {
    const char* dir;
    const char* stem;
    Component c;
    KeyNaming naming;
  };
  const Sub subs[] = {{"unet", "diffusion_pytorch_model", Component::UNet, KeyNaming::DiffusersUNet},
                      {"text_encoder", "model", Component::TextEncoder, KeyNaming::HFClip},
                      {"text_encoder_2", "model", Component::TextEncoder2, KeyNaming::HFClip},
                      {"vae", "diffusion_pytorch_model", Component::VAE, KeyNaming::DiffusersVAE}};
  for (const auto& s : subs) {
    const fs::path dir = root / s.dir;
    if (!fs::is_directory(dir)) continue;
    auto file = component_file(dir, s.stem);
    if (!file) {
      throw Error(fmt::format("{}: no {}.safetensors (or .fp16.safetensors) weights in {}/", root.string(),
                              s.stem, s.dir));
    }
    ck.files.push_back(std::make_unique<SafetensorsFile>(*file));
    const SafetensorsFile* f = ck.files.back().get();
    auto& src = add_source(ck, s.c, f, "", s.naming);
    src.config = dir / "config.json";
    for (const auto& k : f->names()) {
      if (ends_with(k, "embeddings.position_ids")) ck.ignored_keys.push_back(s.dir + ("/" + k));
      else src.keys.push_back(k);
    }
  }
  if (!ck.find(Component::UNet))
    throw Error(fmt::format("{}: not a diffusers model folder: no unet/ subfolder with weights "
                            "(expected unet/, vae/, text_encoder/ and model_index.json)", root.string()));
  for (const char* t : {"tokenizer", "tokenizer_2"})
    if (fs::exists(root / t / "vocab.json") && fs::exists(root / t / "merges.txt"))
      ck.tokenizers.push_back(root / t);
  detect_diffusers_family(ck, root);
  if (auto sched = read_json_if_present(root / "scheduler" / "scheduler_config.json")) {
    PredictionType p;
    if (sched->contains("prediction_type") && (*sched)["prediction_type"].is_string() &&
        parse_prediction_type((*sched)["prediction_type"].get<std::string>(), &p)) {
      ck.prediction = p;
      ck.prediction_source = "scheduler/scheduler_config.json";
    }
  }
}

std::string rel_key(const ComponentSource& s, const std::string& key) { return key.substr(s.prefix.size()); }

// model.use_ema: the file must hold an EMA copy; its keys then feed the UNet, not the ignored list.
void select_ema(Checkpoint& ck) {
  if (ck.layout != CheckpointLayout::SingleFile)
    throw Error(fmt::format("{}: model.use_ema is true, but only single-file checkpoints carry EMA weights "
                            "(model_ema.*); a diffusers folder's unet/ is already the model to train; set "
                            "model.use_ema = false",
                            ck.path.string()));
  if (ck.ema_tensors == 0)
    throw Error(fmt::format("{}: model.use_ema is true, but the file has no EMA weights (model_ema.*): it is a "
                            "pruned or EMA-only checkpoint; set model.use_ema = false to train on its weights",
                            ck.path.string()));
  ck.use_ema = true;
  auto& ignored = ck.ignored_keys;
  ignored.erase(std::remove_if(ignored.begin(), ignored.end(),
                               [](const std::string& k) { return starts_with(k, kEmaUNetPrefix); }),
                ignored.end());
}

// Points every UNet tensor at its EMA copy, which must exist with the same shape.
void use_ema_copies(const Checkpoint& ck, std::map<std::string, TensorRef>& unet) {
  const ComponentSource* s = ck.find(Component::UNet);
  std::vector<std::string> missing, misshapen;
  for (auto& [name, ref] : unet) {
    const std::string key = ldm_ema_key(name);
    if (!s->file->contains(key)) {
      missing.push_back(key);
      continue;
    }
    const TensorInfo& info = s->file->info(key);
    if (info.shape != ref.view.info->shape) {
      misshapen.push_back(fmt::format("{} [{}] for {}{} [{}]", key, fmt::join(info.shape, ", "), s->prefix, name,
                                      fmt::join(ref.view.info->shape, ", ")));
      continue;
    }
    ref.source_key = key;
    ref.view = s->file->view(key);
  }
  if (!missing.empty() || !misshapen.empty())
    throw Error(fmt::format("{}: model.use_ema: the EMA copy does not cover the UNet: {}{}; set model.use_ema = "
                            "false to train on the file's weights",
                            ck.path.string(),
                            missing.empty() ? "" : fmt::format("{} of {} EMA tensors missing ({})", missing.size(),
                                                               unet.size(), list_some(missing, 3)),
                            misshapen.empty() ? "" : fmt::format("{}{} of another shape ({})", missing.empty() ? "" : "; ",
                                                                 misshapen.size(), list_some(misshapen, 2))));
}

}  // namespace

const char* layout_name(CheckpointLayout l) {
  return l == CheckpointLayout::SingleFile ? "single-file" : "diffusers";
}

const char* component_name(Component c) {
  switch (c) {
    case Component::UNet: return "unet";
    case Component::TextEncoder: return "text_encoder";
    case Component::TextEncoder2: return "text_encoder_2";
    case Component::VAE: return "vae";
  }
  return "?";
}

const ComponentSource* Checkpoint::find(Component c) const {
  for (const auto& s : components)
    if (s.component == c) return &s;
  return nullptr;
}

std::string list_some(const std::vector<std::string>& items, std::size_t shown) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > shown) out += fmt::format(" and {} more", items.size() - shown);
  return out;
}

Checkpoint open_checkpoint(const fs::path& path, const CheckpointOptions& options) {
  Checkpoint ck;
  ck.path = path;
  if (!fs::exists(path)) throw Error(fmt::format("{}: no such file or folder", path.string()));
  if (has_pickle_extension(path)) refuse_pickle(path);
  if (fs::is_directory(path)) open_diffusers(ck, path);
  else open_single_file(ck, path);
  if (options.use_ema) select_ema(ck);
  if (options.prediction) {
    ck.prediction = *options.prediction;
    ck.prediction_source = "stated";
  } else if (ck.prediction_source.empty()) {
    ck.prediction = default_prediction(ck.family);
    ck.prediction_source = ck.family == ModelFamily::SD2
                               ? "SD 2.x default: the weights cannot tell 768-v from 512-base; "
                                 "state epsilon for 512-base models"
                               : fmt::format("{} default", family_name(ck.family));
  }
  return ck;
}

std::map<std::string, TensorRef> component_tensors(const Checkpoint& ck, Component c) {
  const ComponentSource* s = ck.find(c);
  if (!s)
    throw Error(fmt::format("{}: this {} checkpoint has no {} weights", ck.path.string(),
                            family_name(ck.family), component_name(c)));
  std::vector<std::string> rel;
  for (const auto& k : s->keys) rel.push_back(rel_key(*s, k));
  std::optional<NameTable> table;
  if (s->naming == KeyNaming::DiffusersUNet) table = unet_name_table(unet_topology_from_diffusers(rel));
  if (s->naming == KeyNaming::DiffusersVAE) table = vae_name_table(vae_levels_from_diffusers(rel));

  std::map<std::string, TensorRef> out;
  std::vector<std::string> unknown, twice;
  auto put = [&](const std::string& canonical, const std::string& key, int part, bool transpose) {
    TensorRef r{s->file, key, s->file->view(key), s->file->info(key).shape, part, transpose};
    if (part >= 0) {
      if (r.shape.empty() || r.shape[0] % 3 != 0)
        throw Error(fmt::format("{}: tensor {} should stack q, k and v along its first dimension, "
                                "but its shape does not divide by 3", s->file->path().string(), key));
      r.shape[0] /= 3;
    }
    if (transpose) {
      if (r.shape.size() != 2)
        throw Error(fmt::format("{}: tensor {} should be 2-D", s->file->path().string(), key));
      std::swap(r.shape[0], r.shape[1]);
    }
    if (c == Component::VAE && vae_is_conv_attention_weight(canonical) && r.shape.size() == 2) {
      r.shape.push_back(1);  // diffusers Linear [C, C] -> LDM 1x1 conv [C, C, 1, 1]
      r.shape.push_back(1);
    }
    if (!out.emplace(canonical, std::move(r)).second) twice.push_back(canonical);
  };
  for (std::size_t i = 0; i < rel.size(); ++i) {
    const std::string& key = s->keys[i];
    switch (s->naming) {
      case KeyNaming::LDM: put(rel[i], key, -1, false); break;
      case KeyNaming::HFClip: put(hf_clip_modern_name(rel[i]), key, -1, false); break;
      case KeyNaming::DiffusersUNet:
      case KeyNaming::DiffusersVAE: {
        auto name = table->a_to_b(rel[i]);
        if (name) put(*name, key, -1, false);
        else unknown.push_back(key);
        break;
      }
      case KeyNaming::OpenCLIP: {
        auto parts = openclip_to_hf(rel[i]);
        if (!parts) unknown.push_back(key);
        else
          for (const auto& p : *parts) put(p.key, key, p.qkv_part, p.transposed);
        break;
      }
    }
  }
  if (!unknown.empty() || !twice.empty())
    throw Error(fmt::format("{}: {} of this {} checkpoint: {}{}{}", ck.path.string(), component_name(c),
                            family_name(ck.family),
                            unknown.empty() ? "" : fmt::format("{} unexpected tensors ({})", unknown.size(), list_some(unknown)),
                            unknown.empty() || twice.empty() ? "" : "; ",
                            twice.empty() ? "" : fmt::format("{} names stored twice ({})", twice.size(), list_some(twice))));
  if (c == Component::UNet && ck.use_ema) use_ema_copies(ck, out);
  return out;
}

std::map<std::string, std::vector<std::int64_t>> component_shapes(const Checkpoint& ck, Component c) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const auto& [name, ref] : component_tensors(ck, c)) out[name] = ref.shape;
  return out;
}

void check_component_keys(const Checkpoint& ck, Component c, const std::map<std::string, TensorRef>& tensors,
                          const std::vector<std::string>& expected) {
  std::set<std::string> want(expected.begin(), expected.end());
  std::vector<std::string> missing, unexpected;
  for (const auto& k : want)
    if (!tensors.count(k)) missing.push_back(k);
  for (const auto& [k, ref] : tensors)
    if (!want.count(k)) unexpected.push_back(ref.source_key == k ? k : fmt::format("{} (stored as {})", k, ref.source_key));
  if (missing.empty() && unexpected.empty()) return;
  std::string parts;
  if (!missing.empty()) parts += fmt::format("{} missing ({})", missing.size(), list_some(missing));
  if (!unexpected.empty())
    parts += fmt::format("{}{} unexpected ({})", parts.empty() ? "" : "; ", unexpected.size(), list_some(unexpected));
  throw Error(fmt::format("{}: the {} weights do not fit the {} module: {}. The file is {} ({}); "
                          "is the module configured for another family or size?",
                          ck.path.string(), component_name(c), component_name(c), parts,
                          family_name(ck.family), ck.family_evidence));
}

}  // namespace lathe
