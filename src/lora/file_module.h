// A network module read back from a LoRA file: built by the same factory as training's modules
// (network_modules.h), so its delta_weight() is the delta the network computes and the loaders
// compute, then filled with the file's tensors. `lathe lora merge` builds each module for the
// base tensor it adapts; the per-block norms, which have no base model, for the weight shape the
// module's own tensors imply.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lora/lora_file_info.h"
#include "lora/network_module.h"

namespace lathe {

class SafetensorsFile;

// The module of `m` (any type, told by its keys) for a base weight of `weight_shape` ([out, in]
// or [out, in, kh, kw]), its parameters not yet loaded. Throws lathe::Error saying why when the
// keys are no known type or a tensor does not fit the base.
std::shared_ptr<NetworkModuleImpl> module_from_file_keys(const LoRAModuleInfo& m,
                                                         const std::vector<std::int64_t>& weight_shape);

// Copies the module's tensors from the file (fp32, reshaped to the module's: a 1x1 conv LoRA
// on a Linear and the reverse hold the same numbers).
void load_module_tensors(NetworkModuleImpl& module, const LoRAModuleInfo& m, const SafetensorsFile& file);

// The base weight shape the module's own tensors imply, [out, in * kh * kw] (a conv's kernel
// stays flattened: the delta's values, hence its norms, do not depend on that reshape). LoRA:
// lora_up [out, r] and lora_down [r, in, ...]; LoHa: hada_w1_a [out, r] and hada_w1_b [r, in];
// LoKr: w1's [out_l, in_m] times w2's [out_k, in_n ...].
std::vector<std::int64_t> flat_weight_shape_of(const LoRAModuleInfo& m);

// The module's weight delta, alpha's scale included (LyCORIS's rules: LoKr with both factors
// full has scale 1), computed from the file alone, without DoRA: DoRA's per-channel rescale
// needs the base weight, so a DoRA module gives the delta of the adapter under it. Shape
// flat_weight_shape_of(m), fp32.
torch::Tensor file_module_delta(const LoRAModuleInfo& m, const SafetensorsFile& file);

}  // namespace lathe
