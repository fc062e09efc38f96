// LyCORIS's LoHa and LoKr modules (lycoris/modules/loha.py LohaModule, lokr.py LokrModule, in
// their kohya-format state dicts), and the factory that builds any module type from a spec:
// for training from the network options, for loading and merging from a file's key shapes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lora/network_module.h"
#include "lora/network_type.h"

namespace lathe {

// Reference: LyCORIS LohaModule without use_tucker: hada_w1_a, hada_w2_a [out, r]; hada_w1_b,
// hada_w2_b [r, in * kh * kw] (a conv's kernel flattened into the second factor). LyCORIS's
// init: w1_b ~ N(0, 1), w1_a ~ N(0, 0.1), w2_b ~ N(0, 1), w2_a = 0, so the delta starts at zero.
struct LoHaModuleImpl : NetworkModuleImpl {
  LoHaModuleImpl(BaseOp op, const ModuleSpec& spec);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base_out) override;
  torch::Tensor delta_weight() const override;
  NetworkAlgo algo() const override { return NetworkAlgo::LoHa; }
  torch::Tensor hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b;
};

// Reference: LyCORIS LokrModule without use_tucker: lokr_w1 [out_l, in_m] or lokr_w1_a
// [out_l, r] @ lokr_w1_b [r, in_m]; lokr_w2 [out_k, in_n(, kh, kw)] or lokr_w2_a [out_k, r] @
// lokr_w2_b [r, in_n * kh * kw]. LyCORIS's init: w1 (or w1_a, w1_b) kaiming-uniform, w2 = 0 (or
// w2_a kaiming, w2_b = 0). With both factors full the scale is 1 and alpha is stored as the
// rank (LyCORIS), and loaders ignore alpha (ComfyUI / A1111 scale by alpha / rank only when a
// factor is a product).
struct LoKrModuleImpl : NetworkModuleImpl {
  LoKrModuleImpl(BaseOp op, const ModuleSpec& spec);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base_out) override;
  torch::Tensor delta_weight() const override;
  NetworkAlgo algo() const override { return NetworkAlgo::LoKr; }
  void set_alpha(double alpha) override;
  const ModuleSpec& spec() const { return spec_; }
  torch::Tensor w1() const;  // [out_l, in_m]
  torch::Tensor w2() const;  // [out_k, in_n(, kh, kw)]
  torch::Tensor lokr_w1, lokr_w1_a, lokr_w1_b, lokr_w2, lokr_w2_a, lokr_w2_b;

 private:
  ModuleSpec spec_;
};

// A module of spec.algo for a base with this op (parameters in fp32 on the base weight's device).
std::shared_ptr<NetworkModuleImpl> make_network_module(const BaseOp& op, const ModuleSpec& spec);

// The spec of module `name` from its keys' suffixes and shapes in a file ("lora_down.weight",
// "hada_w1_a", "lokr_w2", "alpha", "dora_scale" ... -> shape), for a base weight of
// `weight_shape`; alpha is taken from `alpha` (the key's value; <= 0 when absent). Throws
// lathe::Error naming the module when the keys are no known type or do not fit the base.
ModuleSpec module_spec_from_keys(const std::string& name, const std::map<std::string, std::vector<std::int64_t>>& keys,
                                 const std::vector<std::int64_t>& weight_shape, double alpha);

}  // namespace lathe
