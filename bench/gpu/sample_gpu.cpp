// Text-to-image sampling on a chosen device, timed: the path of `lathe sample` after the prompt
// is encoded, as bench/sample_bench.cpp runs it on the CPU and bench/reference/
// sample_reference.py runs diffusers' pipeline loop: SD 1.5 UNet and VAE with random weights,
// 512 px, 20 Euler steps with classifier-free guidance (both rows in one UNet batch of 2,
// guidance 7), the VAE decode and the 8-bit image. A plain program with JSON output so it builds
// on a GPU machine that has only libtorch, cmake and ninja (bench/gpu/run.sh).
//
//   sample_gpu [--tiny] [--resolution PX] [--steps N] [--images N] [--dtype bf16|fp16|fp32]
//              [--device cuda|cpu|cuda:N] [--threads N] [--tiled-decode]
// Prints one JSON object (the keys of the reference script's) as its last line.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diffusion/noise_schedule.h"
#include "diffusion/sampler.h"
#include "models/unet.h"
#include "models/vae.h"
#include "sample/tiled_decode.h"
#include "train/model/compute_device.h"

namespace {

struct Options {
  bool tiny = false;
  int resolution = 0;  // 0: 512 (64 tiny)
  int steps = 20, images = 3, threads = 0;
  std::string dtype = "bf16", device = "auto";
  bool tiled = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "sample_gpu: " << why << "\n(see the comment at the top of bench/gpu/sample_gpu.cpp)\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--tiny") o.tiny = true;
    else if (a == "--resolution") o.resolution = std::stoi(value());
    else if (a == "--steps") o.steps = std::stoi(value());
    else if (a == "--images") o.images = std::stoi(value());
    else if (a == "--dtype") o.dtype = value();
    else if (a == "--device") o.device = value();
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--tiled-decode") o.tiled = true;
    else usage("unknown option " + a);
  }
  if (o.dtype != "bf16" && o.dtype != "fp16" && o.dtype != "fp32") usage("--dtype is bf16, fp16 or fp32");
  if (o.steps < 1 || o.images < 1) usage("--steps and --images must be at least 1");
  return o;
}

// The tiny configurations of the reference's --tiny (diffusers_lora_step.py SD15_TINY, VAE_TINY).
lathe::UNetConfig unet_config(bool tiny) {
  if (!tiny) return lathe::UNetConfig::sd15();
  lathe::UNetConfig c;
  c.block_out_channels = {32, 64};
  c.heads = {4, 4};
  c.mid_heads = 4;
  c.cross_attention_dim = 32;
  c.layers_per_block = 1;
  c.attention = {true, false};
  c.transformer_depth = {1, 1};
  return c;
}

lathe::VAEConfig vae_config(bool tiny) {
  lathe::VAEConfig c = lathe::VAEConfig::sd();
  if (!tiny) return c;
  c.block_out_channels = {32, 64};
  c.layers_per_block = 1;
  c.norm_groups = 8;
  return c;
}

