// `lathe lora merge` core (see lora_merge.h). Three passes, so a bad LoRA writes nothing: map
// every LoRA module to its base tensor and check the shapes; add the deltas into fp32 working
// copies of the touched base tensors (a fused OpenCLIP q/k/v tensor collects three modules);
// stream the base file out with those tensors replaced and every other byte copied.
#include "lora/lora_merge.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "common/error.h"
#include "io/safetensors.h"
#include "lora/file_module.h"
#include "lora/lora_file_info.h"
#include "lora/lora_network.h"
#include "lora/network_delta.h"
#include "models/checkpoint.h"
#include "models/key_maps.h"
#include "models/tensor_io.h"

namespace lathe {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// kohya module name -> the base tensor it adapts, for every 2-D / 4-D weight of the UNet and
// the text encoders (a superset of kohya's targets; only the LoRA's own names are looked up).
std::map<std::string, TensorRef> kohya_module_index(const Checkpoint& ck) {
  std::map<std::string, TensorRef> index;
  auto add_weights = [&](const std::map<std::string, TensorRef>& tensors, LoRAPart part, const NameTable* table) {
    for (const auto& [key, ref] : tensors) {
      if (!ends_with(key, ".weight") || (ref.shape.size() != 2 && ref.shape.size() != 4)) continue;
      std::string path = key;
      if (table) {
        auto diffusers = table->b_to_a(key);
        if (!diffusers) continue;
        path = *diffusers;
      }
      index[kohya_lora_name(part, path.substr(0, path.size() - 7))] = ref;  // drop ".weight"
    }
  };
  if (ck.find(Component::UNet)) {
    auto tensors = component_tensors(ck, Component::UNet);
    // kohya names SD 1.x / 2.x UNet modules by their diffusers paths, SDXL's by the LDM ones.
    std::unique_ptr<NameTable> table;
    if (ck.family != ModelFamily::SDXL) {
      std::vector<std::string> keys;
      for (const auto& kv : tensors) keys.push_back(kv.first);
      table = std::make_unique<NameTable>(unet_name_table(unet_topology_from_ldm(keys)));
    }
    add_weights(tensors, LoRAPart::UNet, table.get());
  }
  const bool xl = ck.family == ModelFamily::SDXL;
  if (ck.find(Component::TextEncoder))
    add_weights(component_tensors(ck, Component::TextEncoder), xl ? LoRAPart::TextEncoder1 : LoRAPart::TextEncoder,
                nullptr);
  if (ck.find(Component::TextEncoder2))
    add_weights(component_tensors(ck, Component::TextEncoder2), LoRAPart::TextEncoder2, nullptr);
  return index;
}

// One thing the LoRA file says about the model it was made for, and the families that fit it.
struct FamilyClue {
  std::string what;
  std::set<ModelFamily> fits;
};

// The LoRA's module prefixes, UNet naming and metadata, as clues to its family. SD 1.x and 2.x
// share every module name (they differ in widths and text-encoder depth), so names alone tell
// only SD 1.x / 2.x from SDXL; the metadata can tell all three.
std::vector<FamilyClue> lora_family_clues(const LoRAFileInfo& info) {
  const std::set<ModelFamily> sd12{ModelFamily::SD1, ModelFamily::SD2}, xl{ModelFamily::SDXL};
  std::vector<FamilyClue> clues;
  if (info.parts.count("te1") || info.parts.count("te2"))
    clues.push_back({"its lora_te1_/lora_te2_ modules are SDXL's two text encoders", xl});
  if (info.parts.count("te")) clues.push_back({"its lora_te_ modules are SD 1.x / 2.x's one text encoder", sd12});
  std::size_t ldm = 0, diffusers = 0;
  for (const auto& m : info.modules) {
    if (m.part != "unet") continue;
    for (const char* block : {"_input_blocks_", "_output_blocks_", "_middle_block_"})
      if (m.name.find(block) != std::string::npos) ++ldm;
    for (const char* block : {"_down_blocks_", "_up_blocks_", "_mid_block_"})
      if (m.name.find(block) != std::string::npos) ++diffusers;
  }
  if (ldm > diffusers) clues.push_back({"its UNet modules use LDM names (SDXL)", xl});
  if (diffusers > ldm) clues.push_back({"its UNet modules use diffusers names (SD 1.x / 2.x)", sd12});
  for (const char* key : {"ss_base_model_version", "modelspec.architecture"}) {
    auto it = info.metadata.find(key);
    if (it == info.metadata.end()) continue;
    const std::string& v = it->second;
    std::set<ModelFamily> fits;
    if (v.rfind("sdxl", 0) == 0 || v.rfind("stable-diffusion-xl", 0) == 0) fits = xl;
    else if (v.rfind("sd_v1", 0) == 0 || v.rfind("stable-diffusion-v1", 0) == 0) fits = {ModelFamily::SD1};
    else if (v.rfind("sd_v2", 0) == 0 || v.rfind("stable-diffusion-v2", 0) == 0) fits = {ModelFamily::SD2};
    if (!fits.empty()) clues.push_back({fmt::format("{} \"{}\"", key, v), fits});
  }
  return clues;
}

// Text-encoder depth per part ("te", "te1", "te2") in kohya names: highest layer index + 1.
std::map<std::string, int> encoder_depths(const std::vector<std::string>& names) {
  const std::string marker = "_text_model_encoder_layers_";
  std::map<std::string, int> depth;
  for (const auto& name : names) {
    const auto at = name.find(marker);
    if (at == std::string::npos) continue;
    const auto digits = name.find_first_not_of("0123456789", at + marker.size());
    if (digits == at + marker.size() || digits - (at + marker.size()) > 4) continue;
    const int layer = std::stoi(name.substr(at + marker.size(), digits - at - marker.size()));
    int& d = depth[lora_part_of(name)];
    d = std::max(d, layer + 1);
  }
  return depth;
}

// Why some modules found no tensor: another model only when the LoRA's own clues say so (its
// names, its metadata, or a text encoder deeper than the model's: an SD 2.x LoRA has 23 layers,
// SD 1.x 12).
std::string unmatched_reason(const LoRAFileInfo& info, ModelFamily base,
                             const std::map<std::string, TensorRef>& index) {
  std::string against;
  for (const auto& clue : lora_family_clues(info))
    if (!clue.fits.count(base)) against += (against.empty() ? "" : "; ") + clue.what;
  std::vector<std::string> lora_names, base_names;
  for (const auto& m : info.modules) lora_names.push_back(m.name);
  for (const auto& kv : index) base_names.push_back(kv.first);
  const auto base_depth = encoder_depths(base_names);
  for (const auto& [part, depth] : encoder_depths(lora_names)) {
    auto it = base_depth.find(part);
    if (it != base_depth.end() && depth > it->second)
      against += fmt::format("{}its lora_{}_ modules reach text-encoder layer {}, the model's encoder has {} layers",
                             against.empty() ? "" : "; ", part, depth - 1, it->second);
  }
  if (!against.empty()) return fmt::format("The LoRA was made for another model ({})", against);
  return fmt::format("Its names follow {}'s naming, so the file was likely edited, cut short or written by a tool "
                     "that names modules differently; check it with `lathe lora inspect --keys`",
                     family_name(base));
}

void require_single_file(const Checkpoint& ck, const fs::path& base) {
  if (ck.layout != CheckpointLayout::SingleFile || ck.files.size() != 1)
    throw Error(fmt::format("{}: merging into a diffusers folder is not supported; give a single-file "
                            ".safetensors checkpoint as BASE",
                            base.string()));
}

void require_distinct(const fs::path& base, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(base, out, ec))
    throw Error(fmt::format("--out {} is the base checkpoint itself; write the merged model to a new file",
                            out.string()));
}

}  // namespace

