// The optimizer's parameter groups for a LoRA network's UNet modules: one group "unet" at the
// UNet lr, or, when the profile sets per-block lr weights (down_lr_weight, mid_lr_weight,
// up_lr_weight), one group per kohya block "unet_IN04" at lr x the block's weight (kohya's
// prepare_optimizer_params with block_lr). The LR schedule then scales every group's base lr,
// so each block keeps its ratio to the UNet lr all through the run.
#pragma once

#include <vector>

#include "train/optim/optimizers.h"

namespace lathe {

struct LoRANetworkImpl;

// Groups in block order; empty when the network adapts no UNet module. A block of weight 0 has
// no modules (lora_blocks.h), so it has no group.
std::vector<ParamGroup> unet_param_groups(const LoRANetworkImpl& network, double unet_lr);

}  // namespace lathe
