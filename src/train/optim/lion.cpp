// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as lucidrains'
// lion-pytorch: decoupled weight decay, a step of fixed size lr along
// sign(beta1 * m + (1 - beta1) * g), then m <- beta2 * m + (1 - beta2) * g. Its lr is usually
// 3-10x smaller than AdamW's, and its weight decay correspondingly larger.
#include <torch/torch.h>

#include "train/optim/optimizer_kinds.h"

namespace lathe {

namespace {

class Lion final : public Optimizer {
 public:
  Lion(const OptimizerConfig& config, std::vector<ParamGroup> groups)
      : Optimizer(config, std::move(groups)) {}

 private:
  std::vector<std::string> state_names() const override { return {"exp_avg"}; }

  void update() override {
    const double beta1 = config_.beta1, beta2 = config_.beta2, wd = config_.weight_decay;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const double lr = groups_[g].lr;
      for (size_t i = 0; i < groups_[g].params.size(); ++i) {
        auto& p = groups_[g].params[i];
        const auto& grad = p.grad();
        if (!grad.defined()) continue;
        auto& st = state(g, i);
        if (st.tensors.empty()) {
          st.tensors["exp_avg"] = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        }
        auto& m = st.tensors["exp_avg"];
        st.step += 1;
        if (wd != 0.0) p.mul_(1.0 - lr * wd);
        auto direction = (m * beta1).add_(grad, 1.0 - beta1).sign_();
        p.add_(direction, -lr);
        m.mul_(beta2).add_(grad, 1.0 - beta2);
      }
    }
  }
};

}  // namespace

std::unique_ptr<Optimizer> make_lion(const OptimizerConfig& config,
                                     std::vector<ParamGroup> groups) {
  return std::make_unique<Lion>(config, std::move(groups));
}

}  // namespace lathe