LoRAMergeReport merge_lora(const fs::path& base, const fs::path& lora, const fs::path& out, double scale) {
  require_distinct(base, out);
  auto ck = open_checkpoint(base);
  require_single_file(ck, base);
  const SafetensorsFile& base_file = *ck.files.front();
  SafetensorsFile lora_file(lora);
  auto info = read_lora_file_info(lora_file);
  if (!info.other_keys.empty())
    throw Error(fmt::format("{}: {} keys are not LoRA / LoCon / LoHa / LoKr / DoRA keys ({}); Tucker (CP) "
                            "decomposed modules and other LyCORIS types (GLoRA, OFT, IA3, full) cannot be merged",
                            lora.string(), info.other_keys.size(), list_some(info.other_keys)));

  // Pass 1: every module must have a base tensor of a fitting shape.
  const auto index = kohya_module_index(ck);
  std::vector<std::string> unmatched, misfits;
  std::map<std::string, std::shared_ptr<NetworkModuleImpl>> modules;
  for (const auto& m : info.modules) {
    auto it = index.find(m.name);
    if (it == index.end()) {
      unmatched.push_back(m.name);
      continue;
    }
    try {
      modules[m.name] = module_from_file_keys(m, it->second.shape);
    } catch (const Error& e) {
      misfits.push_back(e.what());
    }
  }
  if (!unmatched.empty()) {
    const std::size_t matched = info.modules.size() - unmatched.size();
    throw Error(fmt::format("{}: {} of {} LoRA modules have no tensor in {} ({}): {}; {} match. {}; nothing "
                            "was written",
                            lora.string(), unmatched.size(), info.modules.size(), base.string(),
                            family_name(ck.family), list_some(unmatched, 8),
                            matched == 0 ? std::string("none") : fmt::format("the other {}", matched),
                            unmatched_reason(info, ck.family, index)));
  }
  if (!misfits.empty())
    throw Error(fmt::format("{}: {} LoRA modules do not fit {} ({}), e.g. {}. The LoRA was trained on another "
                            "model size or family; nothing was written",
                            lora.string(), misfits.size(), base.string(), family_name(ck.family), misfits.front()));

  // Pass 2: fp32 working copies of the touched tensors (stored layout), deltas added in place.
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> changed;  // source key -> fp32, stored shape
  LoRAMergeReport report;
  report.family = family_name(ck.family);
  for (const auto& m : info.modules) {
    const TensorRef& ref = index.at(m.name);
    auto& work = changed[ref.source_key];
    if (!work.defined()) work = tensor_from_view(base_file.view(ref.source_key), torch::kFloat32);
    NetworkModuleImpl& module = *modules.at(m.name);
    load_module_tensors(module, m, lora_file);
    auto target = work;
    if (ref.qkv_part >= 0) {
      const auto rows = work.size(0) / 3;
      target = work.narrow(0, ref.qkv_part * rows, rows);
    }
    auto delta = module.delta_weight().reshape(ref.shape);  // alpha / rank included
    if (module.dora()) {
      // DoRA rescales base + delta per input channel; the base in the module's orientation.
      auto base_weight = ref.transpose ? target.reshape({-1, ref.shape[0]}).t().reshape(ref.shape)
                                       : target.reshape(ref.shape);
      delta = dora_delta(base_weight, delta, module.dora_scale);
    }
    delta.mul_(scale);  // ComfyUI / A1111 strength: base + strength * (adapted - base)
    if (ref.transpose) delta = delta.reshape({ref.shape[0], -1}).t();
    target.add_(delta.reshape(target.sizes()));
    report.modules++;
    report.parts[m.part]++;
  }

  // Pass 3: the base file with the changed tensors in their stored dtype, the rest as is.
  std::vector<torch::Tensor> keep_alive;
  std::vector<TensorToWrite> tensors;
  for (const auto& t : base_file.header().tensors) {
    TensorToWrite w{t.name, t.dtype, t.shape, {}};
    auto it = changed.find(t.name);
    if (it == changed.end()) {
      auto view = base_file.view(t.name);
      w.bytes = std::string_view(reinterpret_cast<const char*>(view.data), view.size);
      report.tensors_copied++;
    } else {
      if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F64)
        throw Error(fmt::format("{}: tensor {} is stored as {}; a LoRA can only be merged into float tensors",
                                base.string(), t.name, dtype_name(t.dtype)));
      keep_alive.push_back(it->second.to(torch_dtype_of(t.dtype)).contiguous());
      const auto& c = keep_alive.back();
      w.bytes = std::string_view(static_cast<const char*>(c.data_ptr()), c.nbytes());
      report.tensors_changed++;
    }
    tensors.push_back(std::move(w));
  }
  write_safetensors(out, tensors, base_file.metadata());
  return report;
}

}  // namespace lathe
