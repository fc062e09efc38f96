// SGD with optional momentum, dampening and Nesterov momentum, as torch.optim.SGD: the weight
// decay is coupled (an L2 term added to the gradient), the momentum buffer starts as the first
// gradient, and Nesterov steps along g + momentum * buffer.
#include <torch/torch.h>

#include "train/optim/optimizer_kinds.h"

namespace lathe {

namespace {

class SGD final : public Optimizer {
 public:
  SGD(const OptimizerConfig& config, std::vector<ParamGroup> groups)
      : Optimizer(config, std::move(groups)) {}

 private:
  std::vector<std::string> state_names() const override {
    if (config_.momentum == 0.0) return {};
    return {"momentum_buffer"};
  }

  void update() override {
    const double momentum = config_.momentum, dampening = config_.dampening;
    const double wd = config_.weight_decay;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const double lr = groups_[g].lr;
      for (size_t i = 0; i < groups_[g].params.size(); ++i) {
        auto& p = groups_[g].params[i];
        if (!p.grad().defined()) continue;
        auto d_p = p.grad();
        if (wd != 0.0) d_p = d_p.add(p, wd);
        if (momentum != 0.0) {
          auto& st = state(g, i);
          st.step += 1;
          auto it = st.tensors.find("momentum_buffer");
          if (it == st.tensors.end()) {
            it = st.tensors.emplace("momentum_buffer", d_p.detach().clone()).first;
          } else {
            it->second.mul_(momentum).add_(d_p, 1.0 - dampening);
          }
          d_p = config_.nesterov ? d_p.add(it->second, momentum) : it->second;
        }
        p.add_(d_p, -lr);
      }
    }
  }
};

}  // namespace

std::unique_ptr<Optimizer> make_sgd(const OptimizerConfig& config, std::vector<ParamGroup> groups) {
  return std::make_unique<SGD>(config, std::move(groups));
}

}  // namespace lathe
