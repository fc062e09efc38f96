// One LoRA training step of a full-size UNet on a chosen device, timed: the hot path of
// `lathe train` (forward with the LoRA attached, MSE against the noise, backward, AdamW on the
// LoRA). The same setup as bench/train_step_bench.cpp and bench/reference/diffusers_lora_step.py
// (kohya's default UNet targets, rank 16, alpha 8, a 77-token random context, timestep 500),
// made a plain program with JSON output so it builds and runs on a GPU machine that has only
// libtorch, cmake and ninja (no Google Benchmark): see bench/gpu/run.sh.
//
//   train_step_gpu --model sd15|sdxl [--tiny] [--resolution PX] [--batch N] [--dtype bf16|fp16|fp32]
//                  [--gradient-checkpointing] [--device cuda|cpu|cuda:N] [--steps N] [--warmup N]
//                  [--threads N] [--no-deterministic]
// (A Kineto trace of a step: bench/train_step_bench with LATHE_BENCH_PROFILE, in the full build.)
// Prints one JSON object (the keys of the reference script's) as its last line.
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

#include "lora/lora_network.h"
#include "models/unet.h"
#include "train/model/compute_device.h"
#include "train/optim/loss_scaler.h"
#include "train/optim/optimizers.h"
#include "train/model/precision.h"

namespace {

using lathe::UNetConfig;
using lathe::WeightDType;

struct Options {
  std::string model = "sd15";
  bool tiny = false;
  int resolution = 0;  // 0: the model's own (512 / 1024; 64 tiny)
  int batch = 1;
  std::string dtype = "bf16";
  bool checkpointing = false;
  std::string device = "auto";
  int steps = 10, warmup = 2, threads = 0;
  bool deterministic = true;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "train_step_gpu: " << why << "\n(see the comment at the top of bench/gpu/train_step_gpu.cpp)\n";
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
    if (a == "--model") o.model = value();
    else if (a == "--tiny") o.tiny = true;
    else if (a == "--resolution") o.resolution = std::stoi(value());
    else if (a == "--batch") o.batch = std::stoi(value());
    else if (a == "--dtype") o.dtype = value();
    else if (a == "--gradient-checkpointing") o.checkpointing = true;
    else if (a == "--device") o.device = value();
    else if (a == "--steps") o.steps = std::stoi(value());
    else if (a == "--warmup") o.warmup = std::stoi(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--no-deterministic") o.deterministic = false;
    else usage("unknown option " + a);
  }
  if (o.model != "sd15" && o.model != "sdxl") usage("--model is sd15 or sdxl");
  if (o.dtype != "bf16" && o.dtype != "fp16" && o.dtype != "fp32") usage("--dtype is bf16, fp16 or fp32");
  if (o.steps < 1 || o.batch < 1) usage("--steps and --batch must be at least 1");
  return o;
}

// The tiny configurations of the tests (same topologies, small widths) for the CPU dry run.
UNetConfig config_of(const Options& o) {
  if (!o.tiny) return o.model == "sd15" ? UNetConfig::sd15() : UNetConfig::sdxl();
  UNetConfig c;
  c.block_out_channels = {32, 64};
  c.heads = {4, 4};
  c.mid_heads = 4;
  c.cross_attention_dim = 32;
  if (o.model == "sd15") {
    c.layers_per_block = 1;
    c.attention = {true, false};
    c.transformer_depth = {1, 1};
  } else {
    c.layers_per_block = 2;
    c.attention = {false, true};
    c.transformer_depth = {1, 2};
    c.mid_transformer_depth = 2;
    c.linear_projection = true;
    c.addition_time_embed_dim = 8;
    c.adm_in_channels = 16 + 6 * 8;
  }
  return c;
}

WeightDType weight_dtype(const std::string& name) {
  return name == "bf16" ? WeightDType::BF16 : name == "fp16" ? WeightDType::FP16 : WeightDType::FP32;
}

double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const torch::Device device = lathe::resolve_device(o.device);
  lathe::configure_backends(device, {/*allow_tf32=*/true, o.deterministic});
  UNetConfig config = config_of(o);
  config.gradient_checkpointing = o.checkpointing;
  const lathe::ModelFamily family = o.model == "sd15" ? lathe::ModelFamily::SD1 : lathe::ModelFamily::SDXL;
  const int resolution = o.resolution > 0 ? o.resolution : o.tiny ? 64 : (o.model == "sd15" ? 512 : 1024);
  const std::int64_t side = resolution / 8;

