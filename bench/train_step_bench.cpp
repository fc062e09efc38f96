// One LoRA training step of a full-size UNet on this CPU, the hot path of `lathe train`:
// forward with the LoRA attached, MSE loss against the noise, backward, AdamW step on the LoRA
// parameters. Random weights (fixed seed), batch 1, 64x64 latents (512 px), a 77-token context;
// LoRA rank 16, alpha 8, kohya's default UNet targets (transformer Linears and 1x1 projections,
// no LoCon), UNet only. Variants: SD 1.5 with fp32 base weights, fp32 + gradient checkpointing,
// bf16 base weights, bf16 + checkpointing; SDXL with bf16 base weights + checkpointing.
//
// Run each variant in its own process (peak RSS is per process), with the GEMM benchmark of its
// dtype first so the fraction of peak can be computed, e.g.
//   train_step_bench --benchmark_filter='Gemm/bf16|SD15/bf16_ckpt' --benchmark_counters_tabular=true
// bench/cpu_side_by_side.sh runs each variant beside the diffusers + PEFT reference.
// One warm-up step, then the timed steps (min_s / max_s: their spread); LATHE_BENCH_PROFILE=FILE
// runs one more step under the autograd profiler and writes its chrome trace there. Counters: peak_RSS_MiB
// is VmHWM reset after the model was built, cast and warmed up (weights included, construction
// excluded: a trainer loads bf16 weights straight from the file); GFLOP/step counts
// the useful work only (unet_flops.h: forward + the frozen-weight backward; the LoRA's own
// matmuls, ~3% more, and the checkpointed recompute, one more forward, are not counted).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "kineto_trace.h"

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "lora/lora_network.h"
#include "models/unet.h"
#include "train/optim/optimizers.h"
#include "train/model/precision.h"
#include "unet_flops.h"

