// Prodigy (Mishchenko & Defazio 2023): Adam whose step size d is estimated on the fly from how
// far the weights moved along the gradients, d_hat = d_coef * sum_t <g_t, x0 - x_t> (weighted)
// / ||s||_1. Ported operation for operation from konstmish/prodigy 1.1.2 Prodigy.step (with
// slice_p = 1 and no FSDP). Two deliberate differences, neither of which changes a run that the
// reference accepts:
//  - the per-parameter dot products and |s| sums are read back to the host once per step
//    (stacked, then summed in double in parameter order, exactly like the reference's running
//    float sums of .item() values) instead of once per parameter, which saves a device sync
//    per tensor on CUDA;
//  - a group whose lr is 0 is left alone; the reference still applies its decoupled weight
//    decay with the global d * lr.
// Like the reference, every group with a non-zero lr must use the same lr (the lr multiplies
// d; different rates per group are refused with a message).
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "train/optim/optimizer_kinds.h"

namespace lathe {

namespace {

class Prodigy final : public Optimizer {
 public:
  Prodigy(const OptimizerConfig& config, std::vector<ParamGroup> groups)
      : Optimizer(config, std::move(groups)),
        d_(config.d0),
        d_max_(config.d0) {}

  std::map<std::string, double> diagnostics() const override {
    return {{"d", d_}, {"d_hat", d_hat_}, {"effective_lr", last_dlr_}};
  }

 private:
  std::vector<std::string> state_names() const override {
    if (config_.beta1 > 0.0) return {"exp_avg", "exp_avg_sq", "p0", "s"};
    return {"exp_avg_sq", "p0", "s"};
  }

  double max_lr() const {
    double lr = 0.0;
    for (const auto& g : groups_) lr = std::max(lr, g.lr);
    for (const auto& g : groups_) {
      if (g.lr != lr && g.lr != 0.0) {
        throw Error(fmt::format(
            "optimizer: Prodigy needs one learning rate for every trained group, but group "
            "\"{}\" has {} and another has {}; its lr multiplies the estimated step size, so "
            "set the same value (1.0 is usual) or 0 to freeze a group",
            g.name, g.lr, lr));
      }
    }
    return lr;
  }

  void init_state(ParamState& st, const torch::Tensor& p) const {
    st.tensors["s"] = torch::zeros({p.numel()}, p.options());
    // An all-zero parameter (a LoRA up-projection at init) keeps a 0-dim zero as its start.
    st.tensors["p0"] = p.any().item<bool>() ? p.detach().flatten().clone()
                                            : torch::zeros({}, p.options());
    if (config_.beta1 > 0.0) st.tensors["exp_avg"] = torch::zeros_like(p);
    st.tensors["exp_avg_sq"] = torch::zeros_like(p);
  }

