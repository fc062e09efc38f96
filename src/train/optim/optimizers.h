// Optimizers for LoRA training: AdamW, Prodigy, Lion and SGD (momentum, Nesterov), over
// named parameter groups with their own learning rates (UNet vs text encoder).
//
// They are Lathe's own classes rather than torch::optim because (1) Prodigy keeps global
// scalars (d, d_max, the running numerator) that torch::optim's per-parameter state cannot
// hold, (2) checkpoints need a plain, documented map of tensors and scalars (saved with
// safetensors, restored bit-exactly) instead of torch::serialize archives, and (3) a resume
// must reject state that does not fit the parameters, with a message naming the key.
// The update formulas are those of torch.optim.AdamW / SGD (torch.optim's single-tensor path, foreach=False),
// lucidrains' lion-pytorch and konstmish/prodigy 1.1.2 (Prodigy.step), operation for operation.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "train/optim/lr_schedule.h"

namespace lathe {

enum class OptimizerType { AdamW, Prodigy, Lion, SGD };

// "adamw" | "prodigy" | "lion" | "sgd"; throws lathe::Error naming `key` otherwise.
OptimizerType optimizer_type_from_string(const std::string& text, const std::string& key);
std::string to_string(OptimizerType type);

struct OptimizerConfig {
  OptimizerType type = OptimizerType::AdamW;
  double weight_decay = 0.01;  // decoupled (AdamW, Lion, Prodigy with decouple), L2 for SGD
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // SGD
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  // Prodigy
  std::optional<double> beta3;  // default sqrt(beta2)
  double d0 = 1e-6;
  double d_coef = 1.0;
  double growth_rate = std::numeric_limits<double>::infinity();
  bool decouple = true;
  bool use_bias_correction = false;
  bool safeguard_warmup = false;

  // The usual defaults of each optimizer's reference: AdamW (0.9, 0.999, 1e-8, wd 0.01),
  // Lion (0.9, 0.99, wd 0), SGD (momentum 0.9, wd 0), Prodigy (0.9, 0.999, wd 0, decouple).
  static OptimizerConfig defaults_for(OptimizerType type);
};

// Throws lathe::Error naming the optimizer.* key that is out of range.
void check_optimizer_config(const OptimizerConfig& config);

// Parameters sharing a learning rate. base_lr is what the profile set; lr is what the next
// step() uses (the LR schedule rewrites it every step, see apply_lr_schedule). For Prodigy the
// rates are multipliers of its own estimate d (1.0 is the norm).
struct ParamGroup {
  std::string name;  // "unet", "text_encoder", "text_encoder_2", ...
  std::vector<torch::Tensor> params;
  double base_lr = 0.0;
  double lr = 0.0;
};

ParamGroup make_param_group(std::string name, std::vector<torch::Tensor> params, double lr);

// A flat, checkpointable snapshot of an optimizer. Keys:
//   tensors: "g<group>.p<index>.<name>" (exp_avg, exp_avg_sq, momentum_buffer, s, p0)
//   scalars: "steps", "num_groups", "g<group>.num_params", "g<group>.lr",
//            "g<group>.p<index>.step", and "prodigy.d", "prodigy.d_max", "prodigy.d0",
//            "prodigy.d_numerator", "prodigy.d_denom", "prodigy.d_hat", "prodigy.k".
// Scalars are doubles, which hold every step count and every double value exactly.
struct OptimizerState {
  std::string type;
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, double> scalars;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  OptimizerType type() const { return config_.type; }
  const OptimizerConfig& config() const { return config_; }

  // One update from the parameters' .grad() (parameters without a gradient are skipped, as in
  // torch). Runs under NoGradGuard; state tensors live on each parameter's device.
  void step();
  // Drops every gradient (set-to-none), so the next backward starts from nothing.
  void zero_grad();

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  std::vector<torch::Tensor> all_params() const;
  int64_t steps_taken() const { return steps_; }

  // Values worth logging besides the loss: Prodigy's "d", "d_hat" and "effective_lr"
  // (d * lr * bias correction); empty for the others.
  virtual std::map<std::string, double> diagnostics() const { return {}; }

  // Tensors are returned as they are (on the parameters' devices; move them to the CPU to
  // save). load_state_dict copies them to each parameter's device and throws lathe::Error,
  // naming the key, when the snapshot does not fit: another optimizer type, other group or
  // parameter counts, a tensor whose size differs from its parameter, a missing or unknown
  // state name.
  OptimizerState state_dict() const;
  void load_state_dict(const OptimizerState& state);

 protected:
  Optimizer(const OptimizerConfig& config, std::vector<ParamGroup> groups);

  struct ParamState {
    std::map<std::string, torch::Tensor> tensors;
    int64_t step = 0;
  };

  // The update itself; called by step() under NoGradGuard.
  virtual void update() = 0;
  // Names a parameter's state holds once it has been stepped.
  virtual std::vector<std::string> state_names() const = 0;
  virtual void save_globals(std::map<std::string, double>& scalars) const {}
  virtual void load_globals(const std::map<std::string, double>& scalars) {}

  ParamState& state(size_t group, size_t index) { return state_[group][index]; }

  OptimizerConfig config_;
  std::vector<ParamGroup> groups_;

 private:
  void load_param_state(const OptimizerState& saved, size_t group, size_t index);

  std::vector<std::vector<ParamState>> state_;
  int64_t steps_ = 0;
};

// Builds the optimizer of config.type over `groups` (after check_optimizer_config).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          std::vector<ParamGroup> groups);

// Sets every group's lr to schedule.lr_at(step, base_lr); call before each optimizer.step(),
// with `step` = optimizer.steps_taken().
void apply_lr_schedule(Optimizer& optimizer, const LrSchedule& schedule, int64_t step);

}  // namespace lathe
