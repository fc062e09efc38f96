// Building a Stage C prior from its weights: the configuration read from the file (see
// stage_c_weights.h), the module built from it, and every parameter filled strictly (each
// parameter stored, each stored tensor used, shapes equal), converting from the stored dtype
// (bf16 files as shipped) to the one asked for, one tensor at a time.
#pragma once

#include <torch/types.h>

#include <filesystem>

#include "models/stage_c.h"
#include "models/stage_c_weights.h"

namespace lathe {

// Fills `model`'s parameters from `weights`; throws lathe::Error naming the file and the
// missing / unexpected key, or the tensor (and its stored key) whose shape differs.
void load_stage_c_weights(StageCImpl& model, const StageCWeights& weights, torch::Dtype dtype);

// open_stage_c + a module of weights.config + load_stage_c_weights. The module is in eval mode.
StageC load_stage_c(const std::filesystem::path& path, torch::Dtype dtype, const StageCOpenOptions& options = {});

}  // namespace lathe
