// Base weights in bf16 with an fp32 LoRA (train/precision.h): the tiny UNet's output stays
// within bf16 tolerance of the fp32 model, LoRA gradients are fp32 and finite (with and without
// gradient checkpointing), base weights take half the memory, the text encoder and VAE accept
// their usual inputs, autocast scopes nest and restore, fp16 on the CPU runs with a note, and
// "auto" precision resolves per device (bf16 on a card without bf16 is an error).
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>

#include "../lora/lora_fixtures.h"
#include "common/error.h"
#include "lora/lora_network.h"
#include "models/vae.h"
#include "train/model/precision.h"

namespace lathe {
namespace {

// Relative error of `got` against `want`, over the whole tensor (max |diff| / max |want|).
double rel_error(const torch::Tensor& got, const torch::Tensor& want) {
  auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  return (g - w).abs().max().item<double>() / std::max(w.abs().max().item<double>(), 1e-12);
}

void freeze(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
}

// A tiny SD 1.5-shaped UNet with a LoRA whose up weights are random (a fresh LoRA is a no-op,
// and its down weights would get no gradient), built identically for every seed.
struct Model {
  UNet unet{nullptr};
  LoRANetwork lora{nullptr};
  explicit Model(bool checkpointing = false) {
    torch::manual_seed(11);
    auto config = test::tiny_sd15();
    config.gradient_checkpointing = checkpointing;
    unet = UNet(config);
    freeze(*unet);
    LoRAOptions o;
    o.rank = 4;
    o.alpha = 2;
    o.conv_rank = 2;  // LoCon too: conv adapters on bf16 convs
    lora = LoRANetwork(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
    torch::NoGradGuard no_grad;
    for (auto& p : lora->named_parameters())
      if (p.key().find("lora_up") != std::string::npos) p.value().normal_(0.0, 0.05);
  }
};

test::UNetInputs inputs(UNet& unet) {
  torch::manual_seed(5);
  return test::unet_inputs(unet);
}

torch::Tensor loss_of(Model& m, const test::UNetInputs& in) {
  m.unet->train();
  m.lora->train();
  return m.unet->forward(in.x, in.t, in.ctx).pow(2).mean();
}

std::map<std::string, torch::Tensor> lora_grads(Model& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.lora->named_parameters()) out[p.key()] = p.value().grad();
  return out;
}

TEST(StoreBaseWeights, CastsTheBaseOnlyAndHalvesItsMemory) {
  Model m;
  const auto fp32_bytes = floating_bytes(*m.unet);
  const auto lora_bytes = floating_bytes(*m.lora);
  store_base_weights(*m.unet, WeightDType::BF16);
  for (const auto& p : m.unet->named_parameters()) {
    EXPECT_EQ(p.value().scalar_type(), torch::kBFloat16) << p.key();
    EXPECT_FALSE(p.value().requires_grad()) << p.key();
  }
  for (const auto& p : m.lora->named_parameters()) EXPECT_EQ(p.value().scalar_type(), torch::kFloat32) << p.key();
  EXPECT_EQ(floating_bytes(*m.unet) * 2, fp32_bytes);
  EXPECT_EQ(floating_bytes(*m.lora), lora_bytes);
  store_base_weights(*m.unet, WeightDType::FP32);  // and back
  EXPECT_EQ(floating_bytes(*m.unet), fp32_bytes);
}

// libtorch 2.x has fp16 CPU kernels: fp16 runs there (slowly), with a note that says so.
TEST(StoreBaseWeights, Fp16RunsOnTheCPUWithANoteThatBf16IsFaster) {
  Model m;
  store_base_weights(*m.unet, WeightDType::FP16);
  for (const auto& p : m.unet->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat16);
  torch::NoGradGuard no_grad;
  auto in = inputs(m.unet);
  auto out = m.unet->forward(in.x, in.t, in.ctx);
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  auto note = precision_note(MixedPrecision::FP16, WeightDType::FP32, torch::kCPU);
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("bf16"), std::string::npos) << *note;
  EXPECT_TRUE(precision_note(MixedPrecision::No, WeightDType::FP16, torch::kCPU));
  EXPECT_FALSE(precision_note(MixedPrecision::BF16, WeightDType::BF16, torch::kCPU));
}

TEST(Bf16Base, ForwardMatchesFp32WithinBf16Tolerance) {
  Model ref, low;
  store_base_weights(*low.unet, WeightDType::BF16);
  auto in = inputs(ref.unet);
  torch::NoGradGuard no_grad;
  auto want = ref.unet->forward(in.x, in.t, in.ctx);
  auto got = low.unet->forward(in.x, in.t, in.ctx);  // fp32 inputs into bf16 weights
  EXPECT_EQ(got.scalar_type(), torch::kFloat32);
  ASSERT_EQ(got.sizes(), want.sizes());
  const double err = rel_error(got, want);
  EXPECT_LT(err, 5e-2) << "bf16 has 8 significant bits; ~1e-2 expected";
  EXPECT_GT(err, 0.0) << "the bf16 model should not be the fp32 model";
}

TEST(Bf16Base, LoRAGradientsAreFp32FiniteAndCloseToFp32) {
  Model ref, low;
  store_base_weights(*low.unet, WeightDType::BF16);
  auto in = inputs(ref.unet);
  loss_of(ref, in).backward();
  auto loss = loss_of(low, in);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  loss.backward();
  for (const auto& p : low.unet->parameters()) EXPECT_FALSE(p.grad().defined());
  auto want = lora_grads(ref), got = lora_grads(low);
  ASSERT_EQ(got.size(), want.size());
  double total_err = 0, total_norm = 0;
  for (const auto& [name, g] : got) {
    ASSERT_TRUE(g.defined()) << name;
    EXPECT_EQ(g.scalar_type(), torch::kFloat32) << name;
    EXPECT_TRUE(torch::isfinite(g).all().item<bool>()) << name;
    total_err += (g - want[name]).pow(2).sum().item<double>();
    total_norm += want[name].pow(2).sum().item<double>();
  }
  ASSERT_GT(total_norm, 0);
  EXPECT_LT(std::sqrt(total_err / total_norm), 5e-2);
}

// Relative L2 distance between two sets of LoRA gradients (every one defined, fp32, finite).
double grads_distance(const std::map<std::string, torch::Tensor>& got, std::map<std::string, torch::Tensor>& want) {
  double err = 0, norm = 0;
  for (const auto& [name, g] : got) {
    EXPECT_TRUE(g.defined()) << name;
    if (!g.defined()) return 1e9;
    EXPECT_EQ(g.scalar_type(), torch::kFloat32) << name;
    EXPECT_TRUE(torch::isfinite(g).all().item<bool>()) << name;
    err += (g - want[name]).pow(2).sum().item<double>();
    norm += want[name].pow(2).sum().item<double>();
  }
  EXPECT_GT(norm, 0);
  return std::sqrt(err / norm);
}

TEST(Bf16Base, GradientCheckpointingGivesTheSameGradients) {
  for (auto dtype : {WeightDType::FP32, WeightDType::BF16}) {
    Model plain(false), ckpt(true);
    store_base_weights(*plain.unet, dtype);
    store_base_weights(*ckpt.unet, dtype);
    auto in = inputs(plain.unet);
    loss_of(plain, in).backward();
    loss_of(ckpt, in).backward();
    auto want = lora_grads(plain), got = lora_grads(ckpt);
    // fp32: the same sums in the same order up to kernel choice; bf16: the no-grad forward and
    // the recompute may pick different oneDNN kernels, whose bf16 roundings differ slightly.
    EXPECT_LT(grads_distance(got, want), dtype == WeightDType::FP32 ? 1e-5 : 2e-2) << weight_dtype_name(dtype);
  }
}

TEST(MixedPrecision, AutocastScopeComputesInBf16AndRestores) {
  Model ref, amp(true);  // fp32 weights; the autocast model also recomputes (checkpointing)
  auto in = inputs(ref.unet);
  loss_of(ref, in).backward();
  ASSERT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  torch::Tensor out;
  {
    MixedPrecisionScope outer(MixedPrecision::BF16, torch::kCPU);
    EXPECT_TRUE(at::autocast::is_autocast_enabled(at::kCPU));
    {
      MixedPrecisionScope none(MixedPrecision::No, torch::kCPU);  // changes nothing
      EXPECT_TRUE(at::autocast::is_autocast_enabled(at::kCPU));
    }
    amp.unet->train();
    amp.lora->train();
    out = amp.unet->forward(in.x, in.t, in.ctx);
  }
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  out.pow(2).mean().backward();  // outside the scope, through the checkpointed recompute
  for (const auto& p : amp.unet->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  auto want = lora_grads(ref), got = lora_grads(amp);
  double total_err = 0, total_norm = 0;
  for (const auto& [name, g] : got) {
    ASSERT_TRUE(g.defined()) << name;
    EXPECT_EQ(g.scalar_type(), torch::kFloat32) << name;
    total_err += (g - want[name]).pow(2).sum().item<double>();
    total_norm += want[name].pow(2).sum().item<double>();
  }
  EXPECT_LT(std::sqrt(total_err / total_norm), 5e-2);
  {
    // fp16 autocast runs on the CPU too (libtorch 2.x), matmuls in fp16.
    MixedPrecisionScope fp16(MixedPrecision::FP16, torch::kCPU);
    EXPECT_EQ(torch::matmul(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kFloat16);
  }
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
}

TEST(Bf16Base, TextEncoderAndVAE) {
  torch::manual_seed(3);
  CLIPTextModel te_ref(test::tiny_clip(2, 32)), te(nullptr);
  torch::manual_seed(3);
  te = CLIPTextModel(test::tiny_clip(2, 32));
  store_base_weights(*te, WeightDType::BF16);
  auto ids = torch::randint(0, 998, {2, 7}, torch::kLong);
  ids.index_put_({torch::indexing::Slice(), 6}, 999);
  torch::NoGradGuard no_grad;
  auto want = te_ref->forward(ids), got = te->forward(ids);
  EXPECT_EQ(got.last_hidden_state.scalar_type(), torch::kBFloat16);  // the weights' dtype
  EXPECT_LT(rel_error(got.last_hidden_state, want.last_hidden_state), 5e-2);
  EXPECT_LT(rel_error(got.pooled, want.pooled), 5e-2);

  VAEConfig vc;
  vc.block_out_channels = {32, 32};
  torch::manual_seed(4);
  VAE vae_ref(vc);
  torch::manual_seed(4);
  VAE vae(vc);
  store_base_weights(*vae, WeightDType::BF16);
  auto image = torch::rand({1, 3, 16, 16}) * 2 - 1;
  auto m_ref = vae_ref->moments(image), m = vae->moments(image);  // fp32 image in
  EXPECT_EQ(m.scalar_type(), torch::kFloat32);
  EXPECT_LT(rel_error(m, m_ref), 5e-2);
  auto dec = vae->decode(m.narrow(1, 0, 4));
  EXPECT_EQ(dec.scalar_type(), torch::kFloat32);
  EXPECT_LT(rel_error(dec, vae_ref->decode(m_ref.narrow(1, 0, 4))), 5e-2);
}

// Devices as describe_device would report them; a torch::Device needs no GPU to exist.
DeviceDescription card(const char* name, int major, int minor) {
  DeviceDescription d;
  d.name = name;
  d.compute_major = major;
  d.compute_minor = minor;
  d.bf16 = major >= 8;
  return d;
}

TEST(ResolvePrecision, AutoPicksPerDevice) {
  const torch::Device cpu(torch::kCPU), gpu(torch::kCUDA, 0);
  DeviceDescription plain_cpu;  // a CPU without AVX512-BF16 still runs bf16
  plain_cpu.bf16 = false;
  ResolvedPrecision on_cpu = resolve_precision(std::nullopt, MixedPrecision::Auto, cpu, plain_cpu);
  EXPECT_EQ(on_cpu.weights, WeightDType::BF16);
  EXPECT_EQ(on_cpu.mixed, MixedPrecision::BF16);

  ResolvedPrecision ampere = resolve_precision(std::nullopt, MixedPrecision::Auto, gpu, card("NVIDIA A100", 8, 0));
  EXPECT_EQ(ampere.weights, WeightDType::BF16);
  EXPECT_EQ(ampere.mixed, MixedPrecision::BF16);

  ResolvedPrecision turing = resolve_precision(std::nullopt, MixedPrecision::Auto, gpu, card("Tesla T4", 7, 5));
  EXPECT_EQ(turing.weights, WeightDType::FP16);
  EXPECT_EQ(turing.mixed, MixedPrecision::FP16);

  // Explicit choices a device runs pass unchanged; "no" stays no.
  ResolvedPrecision explicit_cpu = resolve_precision(WeightDType::FP16, MixedPrecision::No, cpu, plain_cpu);
  EXPECT_EQ(explicit_cpu.weights, WeightDType::FP16);  // runs on the CPU, slowly, with a note
  EXPECT_EQ(explicit_cpu.mixed, MixedPrecision::No);
  EXPECT_EQ(resolve_precision(WeightDType::FP32, MixedPrecision::FP16, gpu, card("Tesla T4", 7, 5)).weights,
            WeightDType::FP32);
}

TEST(ResolvePrecision, Bf16OnACardWithoutItIsAnError) {
  const torch::Device gpu(torch::kCUDA, 0);
  std::string weights, mixed;
  try {
    resolve_precision(WeightDType::BF16, MixedPrecision::No, gpu, card("Tesla T4", 7, 5));
  } catch (const Error& e) {
    weights = e.what();
  }
  EXPECT_NE(weights.find("model.dtype = \"bf16\": Tesla T4 (cuda:0, compute capability 7.5) has no bf16"),
            std::string::npos)
      << weights;
  EXPECT_NE(weights.find("use \"auto\""), std::string::npos) << weights;
  try {
    resolve_precision(std::nullopt, MixedPrecision::BF16, gpu, card("Tesla V100", 7, 0));
  } catch (const Error& e) {
    mixed = e.what();
  }
  EXPECT_NE(mixed.find("training.mixed_precision = \"bf16\": Tesla V100"), std::string::npos) << mixed;
  EXPECT_NO_THROW(resolve_precision(WeightDType::BF16, MixedPrecision::BF16, gpu, card("NVIDIA H100", 9, 0)));
}

TEST(ResolvePrecision, TextSaysWhatAutoBecameOnThisMachine) {
  EXPECT_EQ(precision_choice_text("auto", "bf16", torch::kCPU), "auto (bf16 on this machine's cpu)");
  EXPECT_EQ(precision_choice_text("fp16", "fp16", torch::kCPU), "fp16");
  TrainConfig c;
  c.training.device = "cpu";
  MachinePrecision m = precision_on_this_machine(c);
  ASSERT_TRUE(m.resolved);
  EXPECT_EQ(m.resolved->weights, WeightDType::BF16);
  EXPECT_EQ(m.dtype_text, "auto (bf16 on this machine's cpu)");
  EXPECT_EQ(m.mixed_text, "no");
  TrainConfig resolved = with_resolved_precision(c, torch::kCPU);
  EXPECT_EQ(resolved.model.dtype, WeightDType::BF16);
  // A device this machine does not have is a warning: the choice is checked where it trains.
  c.training.device = "cuda:7";
  if (cuda_device_count() < 8) {
    MachinePrecision away = precision_on_this_machine(c);
    EXPECT_FALSE(away.resolved);
    EXPECT_TRUE(away.error.empty());
    EXPECT_NE(away.warning.find("training.device \"cuda:7\""), std::string::npos) << away.warning;
    EXPECT_EQ(away.dtype_text, "auto");
  }
}

}  // namespace
}  // namespace lathe
