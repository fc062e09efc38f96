// Constructors of the concrete optimizers, one per file (adamw.cpp, lion.cpp, sgd.cpp,
// prodigy.cpp). Internal to src/train: everyone else calls make_optimizer().
#pragma once

#include <memory>
#include <vector>

#include "train/optim/optimizers.h"

namespace lathe {

std::unique_ptr<Optimizer> make_adamw(const OptimizerConfig& config, std::vector<ParamGroup> groups);
std::unique_ptr<Optimizer> make_lion(const OptimizerConfig& config, std::vector<ParamGroup> groups);
std::unique_ptr<Optimizer> make_sgd(const OptimizerConfig& config, std::vector<ParamGroup> groups);
std::unique_ptr<Optimizer> make_prodigy(const OptimizerConfig& config,
                                        std::vector<ParamGroup> groups);

}  // namespace lathe
