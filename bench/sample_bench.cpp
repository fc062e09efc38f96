// One text-to-image render of a full-size SD 1.5 on this CPU, the path of `lathe sample` after
// the prompt is encoded: 512x512 (64x64 latents), 20 Euler steps, classifier-free guidance on
// (the negative and positive rows in one UNet batch of 2, guidance 7), then the VAE decode and
// the 8-bit image. Random weights (fixed seed; the real SD 1.5 UNet and VAE topologies, as
// bench/train_step_bench.cpp builds them), a random [2, 77, 768] context in place of the encoded
// prompt pair. bench/reference/sample_reference.py runs diffusers' pipeline loop on the same
// shapes for the comparison (bench/README.md has both commands and the figures).
//
// A warm-up (one UNet call and one decode) comes first, then each iteration renders one image.
// Counters: s_per_image (wall), loop_s (the 20 steps), decode_s, it_per_s (steps per second of
// the loop), peak_RSS_MiB (VmHWM reset after the models were built and warmed up: weights
// included), cpu_s_per_image (user + system CPU time of the whole process: on a machine shared
// with other work it measures the code where wall time measures the sharing). Variants: fp32 and bf16 weights and compute.
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <thread>

#include "diffusion/noise_schedule.h"
#include "diffusion/sampler.h"
#include "models/unet.h"
#include "models/vae.h"
#include "sample/tiled_decode.h"
#include "unet_flops.h"

namespace {

namespace b = lathe::bench;

// Step noise from a seeded CPU generator (Euler draws none; kept for the interface).
class SeededStepNoise : public lathe::StepNoise {
 public:
  explicit SeededStepNoise(std::uint64_t seed) : generator_(at::detail::createCPUGenerator(seed)) {}
  torch::Tensor next(const torch::Tensor& like) override {
    return torch::randn(like.sizes(), generator_, torch::TensorOptions().dtype(torch::kFloat32)).to(like.options());
  }

 private:
  torch::Generator generator_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_SampleImage(benchmark::State& state, torch::Dtype dtype) {
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  torch::NoGradGuard no_grad;
  constexpr std::int64_t kSteps = 20, kLatent = 64;
  constexpr double kGuidance = 7.0;
  torch::manual_seed(0);
  lathe::UNet unet(lathe::UNetConfig::sd15());
  lathe::VAE vae(lathe::VAEConfig::sd());
  unet->to(dtype);
  vae->to(dtype);
  unet->eval();
  vae->eval();
  auto context = torch::randn({2, 77, 768}).to(dtype);  // the encoded (negative, positive) prompts

  // The guided UNet, as render_latents builds it: both rows in one batch, guidance in fp32.
  lathe::Denoiser denoiser = [&](const torch::Tensor& x_in, const torch::Tensor& timestep) {
    auto x = x_in.to(dtype).expand({2, -1, -1, -1});
    auto t = timestep.reshape({-1}).expand({2});
    auto halves = unet->forward(x, t, context).to(torch::kFloat32).chunk(2);
    return lathe::guide(halves[0], halves[1], kGuidance);
  };
  auto to_image = [&](const torch::Tensor& latents) {
    auto pixels = lathe::decode_latents(*vae, latents.to(dtype) / vae->config().scaling_factor, false);
    return (pixels[0].to(torch::kFloat32) / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch::kUInt8);
  };
  const lathe::NoiseSchedule schedule;
  lathe::SamplerConfig config;
  config.kind = lathe::SamplerKind::Euler;
  config.steps = kSteps;

  {  // warm-up: oneDNN primitives and allocator pools, as the reference's
    auto warm = torch::randn({1, 4, kLatent, kLatent});
    denoiser(warm, torch::tensor({999.0f}));
    to_image(warm);
  }
  b::reset_peak_rss();
  const double cpu0 = b::process_cpu_seconds();
  double loop_total = 0, decode_total = 0, fastest = 1e30, slowest = 0;
  std::uint64_t seed = 100;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    SeededStepNoise step_noise(seed);
    auto noise = torch::randn({1, 4, kLatent, kLatent}, at::detail::createCPUGenerator(seed++));
    auto latents = lathe::sample(schedule, config, noise, denoiser, step_noise);
    const double loop_s = seconds_since(t0);
    auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(to_image(latents).data_ptr());
    const double decode_s = seconds_since(t1), total = seconds_since(t0);
    loop_total += loop_s;
    decode_total += decode_s;
    fastest = std::min(fastest, total);
    slowest = std::max(slowest, total);
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["s_per_image"] = (loop_total + decode_total) / n;
  state.counters["min_s"] = fastest;
  state.counters["max_s"] = slowest;
  state.counters["loop_s"] = loop_total / n;
  state.counters["decode_s"] = decode_total / n;
  state.counters["it_per_s"] = kSteps / (loop_total / n);
  state.counters["cpu_s_per_image"] = (b::process_cpu_seconds() - cpu0) / n;
  state.counters["peak_RSS_MiB"] = b::peak_rss_mib();
}

BENCHMARK_CAPTURE(BM_SampleImage, SD15_512/fp32, torch::kFloat32)
    ->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_SampleImage, SD15_512/bf16, torch::kBFloat16)
    ->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
