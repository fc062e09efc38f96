// AdamW (Loshchilov & Hutter), with the exact operation order of torch.optim.AdamW's
// single-tensor path in torch 1.13 (and torch::optim::AdamW): decay the weights first, then
// update the moments, then step by lr / (1 - beta1^t) along m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
#include <torch/torch.h>

#include <cmath>

#include "train/optim/optimizer_kinds.h"

namespace lathe {

namespace {

class AdamW final : public Optimizer {
 public:
  AdamW(const OptimizerConfig& config, std::vector<ParamGroup> groups)
      : Optimizer(config, std::move(groups)) {}

 private:
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }

  void update() override {
    const double beta1 = config_.beta1, beta2 = config_.beta2;
    const double wd = config_.weight_decay, eps = config_.eps;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const double lr = groups_[g].lr;
      for (size_t i = 0; i < groups_[g].params.size(); ++i) {
        auto& p = groups_[g].params[i];
        const auto& grad = p.grad();
        if (!grad.defined()) continue;
        auto& st = state(g, i);
        if (st.tensors.empty()) {
          st.tensors["exp_avg"] = torch::zeros_like(p, torch::MemoryFormat::Preserve);
          st.tensors["exp_avg_sq"] = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        }
        auto& m = st.tensors["exp_avg"];
        auto& v = st.tensors["exp_avg_sq"];
        st.step += 1;
        if (wd != 0.0) p.mul_(1.0 - lr * wd);
        m.mul_(beta1).add_(grad, 1.0 - beta1);
        v.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
        const double t = static_cast<double>(st.step);
        const double bias1 = 1.0 - std::pow(beta1, t);
        const double bias2 = 1.0 - std::pow(beta2, t);
        auto denom = (v.sqrt() / std::sqrt(bias2)).add_(eps);
        p.addcdiv_(m, denom, -lr / bias1);
      }
    }
  }
};

}  // namespace

std::unique_ptr<Optimizer> make_adamw(const OptimizerConfig& config,
                                      std::vector<ParamGroup> groups) {
  return std::make_unique<AdamW>(config, std::move(groups));
}

}  // namespace lathe