  std::cerr << fmt::format("building {}{} UNet ({}, {}), {} px, batch {}{}\n", o.model, o.tiny ? " tiny" : "", o.dtype,
                           device.str(), resolution, o.batch, o.checkpointing ? ", gradient checkpointing" : "");
  torch::manual_seed(0);
  lathe::UNet unet(config);
  lathe::store_base_weights(*unet, weight_dtype(o.dtype));  // on the CPU first: no fp32 copy on the GPU
  for (auto& p : unet->parameters()) p.set_requires_grad(false);
  unet->to(device);
  unet->train();
  lathe::LoRAOptions lora_options;
  lora_options.rank = 16;
  lora_options.alpha = 8;
  lathe::LoRANetwork lora(unet, std::vector<lathe::CLIPTextModel>{}, family, lora_options);
  lora->to(device);
  lora->train();
  lathe::OptimizerConfig opt;
  opt.type = lathe::OptimizerType::AdamW;
  auto optimizer = lathe::make_optimizer(opt, {lathe::make_param_group("unet", lora->unet_parameters(), 1e-4)});
  lathe::LossScaler scaler(o.dtype == "fp16");

  auto f32 = torch::TensorOptions().device(device).dtype(torch::kFloat32);
  auto latents = torch::randn({o.batch, 4, side, side}, f32);
  auto noise = torch::randn({o.batch, 4, side, side}, f32);
  auto timesteps = torch::full({o.batch}, 500, torch::TensorOptions().device(device).dtype(torch::kLong));
  auto context = torch::randn({o.batch, 77, config.cross_attention_dim}, f32);
  torch::Tensor y;
  if (config.adm_in_channels > 0) y = torch::randn({o.batch, config.adm_in_channels}, f32);
  auto step = [&] {
    auto noisy = latents + noise;  // the schedule's scaling does not change the cost
    auto loss = torch::mse_loss(unet->forward(noisy, timesteps, context, y).to(torch::kFloat32), noise);
    scaler.scale_loss(loss).backward();
    const bool finite = scaler.unscale_and_check(optimizer->all_params());
    if (finite) optimizer->step();
    scaler.update(finite);
    optimizer->zero_grad();
    return loss.item<double>();  // one sync per step, as the trainer's loss logging does
  };

  for (int i = 0; i < o.warmup; ++i) step();
  sync(device);
  std::ofstream("/proc/self/clear_refs") << "5";
  lathe::reset_peak_memory(device);
  std::vector<double> seconds;
  double loss = 0;
  for (int i = 0; i < o.steps; ++i) {
    sync(device);
    const auto t0 = std::chrono::steady_clock::now();
    loss = step();
    sync(device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const auto peak_gpu = lathe::peak_memory_bytes(device);

  nlohmann::json j = {
      {"implementation", "lathe"},
      {"model", o.model},
      {"tiny", o.tiny},
      {"resolution", resolution},
      {"batch", o.batch},
      {"dtype", o.dtype},
      {"device", device.str()},
      {"gpu", device.is_cuda() ? nlohmann::json(lathe::describe_device(device).name) : nlohmann::json(nullptr)},
      {"gradient_checkpointing", o.checkpointing},
      {"deterministic", o.deterministic},
      {"lora_params", lora->parameters().size()},
      {"trainable_modules", lora->targets().size()},
      {"warmup", o.warmup},
      {"steps", o.steps},
      {"s_per_step", median},
      {"min_s", sorted.front()},
      {"max_s", sorted.back()},
      {"it_per_s", 1.0 / median},
      {"loss", loss},
      {"peak_rss_mib", peak_rss_mib()},
      {"peak_gpu_mib", peak_gpu ? nlohmann::json(static_cast<double>(*peak_gpu) / (1 << 20)) : nlohmann::json(nullptr)},
      {"torch", TORCH_VERSION},
  };
  std::cout << j.dump() << std::endl;
  return 0;
}
