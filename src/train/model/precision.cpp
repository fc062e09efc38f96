// Base-weight storage dtype and the mixed-precision scope (see precision.h for the measured
// reasons behind the CPU rules).
#include "train/model/precision.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <fmt/format.h>
#include <torch/library.h>

#include "common/error.h"

namespace lathe {

torch::Dtype torch_dtype_of(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::FP16: return torch::kFloat16;
    case WeightDType::BF16: return torch::kBFloat16;
    case WeightDType::FP32: break;
  }
  return torch::kFloat32;
}

const char* weight_dtype_name(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::FP16: return "fp16";
    case WeightDType::BF16: return "bf16";
    case WeightDType::FP32: break;
  }
  return "fp32";
}

namespace {

template <typename Tensors>
void cast_all(Tensors&& tensors, torch::Dtype dtype) {
  for (auto& t : tensors) {
    if (!t.is_floating_point() || t.scalar_type() == dtype) continue;
    t.set_data(t.data().to(dtype));  // the old storage is freed here, tensor by tensor
  }
}

at::Tensor as_fp32(const at::Tensor& t) { return t.is_floating_point() ? t.to(at::kFloat) : t; }
c10::optional<at::Tensor> as_fp32(const c10::optional<at::Tensor>& t) {
  if (!t || !t->defined()) return t;
  return as_fp32(*t);
}

// libtorch's CPU autocast (1.13 to 2.11) has no rule for group_norm: a low-precision activation
// meets fp32 GroupNorm weights, which 1.13 refused and 2.x runs in the low dtype. CUDA autocast
// runs it in fp32 (its AT_FORALL_FP32 list); this gives the CPU the same rule.
at::Tensor autocast_cpu_group_norm(const at::Tensor& input, std::int64_t groups, const c10::optional<at::Tensor>& weight,
                                   const c10::optional<at::Tensor>& bias, double eps, bool cudnn_enabled) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::group_norm(as_fp32(input), groups, as_fp32(weight), as_fp32(bias), eps, cudnn_enabled);
}

// The same for layer_norm (the transformer blocks' norm1..3).
at::Tensor autocast_cpu_layer_norm(const at::Tensor& input, at::IntArrayRef shape, const c10::optional<at::Tensor>& weight,
                                   const c10::optional<at::Tensor>& bias, double eps, bool cudnn_enable) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::layer_norm(as_fp32(input), shape, as_fp32(weight), as_fp32(bias), eps, cudnn_enable);
}

TORCH_LIBRARY_IMPL(aten, AutocastCPU, m) {
  m.impl("group_norm", TORCH_FN(autocast_cpu_group_norm));
  m.impl("layer_norm", TORCH_FN(autocast_cpu_layer_norm));
}

}  // namespace

void store_base_weights(torch::nn::Module& model, WeightDType dtype) {
  torch::NoGradGuard no_grad;
  const auto target = torch_dtype_of(dtype);
  cast_all(model.parameters(), target);
  cast_all(model.buffers(), target);
}

std::int64_t floating_bytes(const torch::nn::Module& model) {
  std::int64_t bytes = 0;
  for (const auto& p : model.parameters())
    if (p.is_floating_point()) bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
  for (const auto& b : model.buffers())
    if (b.is_floating_point()) bytes += b.numel() * static_cast<std::int64_t>(b.element_size());
  return bytes;
}

namespace {

// The error for a bf16 choice (`key`) on a card that cannot run it.
[[noreturn]] void no_bf16(const char* key, const torch::Device& device, const DeviceDescription& d) {
  throw Error(fmt::format("{} = \"bf16\": {} ({}, compute capability {}.{}) has no bf16 support (it "
                          "needs 8.0: Ampere, RTX 30xx, or newer); use \"auto\" (fp16 on this card) or "
                          "\"fp16\"",
                          key, d.name, device.str(), d.compute_major, d.compute_minor));
}

}  // namespace

