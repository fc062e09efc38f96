// The weight delta of each adapter type, as the loaders compute it (ComfyUI's
// comfy/weight_adapter lora.py / loha.py / lokr.py and base.py weight_decompose, A1111's
// extensions-builtin/Lora network_*.py, LyCORIS's functional/*). Every function returns the
// delta flattened to [out, in * kh * kw] without the alpha / rank scale; the modules' forward
// (network_module.cpp) and `lathe lora merge` both call these and nothing else.
#pragma once

#include <torch/types.h>

namespace lathe {

// LoRA / LoCon: up [out, r(, 1, 1)] @ down [r, in(, kh, kw)].
torch::Tensor lora_delta(const torch::Tensor& down, const torch::Tensor& up);

// LoHa: (w1_a @ w1_b) * (w2_a @ w2_b), a Hadamard (element-wise) product of two rank-r
// products; w*_a [out, r], w*_b [r, in * kh * kw].
torch::Tensor loha_delta(const torch::Tensor& w1_a, const torch::Tensor& w1_b, const torch::Tensor& w2_a,
                         const torch::Tensor& w2_b);

// LoKr: kron(w1, w2) with w1 [out_l, in_m] and w2 [out_k, in_n(, kh, kw)] (a full lokr_w2, or
// lokr_w2_a @ lokr_w2_b reshaped): [out_l * out_k, in_m * in_n * kh * kw]. The 2-D Kronecker
// product of w1 with w2 flattened after its first axis equals ComfyUI's / LyCORIS's 4-D
// kron(w1[..., None, None], w2) reshaped to the base weight.
torch::Tensor lokr_delta(const torch::Tensor& w1, const torch::Tensor& w2);

// DoRA (weight-decomposed): the change that turns `base` into
//   (base + delta) * dora_scale / ||base + delta||
// with the norm taken per input channel (over output channels and kernel: dim 0, 2, 3), as
// LyCORIS's weight_decompose (wd_on_out = False), A1111's apply_weight_decompose and ComfyUI's
// weight_decompose (input-axis branch, chosen when dora_scale.size(0) != out) compute it, plus
// float32's epsilon in the norm as LyCORIS and ComfyUI add. base, delta: the base weight's shape;
// dora_scale: [1, in(, 1, 1)]. Returns base's shape.
torch::Tensor dora_delta(const torch::Tensor& base, const torch::Tensor& delta, const torch::Tensor& dora_scale);

// The DoRA magnitude a module starts with: ||base|| per input channel, [1, in(, 1, 1)].
torch::Tensor dora_magnitude(const torch::Tensor& base);

}  // namespace lathe
