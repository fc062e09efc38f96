// Network modules read back from a LoRA file (see file_module.h).
#include "lora/file_module.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <numeric>

#include "common/error.h"
#include "io/safetensors.h"
#include "lora/network_modules.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

using Shape = std::vector<std::int64_t>;

std::int64_t numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<std::int64_t>());
}

// The product of the sizes after the first: a factor's flattened input width.
std::int64_t trailing_numel(const Shape& shape) { return shape.empty() ? 0 : numel(shape) / shape[0]; }

const Shape& shape_at(const LoRAModuleInfo& m, const char* suffix) {
  auto it = m.shapes.find(suffix);
  if (it == m.shapes.end()) throw Error(fmt::format("{}: lacks {}", m.name, suffix));
  return it->second;
}

}  // namespace

std::shared_ptr<NetworkModuleImpl> module_from_file_keys(const LoRAModuleInfo& m, const Shape& weight_shape) {
  BaseOp op;
  op.conv = weight_shape.size() == 4;
  op.weight_shape = weight_shape;
  auto module = make_network_module(op, module_spec_from_keys(m.name, m.shapes, weight_shape, m.alpha ? *m.alpha : 0.0));
  for (const auto& p : module->named_parameters()) {
    auto it = m.shapes.find(p.key());
    if (it == m.shapes.end()) throw Error(fmt::format("{}: lacks {}", m.name, p.key()));
    if (numel(it->second) != p.value().numel())
      throw Error(fmt::format("{}: {} [{}] does not fit the base tensor [{}] (expects [{}])", m.name, p.key(),
                              fmt::join(it->second, ", "), fmt::join(weight_shape, ", "),
                              fmt::join(p.value().sizes(), ", ")));
  }
  return module;
}

void load_module_tensors(NetworkModuleImpl& module, const LoRAModuleInfo& m, const SafetensorsFile& file) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters())
    p.value().copy_(tensor_from_view(file.view(m.name + "." + p.key()), torch::kFloat32).reshape(p.value().sizes()));
}

Shape flat_weight_shape_of(const LoRAModuleInfo& m) {
  if (m.algo == "loha") return {shape_at(m, "hada_w1_a")[0], trailing_numel(shape_at(m, "hada_w1_b"))};
  if (m.algo == "lokr") {
    const bool w1_full = m.shapes.count("lokr_w1") > 0, w2_full = m.shapes.count("lokr_w2") > 0;
    const std::int64_t out_l = w1_full ? shape_at(m, "lokr_w1")[0] : shape_at(m, "lokr_w1_a")[0];
    const std::int64_t in_m = w1_full ? trailing_numel(shape_at(m, "lokr_w1")) : trailing_numel(shape_at(m, "lokr_w1_b"));
    const std::int64_t out_k = w2_full ? shape_at(m, "lokr_w2")[0] : shape_at(m, "lokr_w2_a")[0];
    const std::int64_t in_n = w2_full ? trailing_numel(shape_at(m, "lokr_w2")) : trailing_numel(shape_at(m, "lokr_w2_b"));
    return {out_l * out_k, in_m * in_n};
  }
  return {shape_at(m, "lora_up.weight")[0], trailing_numel(shape_at(m, "lora_down.weight"))};
}

torch::Tensor file_module_delta(const LoRAModuleInfo& m, const SafetensorsFile& file) {
  LoRAModuleInfo adapter = m;
  adapter.shapes.erase("dora_scale");  // its magnitude only rescales base + delta; see the header
  adapter.dora = false;
  auto module = module_from_file_keys(adapter, flat_weight_shape_of(adapter));
  load_module_tensors(*module, adapter, file);
  torch::NoGradGuard no_grad;
  return module->delta_weight();
}

}  // namespace lathe
