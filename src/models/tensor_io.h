// Between safetensors views and torch tensors. Reading converts straight from the mapped bytes
// to the requested dtype in one pass (a tensor is never held twice: no full-precision staging
// copy), and a strict loader fills a module's parameters tensor by tensor, dropping each
// mapped range from the resident set once copied, so loading a checkpoint peaks at about one
// copy of the converted weights. Writing takes torch tensors to an atomic safetensors file.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "models/checkpoint.h"

namespace lathe {

// The torch dtype of a stored dtype; throws lathe::Error for U16/U32/U64 (no checkpoint uses
// them, and libtorch has few kernels for them). F8 types have no torch dtype here either but are decoded by the readers below.
torch::Dtype torch_dtype_of(DType t);
DType safetensors_dtype_of(torch::Dtype t);  // throws lathe::Error for unsupported dtypes

// A tensor of `dtype` holding the view's values (one copy, from the mapped bytes).
torch::Tensor tensor_from_view(const TensorView& view, torch::Dtype dtype);

// A canonical tensor: takes the q/k/v third, transposes and reshapes (1x1 conv) as the ref
// says, converting to `dtype` in the same single copy.
torch::Tensor load_tensor(const TensorRef& ref, torch::Dtype dtype);

// Loads a component into a module whose named_parameters() use the canonical names: checks
// the names (missing / unexpected, see check_component_keys) and shapes (a [C, C] tensor fills
// a [C, C, 1, 1] parameter), then replaces every parameter's data with the stored values in
// `dtype`. Throws lathe::Error naming the tensor, its stored key and file.
void load_component(torch::nn::Module& module, const Checkpoint& ckpt, Component c, torch::Dtype dtype);
void load_tensors_into(torch::nn::Module& module, const Checkpoint& ckpt, Component c,
                       const std::map<std::string, TensorRef>& tensors, torch::Dtype dtype);

// All tensors of a component as a name -> tensor map in `dtype` (what the benchmark measures).
std::map<std::string, torch::Tensor> load_component_tensors(const Checkpoint& ckpt, Component c,
                                                            torch::Dtype dtype);

// Writes named CPU tensors (any layout; made contiguous) as a safetensors file, atomically.
void write_tensors(const std::filesystem::path& path,
                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                   const std::map<std::string, std::string>& metadata = {});

}  // namespace lathe
