// LoHa, LoKr and DoRA: each weight delta against a hand computation on small tensors, LyCORIS's
// factorization and "full matrix" rules, each module's forward against the base op run with the
// merged weight (Linear and strided / padded 3x3 Conv2d), the step-0 identity of fresh modules,
// and whole networks on the tiny SD 1.5 UNet: kohya / LyCORIS key names and shapes, step 0, and
// a saved file read back by keys into a network of the right types.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "../temp_dir.h"
#include "common/error.h"
#include "io/safetensors.h"
#include "lora/lora_file_info.h"
#include "lora/lora_network.h"
#include "lora/network_delta.h"
#include "lora/network_modules.h"
#include "lora_fixtures.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

torch::Tensor t2(std::vector<std::vector<float>> rows) {
  std::vector<float> flat;
  for (auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return torch::tensor(flat).reshape({static_cast<std::int64_t>(rows.size()), -1});
}

void expect_equal(const torch::Tensor& got, const torch::Tensor& want, double tol = 1e-6) {
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(torch::allclose(got, want, 0, tol)) << "got\n" << got << "\nwant\n" << want;
}

TEST(NetworkDelta, LoHaIsTheHadamardProductOfTwoLowRankProducts) {
  // (w1_a @ w1_b) = [[1, 2, 3], [2, 4, 6]], (w2_a @ w2_b) = [[3, 0, 6], [-1, 0, -2]]
  auto d = loha_delta(t2({{1}, {2}}), t2({{1, 2, 3}}), t2({{3}, {-1}}), t2({{1, 0, 2}}));
  expect_equal(d, t2({{3, 0, 18}, {-2, 0, -12}}));
}

TEST(NetworkDelta, LoKrIsTheKroneckerProduct) {
  auto d = lokr_delta(t2({{1, 2}, {3, 4}}), t2({{0, 1}, {1, 0}}));
  expect_equal(d, t2({{0, 1, 0, 2}, {1, 0, 2, 0}, {0, 3, 0, 4}, {3, 0, 4, 0}}));
  // A conv w2 [1, 1, 2, 2] with w1 [1, 2]: input channel j of the delta is w1[0, j] * w2.
  auto w2 = torch::tensor({1.f, 2.f, 3.f, 4.f}).reshape({1, 1, 2, 2});
  auto conv = lokr_delta(t2({{1, -1}}), w2).reshape({1, 2, 2, 2});
  expect_equal(conv, torch::cat({w2, -w2}, 1));
}

TEST(NetworkDelta, LoRAIsUpTimesDown) {
  expect_equal(lora_delta(t2({{1, 0, 2}}), t2({{2}, {-1}})), t2({{2, 0, 4}, {-1, 0, -2}}));
}

TEST(NetworkDelta, DoRANormalisesPerInputChannel) {
  // base columns (input channels) have norms 5 and 1: magnitude [10, 2] doubles both.
  auto base = t2({{3, 0}, {4, 1}});
  expect_equal(dora_delta(base, torch::zeros({2, 2}), t2({{10, 2}})), t2({{3, 0}, {4, 1}}), 1e-5);
  // base + delta = [[3, 1], [4, 1]]: column norms 5 and sqrt(2). Those magnitudes keep the
  // adapted weight; twice the second doubles its column.
  auto delta = t2({{0, 1}, {0, 0}});
  const float r2 = std::sqrt(2.f);
  expect_equal(dora_delta(base, delta, t2({{5, r2}})), delta, 1e-5);
  expect_equal(dora_delta(base, delta, t2({{5, 2 * r2}})), t2({{0, 2}, {0, 1}}), 1e-5);
  // A conv's input channel spans the output channels and the kernel.
  auto w = torch::ones({2, 3, 2, 2});  // every input channel: norm sqrt(2 * 4) = sqrt(8)
  auto m = dora_magnitude(w);
  ASSERT_EQ(m.sizes(), (std::vector<std::int64_t>{1, 3, 1, 1}));
  EXPECT_NEAR(m[0][1][0][0].item<double>(), std::sqrt(8.0), 1e-6);
}

TEST(LoKrLayout, FactorizationFollowsLyCORIS) {
  // LyCORIS's code, not its docstring's table (which gives 360 -> 8 x 45 and, with factor 16,
  // 12 x 30; the loop it documents goes on to 18 x 20 and 15 x 24).
  const std::vector<std::tuple<int, int, int, int>> cases = {  // dimension, factor, m, n
      {128, -1, 8, 16}, {127, -1, 1, 127}, {250, -1, 10, 25}, {360, -1, 18, 20}, {1024, -1, 32, 32},
      {320, -1, 16, 20}, {1280, -1, 32, 40}, {128, 2, 2, 64}, {512, 4, 4, 128}, {250, 8, 5, 50},
      {360, 16, 15, 24}, {1024, 16, 16, 64}};
  for (auto [dim, factor, m, n] : cases) {
    auto [gm, gn] = lokr_factorization(dim, factor);
    EXPECT_EQ(gm, m) << dim << " factor " << factor;
    EXPECT_EQ(gn, n) << dim << " factor " << factor;
  }
}

TEST(LoKrLayout, FullMatrixWhenTheRankIsLarge) {
  auto s = lokr_spec(320, 320, 4, 1.0, -1, false, false);  // 320 = 16 x 20
  EXPECT_EQ(s.out_l, 16);
  EXPECT_EQ(s.out_k, 20);
  EXPECT_TRUE(s.w2_decomposed);  // 4 < 20 / 2
  EXPECT_FALSE(s.w1_decomposed);
  EXPECT_FALSE(lokr_spec(320, 320, 10, 1.0, -1, false, false).w2_decomposed);  // 10 is not < 10
  EXPECT_TRUE(lokr_spec(320, 320, 4, 1.0, -1, true, false).w1_decomposed);     // 4 < 16 / 2
  EXPECT_FALSE(lokr_spec(320, 320, 8, 1.0, -1, true, false).w1_decomposed);
}

// A base op with a random weight: Linear(12, 8) or Conv2d(6, 8, 3, stride 2, padding 1).
struct Base {
  std::shared_ptr<torch::nn::Module> module;
  torch::Tensor x, weight, bias;
  bool conv;
  torch::Tensor run(const torch::Tensor& w) const {
    if (!conv) return torch::linear(x, w, bias);
    return torch::conv2d(x, w, bias, 2, 1);
  }
};

Base make_base(bool conv) {
  Base b;
  b.conv = conv;
  if (conv) {
    torch::nn::Conv2d c(torch::nn::Conv2dOptions(6, 8, 3).stride(2).padding(1));
    b.module = c.ptr();
    b.weight = c->weight;
    b.bias = c->bias;
    b.x = torch::randn({2, 6, 7, 7});
  } else {
    torch::nn::Linear l(12, 8);
    b.module = l.ptr();
    b.weight = l->weight;
    b.bias = l->bias;
    b.x = torch::randn({2, 3, 12});
  }
  return b;
}

std::vector<ModuleSpec> specs_for(const Base& b) {
  const std::int64_t in = b.weight.size(1);
  std::vector<ModuleSpec> specs;
  ModuleSpec lora{NetworkAlgo::LoRA, 2, 1.0, true};
  ModuleSpec loha{NetworkAlgo::LoHa, 2, 3.0, false};
  ModuleSpec loha_dora{NetworkAlgo::LoHa, 2, 1.0, true};
  specs = {lora, loha, loha_dora};
  specs.push_back(lokr_spec(8, in, 1, 0.5, -1, false, false));  // w2 a product (1 < 4 / 2)
  specs.push_back(lokr_spec(8, in, 1, 0.5, 2, true, true));     // both products, DoRA
  specs.push_back(lokr_spec(8, in, 4, 0.5, -1, false, false));  // both full: scale 1
  return specs;
}

std::string describe(const ModuleSpec& s, bool conv) {
  return fmt::format("{} rank {} dora {} w1 {} w2 {} {}", network_algo_name(s.algo), s.rank, s.dora,
                     s.w1_decomposed ? "ab" : "full", s.w2_decomposed ? "ab" : "full", conv ? "conv" : "linear");
}

TEST(NetworkModules, FreshModulesLeaveTheBaseUnchanged) {
  torch::manual_seed(7);
  for (bool conv : {false, true}) {
    auto b = make_base(conv);
    torch::NoGradGuard no_grad;
    auto base_out = b.run(b.weight);
    for (const auto& spec : specs_for(b)) {
      auto m = make_network_module(base_op_of(*b.module), spec);
      auto out = m->forward(b.x, base_out);
      if (spec.dora)  // the magnitude is ||W|| per input channel, the norm gets float32's epsilon
        EXPECT_TRUE(torch::allclose(out, base_out, 1e-5, 1e-5)) << describe(spec, conv);
      else
        EXPECT_TRUE(torch::equal(out, base_out)) << describe(spec, conv);
    }
  }
}

TEST(NetworkModules, ForwardEqualsTheBaseOpWithTheMergedWeight) {
  torch::manual_seed(8);
  for (bool conv : {false, true}) {
    auto b = make_base(conv);
    for (const auto& spec : specs_for(b)) {
      auto m = make_network_module(base_op_of(*b.module), spec);
      torch::NoGradGuard no_grad;
      for (auto& p : m->named_parameters()) p.value().normal_(0, 0.3);
      if (m->dora()) m->dora_scale.abs_();
      m->multiplier = 0.6;
      auto delta = m->delta_weight().reshape(b.weight.sizes());
      if (m->dora()) delta = dora_delta(b.weight, delta, m->dora_scale);
      auto want = b.run(b.weight + 0.6 * delta);
      auto got = m->forward(b.x, b.run(b.weight));
      ASSERT_GT((want - b.run(b.weight)).abs().max().item<double>(), 1e-3) << describe(spec, conv);
      EXPECT_TRUE(torch::allclose(got, want, 1e-4, 1e-5)) << describe(spec, conv);
    }
  }
}

TEST(NetworkModules, ScaleFollowsTheLoaders) {
  torch::manual_seed(9);
  auto b = make_base(false);
  // LoHa: alpha / rank.
  auto loha = std::dynamic_pointer_cast<LoHaModuleImpl>(make_network_module(base_op_of(*b.module), {NetworkAlgo::LoHa, 2, 3.0}));
  EXPECT_DOUBLE_EQ(loha->scale(), 1.5);
  {
    torch::NoGradGuard no_grad;
    loha->hada_w2_a.normal_();
  }
  expect_equal(loha->delta_weight(),
               1.5 * loha_delta(loha->hada_w1_a, loha->hada_w1_b, loha->hada_w2_a, loha->hada_w2_b), 1e-6);
  // LoKr: alpha / rank with a product factor; two full factors: scale 1, alpha stored as the rank.
  auto lokr = make_network_module(base_op_of(*b.module), lokr_spec(8, 12, 1, 0.5, -1, false, false));
  EXPECT_DOUBLE_EQ(lokr->scale(), 0.5);
  auto full = make_network_module(base_op_of(*b.module), lokr_spec(8, 12, 4, 0.5, -1, false, false));
  EXPECT_DOUBLE_EQ(full->scale(), 1.0);
  EXPECT_FLOAT_EQ(full->alpha.item<float>(), 4.f);
}

TEST(NetworkModules, RejectsNonLinearBases) {
  torch::nn::GroupNorm norm(2, 4);
  EXPECT_THROW(base_op_of(*norm), Error);
}

std::map<std::string, torch::Tensor> state_of(const LoRANetwork& net) {
  std::map<std::string, torch::Tensor> out;
  for (auto& [k, v] : net->kohya_state(torch::kFloat32)) out[k] = v;
  return out;
}

LoRANetwork sd15_network(UNet& unet, CLIPTextModel& te, NetworkAlgo algo, bool dora, bool decompose_both = false) {
  LoRAOptions o;
  o.algo = algo;
  o.dora = dora;
  o.rank = 2;
  o.alpha = 1;
  o.conv_rank = 2;
  o.conv_alpha = 1;
  o.text_encoders = true;
  o.lokr_decompose_both = decompose_both;
  return LoRANetwork(unet, std::vector<CLIPTextModel>{te}, ModelFamily::SD1, o);
}

TEST(NetworkTypes, SD15KeysAndShapes) {
  torch::manual_seed(10);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24));
  const std::string q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string conv = "lora_unet_down_blocks_0_resnets_0_conv1";
  const std::string fc1 = "lora_te_text_model_encoder_layers_0_mlp_fc1";
  using Shape = std::vector<std::int64_t>;
  {
    auto net = sd15_network(unet, te, NetworkAlgo::LoHa, false);
    auto s = state_of(net);
    const std::int64_t qdim = 32;  // tiny_sd15's first level
    EXPECT_EQ(s.at(q + ".hada_w1_a").sizes(), (Shape{qdim, 2}));
    EXPECT_EQ(s.at(q + ".hada_w1_b").sizes(), (Shape{2, qdim}));
    EXPECT_EQ(s.at(q + ".hada_w2_a").sizes(), (Shape{qdim, 2}));
    EXPECT_EQ(s.at(q + ".hada_w2_b").sizes(), (Shape{2, qdim}));
    EXPECT_EQ(s.at(q + ".alpha").dim(), 0);
    EXPECT_TRUE(torch::equal(s.at(q + ".hada_w2_a"), torch::zeros({qdim, 2})));  // LyCORIS: w2_a starts at 0
    // A 3x3 conv: the kernel flattened into the b factors (LyCORIS without use_tucker).
    const auto in = s.at(conv + ".hada_w1_b").size(1);
    EXPECT_EQ(in % 9, 0);
    EXPECT_EQ(s.at(conv + ".hada_w2_b").sizes(), (Shape{2, in}));
    EXPECT_EQ(s.at(fc1 + ".hada_w1_a").sizes(), (Shape{96, 2}));
    EXPECT_EQ(s.count(q + ".dora_scale"), 0u);
  }
  {
    auto net = sd15_network(unet, te, NetworkAlgo::LoKr, true);
    auto s = state_of(net);
    // fc1 [96, 24]: 96 = 8 x 12, 24 = 4 x 6; rank 2 < 12 / 2: w2 a product.
    EXPECT_EQ(s.at(fc1 + ".lokr_w1").sizes(), (Shape{8, 4}));
    EXPECT_EQ(s.at(fc1 + ".lokr_w2_a").sizes(), (Shape{12, 2}));
    EXPECT_EQ(s.at(fc1 + ".lokr_w2_b").sizes(), (Shape{2, 6}));
    EXPECT_EQ(s.at(fc1 + ".dora_scale").sizes(), (Shape{1, 24}));
    EXPECT_EQ(s.count(fc1 + ".lokr_w2"), 0u);
    EXPECT_TRUE(torch::equal(s.at(fc1 + ".lokr_w2_b"), torch::zeros({2, 6})));  // LyCORIS: w2_b starts at 0
    // conv1 [32, 32, 3, 3]: 32 = 4 x 8 both ways; rank 2 < 8 / 2.
    EXPECT_EQ(s.at(conv + ".lokr_w2_b").sizes(), (Shape{2, 8 * 9}));
    EXPECT_EQ(s.at(conv + ".dora_scale").sizes(), (Shape{1, 32, 1, 1}));
  }
  {
    auto net = sd15_network(unet, te, NetworkAlgo::LoRA, true);
    auto s = state_of(net);
    EXPECT_EQ(s.at(fc1 + ".lora_down.weight").sizes(), (Shape{2, 24}));
    EXPECT_EQ(s.at(fc1 + ".dora_scale").sizes(), (Shape{1, 24}));
  }
}

