// Test helpers for the model tests: read a safetensors file (through lathe::SafetensorsFile)
// into torch tensors, and copy a name->tensor map into a module's parameters strictly (every
// parameter filled, every tensor used, shapes equal).
#pragma once

#include "io/safetensors.h"

#include <torch/torch.h>

#include <map>
#include <string>

namespace lathe::test {

inline torch::Tensor view_to_tensor(const TensorView& v) {
  torch::Dtype dt;
  switch (v.info->dtype) {
    case DType::F32: dt = torch::kFloat32; break;
    case DType::F64: dt = torch::kFloat64; break;
    case DType::I64: dt = torch::kInt64; break;
    case DType::F16: dt = torch::kFloat16; break;
    case DType::BF16: dt = torch::kBFloat16; break;
    case DType::I32: dt = torch::kInt32; break;
    default: throw std::runtime_error("fixture_tensors: unsupported dtype " + std::string(dtype_name(v.info->dtype)));
  }
  std::vector<std::int64_t> shape(v.info->shape.begin(), v.info->shape.end());
  // from_blob needs a non-const pointer; the clone owns a copy, the map stays read-only.
  return torch::from_blob(const_cast<std::uint8_t*>(v.data), shape, torch::TensorOptions().dtype(dt)).clone();
}

// All tensors of a file whose name starts with `prefix`, keyed by the rest of the name.
inline std::map<std::string, torch::Tensor> read_tensors(const std::filesystem::path& path,
                                                         const std::string& prefix = "") {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& name : file.names())
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = view_to_tensor(file.view(name));
  return out;
}

// Copies `tensors` into `module`'s parameters by name; returns "" or a description of every
// missing, unexpected or mis-shaped key.
inline std::string load_strict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::string problems;
  auto params = module.named_parameters(true);
  std::size_t used = 0;
  for (auto& p : params) {
    auto it = tensors.find(p.key());
    if (it == tensors.end()) {
      problems += "missing " + p.key() + "\n";
      continue;
    }
    if (it->second.sizes() != p.value().sizes()) {
      problems += "shape of " + p.key() + "\n";
      continue;
    }
    p.value().copy_(it->second);
    ++used;
  }
  for (const auto& kv : tensors)
    if (!params.contains(kv.first)) problems += "unexpected " + kv.first + "\n";
  return problems;
}

}  // namespace lathe::test
