// The one interface every adapter module of a LoRA network has (kohya LoRA / LoCon, LyCORIS LoHa
// and LoKr, each optionally with DoRA's weight decomposition): the network attaches it to a base
// Linear / Conv2d and calls forward(x, base_out); `lathe lora merge` bakes delta_weight() (or,
// with DoRA, dora_delta() of it) into the base tensor. The weight deltas are plain functions
// (network_delta.h) used by both the modules' forward and the merge, so what training saw and
// what a merged checkpoint holds cannot drift apart.
#pragma once

#include <torch/types.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <vector>

#include "lora/network_type.h"

namespace lathe {

// The base module's op: a Linear, or a Conv2d with its stride / padding / dilation.
struct BaseOp {
  bool conv = false;
  std::vector<std::int64_t> weight_shape;        // [out, in] or [out, in, kh, kw]
  std::vector<std::int64_t> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  torch::Tensor weight;  // the base weight (shares the model's storage); undefined for a shape only
  torch::Device device() const;                  // the weight's, or the CPU
  // y = op(x, w) without bias: linear or conv2d with the base's geometry.
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& w) const;
};
// Reads the op of a torch::nn::LinearImpl or Conv2dImpl; throws lathe::Error for anything else.
BaseOp base_op_of(const torch::nn::Module& base);

struct NetworkModuleImpl : torch::nn::Module {
  // The adapted output: base_out + the module's contribution (times multiplier), with the
  // dropouts in train mode.
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base_out) = 0;

  // The weight delta in the base weight's shape, scale (alpha / rank) included, multiplier not,
  // in fp32 (the parameters' dtype), without DoRA: DoRA's delta is dora_delta(base, this).
  virtual torch::Tensor delta_weight() const = 0;

  virtual NetworkAlgo algo() const = 0;
  std::int64_t rank() const { return rank_; }
  double scale() const { return scale_; }
  bool is_conv() const { return op_.conv; }
  bool dora() const { return dora_scale.defined(); }
  const BaseOp& base() const { return op_; }
  // Updates the `alpha` buffer and the scale; alpha 0 means alpha = rank (kohya / LyCORIS).
  virtual void set_alpha(double alpha);

  double multiplier = 1.0, dropout = 0.0, rank_dropout = 0.0, module_dropout = 0.0;
  torch::Tensor alpha;       // 0-dim float buffer "alpha"
  torch::Tensor dora_scale;  // parameter "dora_scale" when DoRA is on: [1, in] or [1, in, 1, 1]

 protected:
  NetworkModuleImpl(BaseOp op, std::int64_t rank) : op_(std::move(op)), rank_(rank) {}
  // Registers the alpha buffer and sets it (call once the parameters exist).
  void init_alpha(double alpha);
  // Registers dora_scale as the base weight's norm per input channel (LyCORIS's init): the
  // module then starts as the identity up to DoRA's epsilon.
  void init_dora();
  // True when a train-mode module dropout skips this module for the current forward.
  bool skipped_by_module_dropout() const;
  // The forward of a module that builds its full delta: base_out + op(x, delta) with rank
  // dropout as LyCORIS applies it to a built weight (whole output rows dropped), DoRA applied.
  torch::Tensor forward_through_weight(const torch::Tensor& x, const torch::Tensor& base_out);

  BaseOp op_;
  std::int64_t rank_;
  double scale_ = 1.0;
};

}  // namespace lathe
