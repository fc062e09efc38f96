// The optimizer base: parameter groups, per-parameter state, the flat state map used by
// checkpoints, config checks and the factory. The update rules live one per file.
#include "train/optim/optimizers.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "common/error.h"
#include "train/optim/optimizer_kinds.h"

namespace lathe {

OptimizerType optimizer_type_from_string(const std::string& text, const std::string& key) {
  if (text == "adamw") return OptimizerType::AdamW;
  if (text == "prodigy") return OptimizerType::Prodigy;
  if (text == "lion") return OptimizerType::Lion;
  if (text == "sgd") return OptimizerType::SGD;
  throw Error(fmt::format(
      "{}: unknown optimizer \"{}\"; use \"adamw\", \"prodigy\", \"lion\" or \"sgd\"", key, text));
}

std::string to_string(OptimizerType type) {
  switch (type) {
    case OptimizerType::AdamW: return "adamw";
    case OptimizerType::Prodigy: return "prodigy";
    case OptimizerType::Lion: return "lion";
    case OptimizerType::SGD: return "sgd";
  }
  return "adamw";
}

OptimizerConfig OptimizerConfig::defaults_for(OptimizerType type) {
  OptimizerConfig c;
  c.type = type;
  switch (type) {
    case OptimizerType::AdamW:
      break;
    case OptimizerType::Lion:
      c.beta2 = 0.99;
      c.weight_decay = 0.0;
      break;
    case OptimizerType::SGD:
      c.momentum = 0.9;
      c.weight_decay = 0.0;
      break;
    case OptimizerType::Prodigy:
      c.weight_decay = 0.0;
      break;
  }
  return c;
}

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

bool in_unit(double v) { return v >= 0.0 && v < 1.0; }

}  // namespace

void check_optimizer_config(const OptimizerConfig& c) {
  require(c.weight_decay >= 0.0 && std::isfinite(c.weight_decay),
          fmt::format("optimizer.weight_decay = {}: must be a finite number >= 0", c.weight_decay));
  require(in_unit(c.beta1), fmt::format("optimizer.betas[0] = {}: must be in [0, 1)", c.beta1));
  require(in_unit(c.beta2), fmt::format("optimizer.betas[1] = {}: must be in [0, 1)", c.beta2));
  require(c.eps > 0.0, fmt::format("optimizer.eps = {}: must be > 0", c.eps));
  require(in_unit(c.momentum),
          fmt::format("optimizer.momentum = {}: must be in [0, 1)", c.momentum));
  require(in_unit(c.dampening),
          fmt::format("optimizer.dampening = {}: must be in [0, 1)", c.dampening));
  require(!c.nesterov || (c.momentum > 0.0 && c.dampening == 0.0),
          "optimizer.nesterov needs optimizer.momentum > 0 and optimizer.dampening = 0");
  require(!c.beta3 || in_unit(*c.beta3),
          fmt::format("optimizer.beta3 = {}: must be in [0, 1)", c.beta3.value_or(0.0)));
  require(c.d0 > 0.0, fmt::format("optimizer.d0 = {}: must be > 0", c.d0));
  require(c.d_coef > 0.0, fmt::format("optimizer.d_coef = {}: must be > 0", c.d_coef));
  require(c.growth_rate >= 1.0,
          fmt::format("optimizer.growth_rate = {}: must be >= 1 (inf for no limit)",
                      c.growth_rate));
}

ParamGroup make_param_group(std::string name, std::vector<torch::Tensor> params, double lr) {
  return ParamGroup{std::move(name), std::move(params), lr, lr};
}

Optimizer::Optimizer(const OptimizerConfig& config, std::vector<ParamGroup> groups)
    : config_(config), groups_(std::move(groups)) {
  check_optimizer_config(config_);
  for (const auto& g : groups_) {
    require(g.lr >= 0.0 && std::isfinite(g.lr),
            fmt::format("optimizer: learning rate {} of group \"{}\" must be a finite number >= 0",
                        g.lr, g.name));
    state_.emplace_back(g.params.size());
  }
}

std::vector<torch::Tensor> Optimizer::all_params() const {
  std::vector<torch::Tensor> all;
  for (const auto& g : groups_) all.insert(all.end(), g.params.begin(), g.params.end());
  return all;
}

void Optimizer::step() {
  torch::NoGradGuard no_grad;
  update();
  ++steps_;
}

