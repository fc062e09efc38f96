// A standalone VAE file ([model] vae, e.g. sd-vae-ft-mse or sdxl-vae-fp16-fix) loaded over the
// checkpoint's VAE, or in place of a VAE the checkpoint does not carry. Such files come with LDM
// names (sometimes under `first_stage_model.`) or diffusers names; both are mapped to the
// canonical LDM names through the VAE key table, and the configuration is read from the shapes.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/key_maps.h"
#include "models/tensor_io.h"
#include "train/model/base_model.h"

namespace lathe {
namespace {

// Canonical LDM name -> stored name, for every tensor of the file that has one (position ids
// and other extras have none; a module's missing tensors are reported when loading).
std::map<std::string, std::string> canonical_vae_names(const SafetensorsFile& file) {
  const std::vector<std::string> names = file.names();
  const bool diffusers = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return n.find("down_blocks.") != std::string::npos;
  });
  std::optional<NameTable> table;
  if (diffusers) table = vae_name_table(vae_levels_from_diffusers(names));
  std::map<std::string, std::string> out;
  for (const std::string& name : names) {
    std::string key = name;
    if (key.rfind("first_stage_model.", 0) == 0) key = key.substr(18);
    if (table) {
      auto ldm = table->a_to_b(key);
      if (!ldm) continue;
      key = *ldm;
    }
    out.emplace(key, name);
  }
  return out;
}

}  // namespace

VAEConfig vae_file_config(const std::filesystem::path& path, double scaling_factor) {
  SafetensorsFile file(path);
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& [canonical, stored] : canonical_vae_names(file)) {
    auto shape = file.info(stored).shape;
    if (vae_is_conv_attention_weight(canonical) && shape.size() == 2) shape.insert(shape.end(), {1, 1});
    shapes[canonical] = shape;
  }
  return detect_vae_config(shapes, scaling_factor, "model.vae " + path.string());
}

void load_vae_file(VAE& vae, const std::filesystem::path& path) {
  SafetensorsFile file(path);
  auto params = vae->named_parameters();
  std::set<std::string> filled;
  torch::NoGradGuard no_grad;
  for (const auto& [key, name] : canonical_vae_names(file)) {
    torch::Tensor* param = params.find(key);
    if (!param) continue;
    torch::Tensor value = tensor_from_view(file.view(name), torch::kFloat32);
    if (value.numel() != param->numel())
      throw Error(fmt::format("model.vae {}: tensor {} has shape {}, expected {}", path.string(), name,
                              fmt::join(value.sizes(), "x"), fmt::join(param->sizes(), "x")));
    param->copy_(value.reshape(param->sizes()));
    filled.insert(key);
  }
  std::vector<std::string> missing;
  for (const auto& item : params)
    if (!filled.count(item.key())) missing.push_back(item.key());
  if (!missing.empty())
    throw Error(fmt::format("model.vae {}: not a VAE file this model can use; missing {} ({} tensors)",
                            path.string(), list_some(missing), missing.size()));
}

}  // namespace lathe
