// Per-block delta norms of a LoRA file (see lora_block_norms.h).
#include "lora/lora_block_norms.h"

#include <torch/torch.h>

#include <cmath>
#include <set>

#include "io/safetensors.h"
#include "lora/file_module.h"
#include "lora/lora_blocks.h"
#include "lora/lora_file_info.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

// ||up @ down||_F without forming the [out, in] product: the trace identity
// ||U D||^2 = sum((U^T U) .* (D D^T)) needs two r x r Gram matrices.
double lora_delta_norm(const torch::Tensor& down, const torch::Tensor& up) {
  const auto d = down.to(torch::kFloat64).flatten(1), u = up.to(torch::kFloat64).flatten(1);
  const double sq = (u.t().matmul(u) * d.matmul(d.t())).sum().item<double>();
  return std::sqrt(std::max(0.0, sq));
}

// ||delta||_F of one module, alpha's scale included. LoRA / LoCon through the Gram matrices;
// LoHa and LoKr build their delta as the network and the loaders do (file_module.h). DoRA
// modules: the delta of the adapter under DoRA (its magnitude rescales base + delta, and there
// is no base here).
double module_delta_norm(const LoRAModuleInfo& m, const SafetensorsFile& file) {
  if (m.algo != "lora") return file_module_delta(m, file).to(torch::kFloat64).norm().item<double>();
  const auto down = tensor_from_view(file.view(m.name + ".lora_down.weight"), torch::kFloat32);
  const auto up = tensor_from_view(file.view(m.name + ".lora_up.weight"), torch::kFloat32);
  const double scale = m.alpha && *m.alpha > 0 ? *m.alpha / static_cast<double>(m.rank) : 1.0;
  return lora_delta_norm(down, up) * scale;
}

// Modules with LyCORIS's Tucker (CP) tensors (lora_mid, hada_t1 / hada_t2, lokr_t1 / lokr_t2),
// which Lathe does not compute: their other tensors alone would give a wrong delta.
std::set<std::string> tucker_modules(const LoRAFileInfo& info) {
  std::set<std::string> names;
  for (const auto& key : info.other_keys) {
    const auto dot = key.find('.');
    if (dot == std::string::npos) continue;
    const std::string suffix = key.substr(dot + 1);
    if (suffix == "lora_mid.weight" || suffix == "hada_t1" || suffix == "hada_t2" || suffix == "lokr_t1" ||
        suffix == "lokr_t2")
      names.insert(key.substr(0, dot));
  }
  return names;
}

}  // namespace

ModelFamily lora_block_family(const SafetensorsFile& file) {
  for (const auto& t : file.header().tensors)
    if (t.name.rfind("lora_unet_", 0) == 0 &&
        (t.name.find("input_blocks_") != std::string::npos || t.name.find("output_blocks_") != std::string::npos ||
         t.name.find("middle_block_") != std::string::npos))
      return ModelFamily::SDXL;
  auto meta = file.metadata();
  auto it = meta.find("ss_base_model_version");
  if (it != meta.end() && it->second.rfind("sdxl", 0) == 0) return ModelFamily::SDXL;
  return ModelFamily::SD1;
}

LoRABlockNorms lora_block_norms(const SafetensorsFile& file) {
  const LoRAFileInfo info = read_lora_file_info(file);
  LoRABlockNorms out;
  out.family = lora_block_family(file);
  for (std::size_t i = 0; i < unet_block_count(out.family); ++i) {
    BlockNorm b;
    b.index = static_cast<int>(i);
    b.label = unet_block_label(out.family, b.index);
    out.blocks.push_back(b);
  }
  torch::NoGradGuard no_grad;
  const std::set<std::string> tucker = tucker_modules(info);
  for (const auto& m : info.modules) {
    if (tucker.count(m.name)) {
      out.skipped_modules++;
      continue;
    }
    const double norm = module_delta_norm(m, file);
    if (m.part != "unet") {
      out.text_encoder_modules++;
      out.text_encoder_norm += norm;
      continue;
    }
    const int block = unet_block_index(m.name, out.family);
    if (block < 0) {
      out.unnumbered_modules++;
      out.unnumbered_norm += norm;
    } else {
      out.blocks[static_cast<std::size_t>(block)].modules++;
      out.blocks[static_cast<std::size_t>(block)].norm += norm;
    }
  }
  return out;
}

LoRABlockNorms lora_block_norms(const std::filesystem::path& path) {
  SafetensorsFile file(path);
  return lora_block_norms(file);
}

}  // namespace lathe
