// The device a run computes on, chosen at run time: what `training.device` names resolved to a
// torch::Device, the backend switches a run sets once (TF32, deterministic algorithms), seeded
// generators on that device, and its memory counters. Every CUDA call of the trainer lives
// here, so the rest of train/ is device-agnostic (tensors follow their inputs' options).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lathe {

// "auto" (CUDA when a GPU is visible, else the CPU), "cpu", "cuda" or "cuda:N". Throws
// lathe::Error naming the value and what to use instead.
torch::Device resolve_device(const std::string& name);

// What `lathe doctor` and the run log say about a device.
struct DeviceDescription {
  std::string name;                 // "cpu" or the GPU's name
  std::int64_t total_memory = 0;    // bytes (GPU); 0 on the CPU
  int compute_major = 0, compute_minor = 0;
  bool bf16 = false;                // has native bf16 compute (Ampere and newer; CPUs with AVX512-BF16/AMX)
  bool tf32 = false;                // has TF32 tensor cores (Ampere and newer)
};
DeviceDescription describe_device(const torch::Device& device);

// Whether this libtorch was built with CUDA, and the CUDA devices it sees now.
bool cuda_compiled_in();
int cuda_device_count();

struct BackendOptions {
  bool allow_tf32 = true;     // TF32 matmuls and convolutions on Ampere and newer
  bool deterministic = true;  // deterministic algorithms where they exist, no cuDNN autotuning
};
// Sets libtorch's process-wide switches for a run on `device`. For determinism on CUDA it also
// sets CUBLAS_WORKSPACE_CONFIG (cuBLAS reads it at its first handle) unless the user set it.
void configure_backends(const torch::Device& device, const BackendOptions& options);

// A generator on `device` seeded with `seed`: CPU (mt19937) or CUDA (Philox). Draws from it
// land on that device, so noise and timesteps never cross the bus.
torch::Generator seeded_generator(std::uint64_t seed, const torch::Device& device = torch::kCPU);

// Peak memory the caching allocator handed out on a CUDA device since the last reset, in
// bytes; nullopt on the CPU.
void reset_peak_memory(const torch::Device& device);
std::optional<std::int64_t> peak_memory_bytes(const torch::Device& device);
// Returns cached, unused blocks to the driver (after an out-of-memory error).
void release_cached_memory(const torch::Device& device);

// Copies host tensors to `device` without blocking the host when it is a GPU: the source is
// put in pinned memory first unless it already is. CPU: returns `t` itself.
torch::Tensor to_device_async(const torch::Tensor& t, const torch::Device& device);
// `t` in page-locked host memory when `device` is a GPU (so later copies can be async), else `t`.
torch::Tensor pinned_for(const torch::Tensor& t, const torch::Device& device);

}  // namespace lathe