class SeededStepNoise : public lathe::StepNoise {  // Euler draws none
 public:
  torch::Tensor next(const torch::Tensor& like) override { return torch::randn_like(like); }
};

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const torch::Device device = lathe::resolve_device(o.device);
  lathe::configure_backends(device, {/*allow_tf32=*/true, /*deterministic=*/false});
  const auto dtype = o.dtype == "bf16" ? torch::kBFloat16 : o.dtype == "fp16" ? torch::kFloat16 : torch::kFloat32;
  const int resolution = o.resolution > 0 ? o.resolution : o.tiny ? 64 : 512;
  const std::int64_t side = resolution / 8;
  torch::NoGradGuard no_grad;

  std::cerr << fmt::format("building sd15{} UNet and VAE ({}, {}), {} px, {} steps\n", o.tiny ? " tiny" : "", o.dtype,
                           device.str(), resolution, o.steps);
  torch::manual_seed(0);
  const auto uc = unet_config(o.tiny);
  lathe::UNet unet(uc);
  lathe::VAE vae(vae_config(o.tiny));
  unet->to(device, dtype);
  vae->to(device, dtype);
  unet->eval();
  vae->eval();
  auto context = torch::randn({2, 77, uc.cross_attention_dim}).to(device, dtype);

  lathe::Denoiser denoiser = [&](const torch::Tensor& x_in, const torch::Tensor& timestep) {
    auto x = x_in.to(dtype).expand({2, -1, -1, -1});
    auto t = timestep.reshape({-1}).expand({2}).to(device);
    auto halves = unet->forward(x, t, context).to(torch::kFloat32).chunk(2);
    return lathe::guide(halves[0], halves[1], 7.0);
  };
  auto to_image = [&](const torch::Tensor& latents) {
    auto pixels = lathe::decode_latents(*vae, latents.to(dtype) / vae->config().scaling_factor, o.tiled);
    return (pixels[0].to(torch::kFloat32) / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch::kUInt8).to(torch::kCPU);
  };
  const lathe::NoiseSchedule schedule(lathe::NoiseScheduleConfig{}, device);
  lathe::SamplerConfig config;
  config.kind = lathe::SamplerKind::Euler;
  config.steps = o.steps;
  SeededStepNoise step_noise;

  {  // warm-up: one UNet call and one decode (cuDNN plans, allocator pools), as the reference's
    auto warm = torch::randn({1, 4, side, side}).to(device);
    denoiser(warm, torch::tensor({999.0f}));
    to_image(warm);
    sync(device);
  }
  std::ofstream("/proc/self/clear_refs") << "5";
  lathe::reset_peak_memory(device);
  std::vector<double> totals, loops, decodes;
  for (int i = 0; i < o.images; ++i) {
    auto noise = torch::randn({1, 4, side, side}, at::detail::createCPUGenerator(100 + i)).to(device);
    sync(device);
    const auto t0 = std::chrono::steady_clock::now();
    auto latents = lathe::sample(schedule, config, noise, denoiser, step_noise);
    sync(device);
    loops.push_back(seconds_since(t0));
    const auto t1 = std::chrono::steady_clock::now();
    to_image(latents);
    sync(device);
    decodes.push_back(seconds_since(t1));
    totals.push_back(seconds_since(t0));
    std::cerr << fmt::format("image {}/{}: {:.3f} s ({} steps {:.3f} s, decode {:.3f} s)\n", i + 1, o.images,
                             totals.back(), o.steps, loops.back(), decodes.back());
  }
  const auto peak_gpu = lathe::peak_memory_bytes(device);
  double peak_rss = 0;
  {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmHWM:", 0) == 0) peak_rss = std::stod(line.substr(6)) / 1024.0;
  }
  nlohmann::json j = {
      {"impl", "lathe"},
      {"tiny", o.tiny},
      {"resolution", resolution},
      {"steps", o.steps},
      {"cfg", 7.0},
      {"dtype", o.dtype},
      {"device", device.str()},
      {"gpu", device.is_cuda() ? nlohmann::json(lathe::describe_device(device).name) : nlohmann::json(nullptr)},
      {"images", o.images},
      {"tiled_decode", o.tiled},
      {"s_per_image", median(totals)},
      {"min_s", *std::min_element(totals.begin(), totals.end())},
      {"max_s", *std::max_element(totals.begin(), totals.end())},
      {"loop_s", median(loops)},
      {"decode_s", median(decodes)},
      {"it_per_s", o.steps / median(loops)},
      {"peak_rss_mib", peak_rss},
      {"peak_gpu_mib", peak_gpu ? nlohmann::json(static_cast<double>(*peak_gpu) / (1 << 20)) : nlohmann::json(nullptr)},
      {"torch", TORCH_VERSION},
  };
  std::cout << j.dump() << std::endl;
  return 0;
}