TEST(NetworkTypes, Step0EqualsTheBaseModel) {
  torch::manual_seed(11);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24));
  unet->eval();
  te->eval();
  auto in = test::unet_inputs(unet);
  auto ids = torch::randint(0, 998, {2, 6}, torch::kLong);
  auto base = test::run_unet(unet, in);
  torch::NoGradGuard no_grad;
  auto base_te = te->forward(ids).last_hidden_state;
  for (auto [algo, dora] : std::vector<std::pair<NetworkAlgo, bool>>{
           {NetworkAlgo::LoHa, false}, {NetworkAlgo::LoKr, false}, {NetworkAlgo::LoRA, true}, {NetworkAlgo::LoHa, true}}) {
    auto net = sd15_network(unet, te, algo, dora, /*decompose_both=*/true);
    net->eval();
    auto out = test::run_unet(unet, in);
    auto out_te = te->forward(ids).last_hidden_state;
    if (dora) {
      EXPECT_TRUE(torch::allclose(out, base, 1e-4, 1e-4)) << network_algo_name(algo);
      EXPECT_TRUE(torch::allclose(out_te, base_te, 1e-4, 1e-4)) << network_algo_name(algo);
    } else {
      EXPECT_TRUE(torch::equal(out, base)) << network_algo_name(algo);
      EXPECT_TRUE(torch::equal(out_te, base_te)) << network_algo_name(algo);
    }
  }
}