  void update() override {
    const double beta1 = config_.beta1, beta2 = config_.beta2;
    const double beta3 = config_.beta3.value_or(std::sqrt(beta2));
    const double d0 = config_.d0, decay = config_.weight_decay, eps = config_.eps;
    const double lr = max_lr();
    const double bias_correction =
        config_.use_bias_correction
            ? std::sqrt(1.0 - std::pow(beta2, k_ + 1)) / (1.0 - std::pow(beta1, k_ + 1))
            : 1.0;
    const double d = d_;
    const double dlr = d * lr * bias_correction;
    const double numerator_kept = d_numerator_ * beta3;

    // Pass 1: moments, s, and the device-side pieces of the d estimate.
    std::vector<torch::Tensor> grads(all_params().size());
    std::vector<torch::Tensor> dots, s_sums;
    size_t flat = 0;
    for (size_t g = 0; g < groups_.size(); ++g) {
      for (size_t i = 0; i < groups_[g].params.size(); ++i, ++flat) {
        auto& p = groups_[g].params[i];
        if (!p.grad().defined()) continue;
        auto grad = p.grad();
        if (decay != 0.0 && !config_.decouple) grad = grad.add(p, decay);
        grads[flat] = grad;
        auto& st = state(g, i);
        if (st.tensors.empty()) init_state(st, p);
        if (groups_[g].lr <= 0.0) continue;
        auto flat_grad = grad.flatten();
        dots.push_back(torch::dot(flat_grad, st.tensors["p0"] - p.flatten()));
        if (beta1 > 0.0) st.tensors["exp_avg"].mul_(beta1).add_(grad, d * (1.0 - beta1));
        st.tensors["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, d * d * (1.0 - beta2));
        const double s_scale = config_.safeguard_warmup ? (d / d0) * d : (d / d0) * dlr;
        auto& s = st.tensors["s"];
        s.mul_(beta3).add_(flat_grad, s_scale);
        s_sums.push_back(s.abs().sum());
      }
    }

    // One host read for the whole step; sums in double in parameter order, as the reference.
    double delta_numerator = 0.0, d_denom = 0.0;
    if (!dots.empty()) {
      auto host_dots = torch::stack(dots).to(torch::kCPU, torch::kFloat64);
      auto host_sums = torch::stack(s_sums).to(torch::kCPU, torch::kFloat64);
      auto* dp = host_dots.data_ptr<double>();
      auto* sp = host_sums.data_ptr<double>();
      for (int64_t j = 0; j < host_dots.numel(); ++j) {
        delta_numerator += (d / d0) * dlr * dp[j];
        d_denom += sp[j];
      }
    }
    // No progress possible (no gradient, or every lr 0): the reference returns here, leaving
    // d, k and the step counts alone.
    if (d_denom == 0.0) return;

    double new_d = d;
    const double numerator = numerator_kept + delta_numerator;
    d_hat_ = config_.d_coef * numerator / d_denom;
    if (d == d0) new_d = std::max(d, d_hat_);
    d_max_ = std::max(d_max_, d_hat_);
    new_d = std::min(d_max_, new_d * config_.growth_rate);
    d_numerator_ = numerator;
    d_denom_ = d_denom;
    d_ = new_d;
    last_dlr_ = dlr;

    // Pass 2: the Adam step with the old d * lr and the new d in the denominator.
    flat = 0;
    for (size_t g = 0; g < groups_.size(); ++g) {
      for (size_t i = 0; i < groups_[g].params.size(); ++i, ++flat) {
        auto& p = groups_[g].params[i];
        if (!grads[flat].defined() || groups_[g].lr <= 0.0) continue;
        auto& st = state(g, i);
        st.step += 1;
        auto denom = st.tensors["exp_avg_sq"].sqrt().add_(new_d * eps);
        if (decay != 0.0 && config_.decouple) p.add_(p, -decay * dlr);
        if (beta1 > 0.0) {
          p.addcdiv_(st.tensors["exp_avg"], denom, -dlr);
        } else {
          p.addcdiv_(grads[flat], denom, -dlr * new_d);
        }
      }
    }
    k_ += 1;
  }

  void save_globals(std::map<std::string, double>& s) const override {
    s["prodigy.d"] = d_;
    s["prodigy.d_max"] = d_max_;
    s["prodigy.d0"] = config_.d0;
    s["prodigy.d_numerator"] = d_numerator_;
    s["prodigy.d_denom"] = d_denom_;
    s["prodigy.d_hat"] = d_hat_;
    s["prodigy.k"] = static_cast<double>(k_);
    s["prodigy.effective_lr"] = last_dlr_;
  }

  void load_globals(const std::map<std::string, double>& s) override {
    auto get = [&](const char* key) {
      auto it = s.find(key);
      if (it == s.end()) {
        throw Error(fmt::format("optimizer state: scalar \"{}\" is missing", key));
      }
      return it->second;
    };
    if (get("prodigy.d0") != config_.d0) {
      throw Error(fmt::format("optimizer state: saved with optimizer.d0 = {}, this run has {}",
                              get("prodigy.d0"), config_.d0));
    }
    d_ = get("prodigy.d");
    d_max_ = get("prodigy.d_max");
    d_numerator_ = get("prodigy.d_numerator");
    d_denom_ = get("prodigy.d_denom");
    d_hat_ = get("prodigy.d_hat");
    k_ = static_cast<int64_t>(get("prodigy.k"));
    last_dlr_ = get("prodigy.effective_lr");
  }

  double d_;
  double d_max_;
  double d_numerator_ = 0.0;
  double d_denom_ = 0.0;
  double d_hat_ = 0.0;
  double last_dlr_ = 0.0;
  int64_t k_ = 0;
};

}  // namespace

std::unique_ptr<Optimizer> make_prodigy(const OptimizerConfig& config,
                                        std::vector<ParamGroup> groups) {
  return std::make_unique<Prodigy>(config, std::move(groups));
}

}  // namespace lathe
