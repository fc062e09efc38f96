// Speed of the networks that dominate training and latent caching, on this CPU: a full-size
// SD 1.5 UNet (random weights, 64x64 latents = 512 px, batch 1) forward, and forward+backward
// with frozen weights (gradient w.r.t. the input only, the LoRA situation); the SD VAE encoder
// at 512 px. Each reports time, peak RSS during the benchmark (VmHWM after resetting it through
// /proc/self/clear_refs), and achieved FLOP/s as a fraction of this machine's fp32 GEMM peak,
// measured by the Gemm benchmark in the same program (a 2048^3 torch::mm). FLOPs are counted
// analytically from the configuration: multiply-adds of every convolution, linear layer and
// attention matmul (x2); normalisations, activations and softmax are not counted (a few %).
#include "models/unet.h"
#include "models/vae.h"
#include "unet_flops.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <sys/resource.h>

#include <fstream>
#include <string>
#include <thread>

namespace {

using lathe::UNetConfig;
using lathe::VAEConfig;

double g_gemm_peak = 0;          // FLOP/s (wall), set by BM_Gemm (registered first)
double g_gemm_per_cpu_s = 0;     // FLOP per process CPU-second of BM_Gemm

using lathe::bench::Flops;
using lathe::bench::peak_rss_mib;
using lathe::bench::process_cpu_seconds;
using lathe::bench::reset_peak_rss;
using lathe::bench::unet_flops;
double conv(double cin, double cout, double k, double hw_out) { return lathe::bench::conv_flops(cin, cout, k, hw_out); }

double vae_encoder_flops(const VAEConfig& c, double h, double w) {
  double f = 0, hw = h * w, ch = static_cast<double>(c.block_out_channels[0]);
  f += conv(c.in_channels, ch, 3, hw);
  auto resnet = [&](double cin, double cout) {
    f += conv(cin, cout, 3, hw) + conv(cout, cout, 3, hw) + (cin != cout ? conv(cin, cout, 1, hw) : 0);
  };
  for (std::size_t level = 0; level < c.block_out_channels.size(); ++level) {
    const double out = static_cast<double>(c.block_out_channels[level]);
    for (std::int64_t i = 0; i < c.layers_per_block; ++i) {
      resnet(ch, out);
      ch = out;
    }
    if (level + 1 < c.block_out_channels.size()) {
      hw /= 4;
      f += conv(ch, ch, 3, hw);
    }
  }
  resnet(ch, ch);
  f += 4 * conv(ch, ch, 1, hw) + 2 * (2 * hw * hw * ch);  // q k v proj_out; q k^T, a v
  resnet(ch, ch);
  f += conv(ch, 2 * c.latent_channels, 3, hw) + conv(2 * c.latent_channels, 2 * c.latent_channels, 1, hw);
  return f;
}

void report(benchmark::State& state, double flops_per_iter, double cpu_seconds) {
  const double per_cpu_s = flops_per_iter * static_cast<double>(state.iterations()) / cpu_seconds;
  state.counters["cpu_s/iter"] = cpu_seconds / static_cast<double>(state.iterations());
  state.counters["FLOP/cpu_s"] = per_cpu_s;
  if (g_gemm_per_cpu_s > 0) state.counters["frac_of_gemm_per_cpu_s"] = per_cpu_s / g_gemm_per_cpu_s;
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/iter"] = flops_per_iter / 1e9;
  state.counters["peak_RSS_MiB"] = peak_rss_mib();
  if (g_gemm_peak > 0) {
    // fraction of the GEMM peak, from the mean iteration time of this run
    state.counters["frac_of_gemm_peak"] =
        benchmark::Counter(flops_per_iter / g_gemm_peak, benchmark::Counter::kIsIterationInvariantRate);
  }
}

void BM_Gemm(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  const std::int64_t n = state.range(0);
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n}), b = torch::randn({n, n}), c = torch::empty({n, n});
  torch::mm_out(c, a, b);  // warm-up
  const double flops = 2.0 * n * n * n;
  double best = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, flops / s);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  const double per_cpu_s = flops * static_cast<double>(state.iterations()) / (process_cpu_seconds() - cpu0);
  g_gemm_peak = std::max(g_gemm_peak, best);  // the peak is the best repetition observed
  g_gemm_per_cpu_s = std::max(g_gemm_per_cpu_s, per_cpu_s);
  state.counters["FLOP/cpu_s"] = per_cpu_s;
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["best_FLOP/s"] = best;
}

struct UNetFixture {
  lathe::UNet unet{nullptr};
  torch::Tensor x, t, ctx;
  UNetFixture() {
    torch::manual_seed(0);
    unet = lathe::UNet(UNetConfig::sd15());
    unet->eval();
    for (auto& p : unet->parameters()) p.set_requires_grad(false);
    x = torch::randn({1, 4, 64, 64});
    t = torch::tensor(std::vector<std::int64_t>{500});
    ctx = torch::randn({1, 77, 768});
  }
};

UNetFixture& unet_fixture() {
  static UNetFixture f;
  return f;
}

void BM_UNetSD15Forward(benchmark::State& state) {
  auto& f = unet_fixture();
  reset_peak_rss();
  torch::NoGradGuard no_grad;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(f.unet->forward(f.x, f.t, f.ctx).data_ptr());
  report(state, unet_flops(UNetConfig::sd15(), 64, 64, 77).forward(), process_cpu_seconds() - cpu0);
}

void BM_UNetSD15ForwardBackward(benchmark::State& state) {
  auto& f = unet_fixture();
  reset_peak_rss();
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    auto x = f.x.clone().requires_grad_(true);
    f.unet->forward(x, f.t, f.ctx).pow(2).mean().backward();
    benchmark::DoNotOptimize(x.grad().data_ptr());
  }
  const auto fl = unet_flops(UNetConfig::sd15(), 64, 64, 77);
  report(state, fl.forward() + fl.backward_input_only(), process_cpu_seconds() - cpu0);
}

void BM_VAEEncoder512(benchmark::State& state) {
  torch::manual_seed(0);
  lathe::VAE vae(VAEConfig::sd());
  vae->eval();
  auto image = torch::rand({1, 3, 512, 512}) * 2 - 1;
  reset_peak_rss();
  torch::NoGradGuard no_grad;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(vae->moments(image).data_ptr());
  report(state, vae_encoder_flops(VAEConfig::sd(), 512, 512), process_cpu_seconds() - cpu0);
}

// Wall-clock rates (UseRealTime): the default would divide by the main thread's CPU time only,
// while torch runs on every core.
BENCHMARK(BM_Gemm)->Arg(2048)->Iterations(5)->Repetitions(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VAEEncoder512)->Iterations(1)->Repetitions(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_UNetSD15Forward)->Iterations(1)->Repetitions(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_UNetSD15ForwardBackward)->Iterations(1)->Repetitions(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