TEST(NetworkTypes, FileReadsBackByKeysIntoTheSameTypes) {
  test::TempDir dir;
  torch::manual_seed(12);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24));
  unet->eval();
  auto in = test::unet_inputs(unet);
  for (auto [algo, dora] : std::vector<std::pair<NetworkAlgo, bool>>{
           {NetworkAlgo::LoHa, false}, {NetworkAlgo::LoKr, true}, {NetworkAlgo::LoRA, true}}) {
    std::map<std::string, torch::Tensor> saved;
    torch::Tensor want;
    const auto path = dir / fmt::format("{}.safetensors", network_algo_name(algo));
    {
      auto net = sd15_network(unet, te, algo, dora);
      torch::NoGradGuard no_grad;
      for (auto& p : net->parameters()) p.normal_(0, 0.2);
      net->eval();
      net->save(path, torch::kFloat32, {});
      saved = state_of(net);
      want = test::run_unet(unet, in);
    }
    LoRANetwork back(unet, std::vector<CLIPTextModel>{te}, ModelFamily::SD1, path);
    back->eval();
    EXPECT_EQ(back->options().algo, algo);
    EXPECT_EQ(back->options().dora, dora);
    auto got = state_of(back);
    ASSERT_EQ(got.size(), saved.size());
    for (auto& [k, v] : saved) EXPECT_TRUE(torch::equal(got.at(k), v)) << k;
    EXPECT_TRUE(torch::allclose(test::run_unet(unet, in), want, 1e-5, 1e-5)) << network_algo_name(algo);
    auto info = read_lora_file_info(SafetensorsFile(path));
    for (const auto& m : info.modules) {
      EXPECT_EQ(m.algo, network_algo_name(algo)) << m.name;
      EXPECT_EQ(m.dora, dora) << m.name;
      EXPECT_EQ(m.rank, 2) << m.name;
    }
  }
}

TEST(NetworkTypes, FileWithTuckerKeysIsRefusedByName) {
  test::TempDir dir;
  UNet unet(test::tiny_sd15());
  const std::string q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  write_tensors(dir / "bad.safetensors", {{q + ".hada_w1_a", torch::zeros({32, 2})},
                                          {q + ".hada_w1_b", torch::zeros({2, 32})},
                                          {q + ".hada_w2_a", torch::zeros({32, 2})},
                                          {q + ".hada_w2_b", torch::zeros({2, 32})},
                                          {q + ".hada_t1", torch::zeros({2, 2, 3, 3})}});
  try {
    LoRANetwork(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, dir / "bad.safetensors");
    FAIL() << "expected lathe::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hada_t1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lathe
