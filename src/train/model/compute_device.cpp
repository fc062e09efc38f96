// Device choice, backend switches, generators and memory counters (see the header).
#include "train/model/compute_device.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <fmt/format.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace lathe {

bool cuda_compiled_in() { return at::hasCUDA() || at::globalContext().hasCUDA(); }

int cuda_device_count() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  std::optional<torch::Device> device;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error(fmt::format("training.device \"{}\" is not a device; use auto, cpu, cuda or cuda:N", name));
  }
  if (device->is_cpu()) return *device;
  if (!device->is_cuda())
    throw Error(fmt::format("training.device \"{}\": Lathe trains on cpu or cuda; use auto, cpu, cuda or cuda:N", name));
  const int count = cuda_device_count();
  if (count == 0)
    throw Error(fmt::format("training.device \"{}\": no CUDA GPU is visible here (run `lathe doctor`); use "
                            "cpu or auto",
                            name));
  if (!device->has_index()) return torch::Device(torch::kCUDA, 0);
  if (device->index() >= count)
    throw Error(fmt::format("training.device \"{}\": this machine has {} CUDA device{} (cuda:0 to cuda:{})",
                            name, count, count == 1 ? "" : "s", count - 1));
  return *device;
}

namespace {

bool cpu_has_flag(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w)
      if (w == flag) return true;
    return false;
  }
  return false;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "cpu";
}

}  // namespace

DeviceDescription describe_device(const torch::Device& device) {
  DeviceDescription d;
  if (!device.is_cuda()) {
    d.name = cpu_model_name();
    d.bf16 = cpu_has_flag("avx512_bf16") || cpu_has_flag("amx_bf16");
    return d;
  }
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0);
  d.name = p->name;
  d.total_memory = static_cast<std::int64_t>(p->totalGlobalMem);
  d.compute_major = p->major;
  d.compute_minor = p->minor;
  d.bf16 = p->major >= 8;  // Ampere (sm_80) and newer
  d.tf32 = p->major >= 8;
  return d;
}

void configure_backends(const torch::Device& device, const BackendOptions& options) {
  auto& context = at::globalContext();
  if (device.is_cuda()) {
    context.setAllowTF32CuBLAS(options.allow_tf32);
    context.setAllowTF32CuDNN(options.allow_tf32);
    if (options.deterministic) {
      // cuBLAS picks reduction splits per stream unless told a fixed workspace (CUDA docs,
      // "Results reproducibility"); it reads the variable when its first handle is created.
      setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    }
    context.setBenchmarkCuDNN(!options.deterministic);
    context.setDeterministicCuDNN(options.deterministic);
  }
  // warn_only: an op without a deterministic kernel warns once instead of failing the run
  // (README, "Determinism" lists them).
  context.setDeterministicAlgorithms(options.deterministic, /*warn_only=*/true);
}

torch::Generator seeded_generator(std::uint64_t seed, const torch::Device& device) {
  if (!device.is_cuda()) return at::detail::createCPUGenerator(seed);
  torch::Generator g = at::cuda::detail::createCUDAGenerator(device.has_index() ? device.index() : 0);
  g.set_current_seed(seed);
  return g;
}

void reset_peak_memory(const torch::Device& device) {
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
}

std::optional<std::int64_t> peak_memory_bytes(const torch::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  return stats.allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
}

void release_cached_memory(const torch::Device& device) {
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
}

torch::Tensor pinned_for(const torch::Tensor& t, const torch::Device& device) {
  if (!device.is_cuda() || !t.device().is_cpu() || t.is_pinned()) return t;
  return t.pin_memory();
}

torch::Tensor to_device_async(const torch::Tensor& t, const torch::Device& device) {
  if (t.device() == device) return t;
  if (!device.is_cuda()) return t.to(device);
  return pinned_for(t, device).to(device, /*non_blocking=*/true);
}

}  // namespace lathe
