// A textual-inversion step beside a LoRA step on the same full-size SD 1.5 model, on this CPU
// (#16). Both encode the same caption through the full-size CLIP ViT-L text encoder and train
// the UNet's noise prediction (MSE, batch 1, 64x64 latents = 512 px), with frozen bf16 base
// weights (fp32 with --fp32 in the filter name) and AdamW:
//   LoRA:      rank 16 / alpha 8 on kohya's UNet targets; the caption is encoded without grad
//              (text encoder frozen, no text-encoder LoRA), backward through the UNet only;
//   embedding: no LoRA; the caption holds a new word of 4 vectors installed in the text encoder
//              (src/embedding), encoded with grad, so the backward runs through the frozen UNet
//              *and* the frozen text encoder down to the vectors; AdamW on the vectors alone.
// One warm-up step, then the timed steps (min_s / max_s: their spread). peak_RSS_MiB is VmHWM
// reset after the models were built and warmed up (weights included). Run each variant in its
// own process so peak RSS is its own:
//   embedding_step_bench --benchmark_filter='SD15/lora/bf16' --benchmark_counters_tabular=true
//   embedding_step_bench --benchmark_filter='SD15/embedding/bf16' --benchmark_counters_tabular=true
// Random weights (fixed seeds) and the word-hash tokenizer: the cost does not depend on them.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <thread>

#include "embedding/embedding_install.h"
#include "lora/lora_network.h"
#include "models/clip_text.h"
#include "models/unet.h"
#include "train/model/base_model.h"
#include "train/model/precision.h"
#include "train/model/text_conditioning.h"
#include "train/model/word_hash_tokenizer.h"
#include "train/optim/optimizers.h"
#include "unet_flops.h"

namespace {

using lathe::WeightDType;
namespace b = lathe::bench;

enum class Kind { LoRA, Embedding };

const char* kCaption = "jinxdef, 1girl, red hair, looking at viewer, outdoors";

// SD 1.5's UNet and CLIP ViT-L, frozen, base weights in `dtype`; no VAE (latents are given).
lathe::BaseModel build_sd15(WeightDType dtype) {
  lathe::BaseModel m;
  m.family = lathe::ModelFamily::SD1;
  torch::manual_seed(0);
  m.unet = lathe::UNet(lathe::UNetConfig::sd15());
  lathe::CLIPTextConfig clip;  // defaults: SD 1.5's ViT-L/14 text tower
  m.text_encoders.push_back(lathe::CLIPTextModel(clip));
  m.tokenizer = lathe::make_word_hash_tokenizer(clip.vocab_size);
  m.name = "random SD 1.5 (bench)";
  for (torch::nn::Module* module : {static_cast<torch::nn::Module*>(m.unet.get()),
                                    static_cast<torch::nn::Module*>(m.text_encoders[0].get())}) {
    lathe::store_base_weights(*module, dtype);
    for (auto& p : module->parameters()) p.set_requires_grad(false);
    module->eval();
  }
  return m;
}

void BM_Step(benchmark::State& state, Kind kind, WeightDType dtype) {
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  lathe::BaseModel model = build_sd15(dtype);
  std::vector<lathe::ParamGroup> groups;
  lathe::LoRANetwork lora{nullptr};
  if (kind == Kind::LoRA) {
    lathe::LoRAOptions options;
    options.rank = 16;
    options.alpha = 8;
    options.text_encoders = false;
    lora = lathe::LoRANetwork(model.unet, model.text_encoders, model.family, options);
    lora->train();
    groups.push_back(lathe::make_param_group("unet", lora->unet_parameters(), 1e-4));
  } else {
    lathe::Embedding e = lathe::embedding_from_init_word(model, "jinxdef", 4, "woman");
    lathe::InstalledEmbedding installed = lathe::install_embedding(model, e, /*trainable=*/true);
    groups.push_back(lathe::make_param_group("embeddings", installed.vectors, 5e-3));
  }
  lathe::OptimizerConfig opt;
  opt.type = lathe::OptimizerType::AdamW;
  auto optimizer = lathe::make_optimizer(opt, std::move(groups));

  torch::manual_seed(1);
  auto latents = torch::randn({1, 4, 64, 64});
  auto noise = torch::randn({1, 4, 64, 64});
  auto timesteps = torch::tensor(std::vector<std::int64_t>{500});
  const bool text_grad = kind == Kind::Embedding;
  auto step = [&] {
    lathe::Conditioning cond;
    {
      torch::AutoGradMode grad(text_grad);
      cond = lathe::encode_captions(model, {kCaption}, 1, torch::kCPU);
    }
    auto pred = model.unet->forward(latents + noise, timesteps, cond.context, torch::Tensor());
    auto loss = torch::mse_loss(pred.to(torch::kFloat32), noise);
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
    return loss.item<double>();
  };
  state.counters["trained_tensors"] = static_cast<double>(optimizer->all_params().size());
  step();  // warm-up: AdamW state, oneDNN primitives, allocator pools
  b::reset_peak_rss();
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
  state.counters["peak_RSS_MiB"] = b::peak_rss_mib();
}

// Wall-clock (UseRealTime): torch runs on every core, not just the benchmark's thread.
BENCHMARK_CAPTURE(BM_Step, SD15/lora/bf16, Kind::LoRA, WeightDType::BF16)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Step, SD15/embedding/bf16, Kind::Embedding, WeightDType::BF16)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Step, SD15/lora/fp32, Kind::LoRA, WeightDType::FP32)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Step, SD15/embedding/fp32, Kind::Embedding, WeightDType::FP32)
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