ResolvedPrecision resolve_precision(const std::optional<WeightDType>& dtype, MixedPrecision mixed,
                                    const torch::Device& device, const DeviceDescription& described) {
  // The CPU always has bf16 kernels (fast with AVX512-BF16 / AMX, converted otherwise) and
  // fp16 only as a slow fallback, so bf16 is its low precision either way.
  const bool bf16 = !device.is_cuda() || described.bf16;
  if (dtype == WeightDType::BF16 && !bf16) no_bf16("model.dtype", device, described);
  if (mixed == MixedPrecision::BF16 && !bf16) no_bf16("training.mixed_precision", device, described);
  ResolvedPrecision out;
  out.weights = dtype.value_or(bf16 ? WeightDType::BF16 : WeightDType::FP16);
  out.mixed = mixed != MixedPrecision::Auto ? mixed : bf16 ? MixedPrecision::BF16 : MixedPrecision::FP16;
  return out;
}

ResolvedPrecision resolve_precision(const TrainConfig& config, const torch::Device& device) {
  return resolve_precision(config.model.dtype, config.training.mixed_precision, device, describe_device(device));
}

TrainConfig with_resolved_precision(const TrainConfig& config, const torch::Device& device) {
  const ResolvedPrecision p = resolve_precision(config, device);
  TrainConfig out = config;
  out.model.dtype = p.weights;
  out.training.mixed_precision = p.mixed;
  return out;
}

std::string precision_choice_text(const std::string& chosen, const std::string& resolved,
                                  const torch::Device& device) {
  if (chosen != "auto") return chosen;
  return fmt::format("auto ({} on this machine's {})", resolved, device.str());
}

MachinePrecision precision_on_this_machine(const TrainConfig& config) {
  MachinePrecision out;
  out.dtype_text = to_string(config.model.dtype);
  out.mixed_text = to_string(config.training.mixed_precision);
  try {
    out.device = resolve_device(config.training.device);
  } catch (const Error& e) {
    out.warning = fmt::format("{}; model.dtype and training.mixed_precision are checked where the run trains",
                              e.what());
    return out;
  }
  try {
    out.resolved = resolve_precision(config, *out.device);
  } catch (const Error& e) {
    out.error = e.what();
    return out;
  }
  out.dtype_text = precision_choice_text(out.dtype_text, to_string(out.resolved->weights), *out.device);
  out.mixed_text = precision_choice_text(out.mixed_text, to_string(out.resolved->mixed), *out.device);
  return out;
}

std::optional<std::string> precision_note(MixedPrecision mode, WeightDType weights, const torch::Device& device) {
  if (!device.is_cpu() || (mode != MixedPrecision::FP16 && weights != WeightDType::FP16)) return std::nullopt;
  return std::string(
      "fp16 on the CPU runs, but slowly: CPUs have no fp16 arithmetic, so every op converts; bf16 "
      "(model.dtype / training.mixed_precision = \"bf16\") has the same memory and fast kernels on "
      "AVX512-BF16 / AMX CPUs");
}

MixedPrecisionScope::MixedPrecisionScope(MixedPrecision mode, const torch::Device& device) {
  if (mode == MixedPrecision::No) return;
  // A config reaches here resolved (with_resolved_precision); "auto" is resolved again as a
  // backstop rather than guessed.
  if (mode == MixedPrecision::Auto) mode = resolve_precision(std::nullopt, mode, device, describe_device(device)).mixed;
  const auto dtype = mode == MixedPrecision::BF16 ? at::kBFloat16 : at::kHalf;
  device_type_ = device.type();
  prev_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  prev_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::set_autocast_dtype(device_type_, dtype);
  at::autocast::increment_nesting();
  active_ = true;
}

MixedPrecisionScope::~MixedPrecisionScope() {
  if (!active_) return;
  // The cast-weight cache lives as long as the outermost scope (as torch.autocast does).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, prev_enabled_);
  at::autocast::set_autocast_dtype(device_type_, prev_dtype_);
}

}  // namespace lathe