void Optimizer::zero_grad() {
  for (auto& g : groups_) {
    for (auto& p : g.params) p.mutable_grad() = torch::Tensor();
  }
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState out;
  out.type = to_string(config_.type);
  out.scalars["steps"] = static_cast<double>(steps_);
  out.scalars["num_groups"] = static_cast<double>(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    out.scalars[fmt::format("g{}.num_params", g)] = static_cast<double>(groups_[g].params.size());
    out.scalars[fmt::format("g{}.lr", g)] = groups_[g].lr;
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const auto& st = state_[g][i];
      if (st.tensors.empty()) continue;
      out.scalars[fmt::format("g{}.p{}.step", g, i)] = static_cast<double>(st.step);
      for (const auto& [name, t] : st.tensors) {
        out.tensors[fmt::format("g{}.p{}.{}", g, i, name)] = t.detach().clone();
      }
    }
  }
  save_globals(out.scalars);
  return out;
}

namespace {

double scalar_or_throw(const OptimizerState& s, const std::string& key) {
  auto it = s.scalars.find(key);
  if (it == s.scalars.end()) {
    throw Error(fmt::format("optimizer state: scalar \"{}\" is missing; the checkpoint is "
                            "incomplete or from another Lathe version",
                            key));
  }
  return it->second;
}

}  // namespace

void Optimizer::load_param_state(const OptimizerState& saved, size_t g, size_t i) {
  const auto& param = groups_[g].params[i];
  const std::string prefix = fmt::format("g{}.p{}.", g, i);
  ParamState fresh;
  for (auto it = saved.tensors.lower_bound(prefix);
       it != saved.tensors.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const auto& t = it->second;
    const std::string name = it->first.substr(prefix.size());
    // Prodigy's p0 is a 0-dim zero when the parameter started all zero (it saves memory so).
    const bool zero_start = name == "p0" && t.dim() == 0;
    if (t.numel() != param.numel() && !zero_start) {
      throw Error(fmt::format(
          "optimizer state: tensor \"{}\" has {} elements but parameter {} of group \"{}\" has "
          "{}; the checkpoint belongs to another network configuration",
          it->first, t.numel(), i, groups_[g].name, param.numel()));
    }
    fresh.tensors[name] =
        t.detach().to(param.device(), t.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
  }
  if (!fresh.tensors.empty()) {
    std::set<std::string> expected;
    for (const auto& n : state_names()) expected.insert(n);
    for (const auto& [name, t] : fresh.tensors) {
      if (!expected.count(name)) {
        throw Error(fmt::format("optimizer state: unknown tensor \"{}{}\" for {}", prefix, name,
                                to_string(config_.type)));
      }
    }
    for (const auto& name : expected) {
      if (!fresh.tensors.count(name)) {
        throw Error(fmt::format("optimizer state: tensor \"{}{}\" is missing", prefix, name));
      }
    }
    fresh.step = static_cast<int64_t>(scalar_or_throw(saved, prefix + "step"));
  }
  state_[g][i] = std::move(fresh);
}

void Optimizer::load_state_dict(const OptimizerState& saved) {
  if (saved.type != to_string(config_.type)) {
    throw Error(fmt::format("optimizer state: saved by \"{}\" but this run uses \"{}\"; resume "
                            "with the optimizer the run started with",
                            saved.type, to_string(config_.type)));
  }
  const auto groups = static_cast<size_t>(scalar_or_throw(saved, "num_groups"));
  if (groups != groups_.size()) {
    throw Error(fmt::format("optimizer state: {} parameter groups saved, {} in this run", groups,
                            groups_.size()));
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto n = static_cast<size_t>(scalar_or_throw(saved, fmt::format("g{}.num_params", g)));
    if (n != groups_[g].params.size()) {
      throw Error(fmt::format("optimizer state: group \"{}\" had {} parameters, now {}",
                              groups_[g].name, n, groups_[g].params.size()));
    }
  }
  for (const auto& [key, t] : saved.tensors) {
    size_t g = 0, i = 0;
    char dot = 0;
    if (std::sscanf(key.c_str(), "g%zu.p%zu%c", &g, &i, &dot) != 3 || dot != '.' ||
        g >= groups_.size() || i >= groups_[g].params.size()) {
      throw Error(fmt::format("optimizer state: tensor \"{}\" names no parameter of this run", key));
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) load_param_state(saved, g, i);
    groups_[g].lr = scalar_or_throw(saved, fmt::format("g{}.lr", g));
  }
  steps_ = static_cast<int64_t>(scalar_or_throw(saved, "steps"));
  load_globals(saved.scalars);
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          std::vector<ParamGroup> groups) {
  switch (config.type) {
    case OptimizerType::AdamW: return make_adamw(config, std::move(groups));
    case OptimizerType::Prodigy: return make_prodigy(config, std::move(groups));
    case OptimizerType::Lion: return make_lion(config, std::move(groups));
    case OptimizerType::SGD: return make_sgd(config, std::move(groups));
  }
  throw Error("optimizer: unknown type");
}

void apply_lr_schedule(Optimizer& optimizer, const LrSchedule& schedule, int64_t step) {
  for (auto& g : optimizer.groups()) g.lr = schedule.lr_at(step, g.base_lr);
}

}  // namespace lathe