namespace {

using lathe::UNetConfig;
using lathe::WeightDType;
namespace b = lathe::bench;

// Matrix-multiply peaks per dtype (index 0: fp32, 1: bf16), each the best repetition of
// BM_Gemm in that dtype: a step is compared with the peak of the dtype it computes in.
double g_gemm_peak[2] = {0, 0};       // FLOP/s (wall)
double g_gemm_per_cpu_s[2] = {0, 0};  // FLOP per process CPU-second

int dtype_slot(WeightDType dtype) { return dtype == WeightDType::BF16 ? 1 : 0; }

void BM_Gemm(benchmark::State& state, WeightDType dtype) {
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  const std::int64_t n = state.range(0);
  const int slot = dtype_slot(dtype);
  torch::NoGradGuard no_grad;
  const auto t = lathe::torch_dtype_of(dtype);
  auto x = torch::randn({n, n}).to(t), y = torch::randn({n, n}).to(t), z = torch::empty({n, n}, t);
  torch::mm_out(z, x, y);  // warm-up
  const double flops = 2.0 * n * n * n;
  double best = 0;
  const double cpu0 = b::process_cpu_seconds();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    torch::mm_out(z, x, y);
    best = std::max(best, flops / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    benchmark::DoNotOptimize(z.data_ptr());
  }
  g_gemm_peak[slot] = std::max(g_gemm_peak[slot], best);
  g_gemm_per_cpu_s[slot] = std::max(g_gemm_per_cpu_s[slot],
                              flops * static_cast<double>(state.iterations()) / (b::process_cpu_seconds() - cpu0));
  state.counters["best_FLOP/s"] = best;
}

enum class Family { SD15, SDXL };

// Builds the UNet directly in the base dtype where libtorch allows (the default dtype switched
// for construction), so a bf16 SDXL never exists in fp32 (10 GB); falls back to a cast.
lathe::UNet build_unet(const UNetConfig& config, WeightDType dtype) {
  torch::manual_seed(0);
  const auto previous = torch::get_default_dtype();
  lathe::UNet unet{nullptr};
  if (dtype == WeightDType::BF16) {
    try {
      torch::set_default_dtype(caffe2::TypeMeta::Make<at::BFloat16>());
      unet = lathe::UNet(config);
    } catch (const std::exception&) {
      unet = nullptr;
    }
    torch::set_default_dtype(previous);
  }
  if (!unet) unet = lathe::UNet(config);
  lathe::store_base_weights(*unet, dtype);
  for (auto& p : unet->parameters()) p.set_requires_grad(false);
  return unet;
}

void BM_TrainStep(benchmark::State& state, Family family, WeightDType dtype, bool checkpointing) {
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  auto config = family == Family::SD15 ? UNetConfig::sd15() : UNetConfig::sdxl();
  config.gradient_checkpointing = checkpointing;
  auto unet = build_unet(config, dtype);
  unet->train();
  lathe::LoRAOptions options;
  options.rank = 16;
  options.alpha = 8;
  lathe::LoRANetwork lora(unet, std::vector<lathe::CLIPTextModel>{},
                          family == Family::SD15 ? lathe::ModelFamily::SD1 : lathe::ModelFamily::SDXL, options);
  lora->train();
  lathe::OptimizerConfig opt;
  opt.type = lathe::OptimizerType::AdamW;
  auto optimizer = lathe::make_optimizer(opt, {lathe::make_param_group("unet", lora->unet_parameters(), 1e-4)});

  torch::manual_seed(1);
  auto latents = torch::randn({1, 4, 64, 64});
  auto noise = torch::randn({1, 4, 64, 64});
  auto timesteps = torch::tensor(std::vector<std::int64_t>{500});
  auto context = torch::randn({1, 77, config.cross_attention_dim});
  torch::Tensor y;
  if (config.adm_in_channels > 0) y = torch::randn({1, config.adm_in_channels});
  auto step = [&] {
    auto noisy = latents + noise;  // the schedule's scaling does not change the cost
    auto loss = torch::mse_loss(unet->forward(noisy, timesteps, context, y), noise);
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
    return loss.item<double>();
  };
  state.counters["base_MiB"] = static_cast<double>(lathe::floating_bytes(*unet)) / (1 << 20);
  state.counters["lora_params"] = static_cast<double>(lora->parameters().size());
  step();  // warm-up: AdamW state, oneDNN primitives, allocator pools
  if (const char* trace = std::getenv("LATHE_BENCH_PROFILE")) {
    // One more step under the Kineto profiler (chrome trace JSON: which ops take the time).
    lathe::bench::KinetoTrace profile(trace);
    step();
  }
  b::reset_peak_rss();
  const double cpu0 = b::process_cpu_seconds();
  double fastest = 1e30, slowest = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(step());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fastest = std::min(fastest, s);
    slowest = std::max(slowest, s);
  }
  state.counters["min_s"] = fastest;
  state.counters["max_s"] = slowest;
  const double cpu_s = (b::process_cpu_seconds() - cpu0) / static_cast<double>(state.iterations());
  const auto fl = b::unet_flops(config, 64, 64, 77);
  const double useful = fl.forward() + fl.backward_input_only();
  state.counters["GFLOP/step"] = useful / 1e9;
  state.counters["cpu_s/step"] = cpu_s;
  state.counters["peak_RSS_MiB"] = b::peak_rss_mib();
  state.counters["FLOP/s"] = benchmark::Counter(useful, benchmark::Counter::kIsIterationInvariantRate);
  // Compared with the matmul peak of the dtype the step computes in (bf16 weights: bf16).
  const int slot = dtype_slot(dtype);
  if (g_gemm_peak[slot] > 0)
    state.counters["frac_of_gemm_peak"] =
        benchmark::Counter(useful / g_gemm_peak[slot], benchmark::Counter::kIsIterationInvariantRate);
  if (g_gemm_per_cpu_s[slot] > 0) state.counters["frac_of_gemm_per_cpu_s"] = useful / cpu_s / g_gemm_per_cpu_s[slot];
}

// Wall-clock rates (UseRealTime): torch runs on every core, not just the benchmark's thread.
BENCHMARK_CAPTURE(BM_Gemm, fp32, WeightDType::FP32)
    ->Arg(2048)->Iterations(5)->Repetitions(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gemm, bf16, WeightDType::BF16)
    ->Arg(2048)->Iterations(5)->Repetitions(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, SD15/fp32, Family::SD15, WeightDType::FP32, false)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, SD15/fp32_ckpt, Family::SD15, WeightDType::FP32, true)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, SD15/bf16, Family::SD15, WeightDType::BF16, false)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, SD15/bf16_ckpt, Family::SD15, WeightDType::BF16, true)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, SDXL/bf16_ckpt, Family::SDXL, WeightDType::BF16, true)
    ->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
