// Memory and precision of a training run: base weights stored in bf16 / fp16 ([model] dtype)
// while the LoRA network and the optimizer state stay fp32, and mixed precision
// ([training] mixed_precision) as an RAII scope around the forward pass.
//
// How the compute goes (libtorch 2.11, measured on the 2-core AVX512-BF16 EPYC, bench/README.md):
// bf16 matmuls peak at about twice fp32's and every op the UNet uses has a bf16 CPU kernel, so
// bf16 base weights compute in bf16 (the networks cast their fp32 inputs to the weights' dtype
// and return fp32, see UNet::forward). fp16 runs on the CPU too but slowly (no fp16
// arithmetic), so precision_note() says so; on CUDA fp16 is the choice for cards without bf16,
// with dynamic loss scaling (loss_scaler.h). Mixed precision with fp32 weights uses libtorch's
// autocast on the training device: matmuls and convolutions run in the low dtype,
// normalisations stay fp32 (precision.cpp adds the CPU autocast rules for group_norm /
// layer_norm that CUDA autocast has and CPU autocast lacks). The CLIP text encoder takes token
// ids and returns its states in the weights' dtype; the UNet accepts them.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "train/model/compute_device.h"
#include "train/config/train_config.h"

namespace lathe {

torch::Dtype torch_dtype_of(WeightDType dtype);
const char* weight_dtype_name(WeightDType dtype);  // "fp32", "fp16", "bf16"

// model.dtype and training.mixed_precision as one device runs them: "auto" becomes bf16 on the
// CPU and on CUDA cards with bf16 (compute capability 8.0, Ampere, and newer), fp16 on older
// cards; mixed precision "auto" is that same low dtype. Explicit choices pass unchanged unless
// the device cannot run them (bf16 on a card without bf16): then lathe::Error names the key,
// the card and what to use. fp16 on the CPU runs (slowly, precision_note says so).
struct ResolvedPrecision {
  WeightDType weights = WeightDType::FP32;
  MixedPrecision mixed = MixedPrecision::No;  // never Auto
};
ResolvedPrecision resolve_precision(const std::optional<WeightDType>& dtype, MixedPrecision mixed,
                                    const torch::Device& device, const DeviceDescription& described);
// The same for a config on `device` as this machine has it (describe_device).
ResolvedPrecision resolve_precision(const TrainConfig& config, const torch::Device& device);
// `config` with model.dtype and training.mixed_precision resolved for `device`.
TrainConfig with_resolved_precision(const TrainConfig& config, const torch::Device& device);

// How a choice reads to a user: "bf16" for an explicit one, "auto (bf16 on this machine's cpu)"
// for "auto"; `chosen` and `resolved` are names as profiles write them.
std::string precision_choice_text(const std::string& chosen, const std::string& resolved,
                                  const torch::Device& device);

// What a profile's precision comes to on this machine, for `lathe profile check|show` and
// `lathe train` before a run is created. Never throws for the profile's sake.
struct MachinePrecision {
  std::optional<torch::Device> device;        // nullopt: training.device is not on this machine
  std::optional<ResolvedPrecision> resolved;  // set when the device is here and can run the choice
  std::string error;    // an explicit choice this machine's device cannot run (a run would fail)
  std::string warning;  // the device is not on this machine, so the choice cannot be checked here
  // precision_choice_text of model.dtype / training.mixed_precision ("auto" alone when unresolved).
  std::string dtype_text, mixed_text;
};
MachinePrecision precision_on_this_machine(const TrainConfig& config);

// Casts every floating-point parameter and buffer of `model` (a base network: UNet, text
// encoder, VAE) to `dtype` in place, one tensor at a time (peak: one extra tensor), keeping
// requires_grad and the module objects, so attached LoRA adapters (module_adapter.h) and
// references to the modules stay valid. A LoRANetwork is a separate module and is not touched:
// pass the base network, never the LoRA network.
void store_base_weights(torch::nn::Module& model, WeightDType dtype);

// Bytes held by the floating-point parameters and buffers of `model`.
std::int64_t floating_bytes(const torch::nn::Module& model);

// A line for the log when the choice runs but badly on `device` (fp16 on the CPU), else nullopt.
std::optional<std::string> precision_note(MixedPrecision mode, WeightDType weights, const torch::Device& device);

// Autocast for the forward pass while it lives (nothing for MixedPrecision::No); restores the
// previous autocast state on destruction, so scopes nest. Run backward() outside the scope:
// autograd replays the dtypes the forward recorded (gradient checkpointing re-enters the
// forward's autocast state itself, see models/grad_checkpoint.cpp).
class MixedPrecisionScope {
 public:
  MixedPrecisionScope(MixedPrecision mode, const torch::Device& device);
  ~MixedPrecisionScope();
  MixedPrecisionScope(const MixedPrecisionScope&) = delete;
  MixedPrecisionScope& operator=(const MixedPrecisionScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

}  // namespace lathe
