// Listing Stage C's LoRA targets (see stage_c_lora_targets.h).
#include "models/stage_c_lora_targets.h"

#include <algorithm>

namespace lathe {

std::string StageCLoraTarget::lora_name() const {
  std::string out = "lora_prior_unet_" + name;
  std::replace(out.begin(), out.end(), '.', '_');
  return out;
}

std::vector<StageCLoraTarget> stage_c_lora_targets(StageCImpl& model) {
  std::vector<StageCLoraTarget> out;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    StageCLoraTarget t;
    t.name = item.key();
    t.module = item.value();
    if (auto* linear = item.value()->as<torch::nn::LinearImpl>()) {
      t.kind = StageCLoraTarget::Kind::Linear;
      t.in = linear->options.in_features();
      t.out = linear->options.out_features();
    } else if (auto* conv = item.value()->as<torch::nn::Conv2dImpl>()) {
      t.kind = StageCLoraTarget::Kind::Conv2d;
      t.in = conv->options.in_channels();
      t.out = conv->options.out_channels();
      t.kernel_h = conv->options.kernel_size()->at(0);
      t.kernel_w = conv->options.kernel_size()->at(1);
      t.groups = conv->options.groups();
    } else {
      continue;
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace lathe
