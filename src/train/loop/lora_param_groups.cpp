// UNet parameter groups per block (see lora_param_groups.h).
#include "train/loop/lora_param_groups.h"

#include <fmt/format.h>

#include "lora/lora_blocks.h"
#include "lora/lora_network.h"

namespace lathe {

std::vector<ParamGroup> unet_param_groups(const LoRANetworkImpl& network, double unet_lr) {
  std::vector<ParamGroup> groups;
  const LoRABlockPlan& plan = network.block_plan();
  if (!plan.lr_weighted) {
    if (auto p = network.unet_parameters(); !p.empty()) groups.push_back(make_param_group("unet", p, unet_lr));
    return groups;
  }
  for (auto& [block, params] : network.unet_parameters_by_block()) {
    // Every UNet module kohya targets has a block; a weight of 0 removed the block's modules.
    const double weight = block >= 0 ? plan.lr_weights[block] : 1.0;
    groups.push_back(make_param_group(fmt::format("unet_{}", unet_block_label(network.family(), block)),
                                      std::move(params), unet_lr * weight));
  }
  return groups;
}

}  // namespace lathe
