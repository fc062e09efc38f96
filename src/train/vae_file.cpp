// A standalone VAE file ([model] vae, e.g. sd-vae-ft-mse or sdxl-vae-fp16-fix) loaded over the
// checkpoint's VAE. Such files come with LDM names (sometimes under `first_stage_model.`) or
// diffusers names; both are mapped to the canonical LDM names through the VAE key table.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/key_maps.h"
#include "models/tensor_io.h"
#include "train/base_model.h"

namespace lathe {

void load_vae_file(VAE& vae, const std::filesystem::path& path) {
  SafetensorsFile file(path);
  const std::vector<std::string> names = file.names();
  const bool diffusers = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return n.find("down_blocks.") != std::string::npos;
  });
  std::optional<NameTable> table;
  if (diffusers) table = vae_name_table(vae_levels_from_diffusers(names));

  auto params = vae->named_parameters();
  std::set<std::string> filled;
  torch::NoGradGuard no_grad;
  for (const std::string& name : names) {
    std::string key = name;
    if (key.rfind("first_stage_model.", 0) == 0) key = key.substr(18);
    if (table) {
      auto ldm = table->a_to_b(key);
      if (!ldm) continue;  // e.g. position ids; unknown keys are reported as missing below
      key = *ldm;
    }
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
