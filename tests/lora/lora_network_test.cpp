// LoRA network: kohya's target counts and exact key names on the real SD 1.5 / SDXL
// topologies, step-0 identity, the adapter math, dropout switches, and detaching.
#include <gtest/gtest.h>

#include <set>

#include "common/error.h"
#include "lora/lora_network.h"
#include "lora_fixtures.h"

namespace lathe {
namespace {

using test::sd15_topology;
using test::sdxl_topology;

std::set<std::string> names_of(const std::vector<LoRATarget>& targets) {
  std::set<std::string> out;
  for (const auto& t : targets) out.insert(t.name);
  return out;
}

std::size_t count_part(const std::vector<LoRATarget>& targets, LoRAPart part) {
  std::size_t n = 0;
  for (const auto& t : targets) n += t.part == part;
  return n;
}

TEST(LoRATargets, SD15CountsAndDiffusersNames) {
  UNet unet(sd15_topology());
  CLIPTextModel te(test::tiny_clip(12));
  LoRAOptions o;
  o.text_encoders = true;
  auto targets = lora_targets(unet, {te}, ModelFamily::SD1, o);
  EXPECT_EQ(count_part(targets, LoRAPart::UNet), 192u);  // kohya: 16 transformers x 12
  EXPECT_EQ(count_part(targets, LoRAPart::TextEncoder), 72u);  // 12 layers x 6
  auto names = names_of(targets);
  for (const char* n : {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
                        "lora_unet_down_blocks_0_attentions_1_transformer_blocks_0_attn2_to_out_0",
                        "lora_unet_down_blocks_2_attentions_1_proj_in",
                        "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj",
                        "lora_unet_up_blocks_3_attentions_2_proj_out",
                        "lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_ff_net_2",
                        "lora_te_text_model_encoder_layers_0_self_attn_q_proj",
                        "lora_te_text_model_encoder_layers_11_self_attn_out_proj",
                        "lora_te_text_model_encoder_layers_11_mlp_fc2"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const auto& n : names) EXPECT_EQ(n.find("input_blocks"), std::string::npos) << n;
  EXPECT_FALSE(names.count("lora_unet_down_blocks_0_resnets_0_conv1"));  // no LoCon by default
}

TEST(LoRATargets, SD15LoConAddsResnetsAndSamplers) {
  UNet unet(sd15_topology());
  LoRAOptions o;
  o.conv_rank = 4;
  auto targets = lora_targets(unet, {}, ModelFamily::SD1, o);
  // 192 + 22 resnets x (conv1, conv2, time_emb_proj) + 14 shortcuts + 3 down + 3 up samplers
  EXPECT_EQ(targets.size(), 278u);
  auto names = names_of(targets);
  for (const char* n : {"lora_unet_down_blocks_0_resnets_0_conv1", "lora_unet_down_blocks_0_resnets_1_conv2",
                        "lora_unet_down_blocks_1_resnets_0_conv_shortcut", "lora_unet_down_blocks_0_downsamplers_0_conv",
                        "lora_unet_up_blocks_0_upsamplers_0_conv", "lora_unet_up_blocks_1_resnets_2_time_emb_proj",
                        "lora_unet_mid_block_resnets_1_conv2"})
    EXPECT_TRUE(names.count(n)) << n;
}

TEST(LoRATargets, SDXLCountsAndLDMNames) {
  UNet unet(sdxl_topology());
  CLIPTextModel te1(test::tiny_clip(12)), te2(test::tiny_clip(32));
  LoRAOptions o;
  o.text_encoders = true;
  auto targets = lora_targets(unet, {te1, te2}, ModelFamily::SDXL, o);
  EXPECT_EQ(count_part(targets, LoRAPart::UNet), 722u);
  EXPECT_EQ(count_part(targets, LoRAPart::TextEncoder1), 72u);
  EXPECT_EQ(count_part(targets, LoRAPart::TextEncoder2), 192u);
  auto names = names_of(targets);
  for (const char* n : {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q",
                        "lora_unet_input_blocks_8_1_transformer_blocks_9_attn2_to_v",
                        "lora_unet_input_blocks_4_1_proj_in",
                        "lora_unet_middle_block_1_transformer_blocks_9_ff_net_2",
                        "lora_unet_output_blocks_0_1_proj_out",
                        "lora_unet_output_blocks_5_1_transformer_blocks_1_ff_net_0_proj",
                        "lora_te1_text_model_encoder_layers_0_self_attn_k_proj",
                        "lora_te2_text_model_encoder_layers_31_mlp_fc1"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const auto& n : names) EXPECT_EQ(n.find("down_blocks"), std::string::npos) << n;
}

TEST(LoRANetwork, KeysFollowKohyaAndShapesMatchTheBase) {
  torch::manual_seed(1);
  UNet sd15(sd15_topology());
  LoRAOptions o;
  o.rank = 3;
  LoRANetwork net(sd15, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  auto state = net->kohya_state(torch::kFloat32);
  ASSERT_EQ(state.size(), 192u * 3);
  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  const std::string p = "lora_unet_down_blocks_0_attentions_0_proj_in";
  ASSERT_TRUE(by_name.count(p + ".lora_down.weight"));
  EXPECT_EQ(by_name[p + ".lora_down.weight"].sizes(), (std::vector<std::int64_t>{3, 32, 1, 1}));  // 1x1 conv
  EXPECT_EQ(by_name[p + ".lora_up.weight"].sizes(), (std::vector<std::int64_t>{32, 3, 1, 1}));
  EXPECT_EQ(by_name[p + ".alpha"].dim(), 0);
  EXPECT_FLOAT_EQ(by_name[p + ".alpha"].item<float>(), 1.0f);
  const std::string q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k";
  EXPECT_EQ(by_name[q + ".lora_down.weight"].sizes(), (std::vector<std::int64_t>{3, 16}));  // context 16
  // Every kohya name resolves to a real module of the base model.
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  for (const auto& m : sd15->named_modules()) modules[m.key()] = m.value();
  for (const auto& t : net->targets()) {
    ASSERT_TRUE(modules.count(t.module_path)) << t.module_path;
    EXPECT_EQ(modules[t.module_path].get(), t.base.get());
  }
  UNet xl(sdxl_topology());
  LoRANetwork xl_net(xl, std::vector<CLIPTextModel>{}, ModelFamily::SDXL, o);
  std::map<std::string, torch::Tensor> xl_state;
  for (auto& kv : xl_net->kohya_state(torch::kFloat32)) xl_state.insert(kv);
  const std::string r = "lora_unet_input_blocks_4_1_proj_in";
  EXPECT_EQ(xl_state.at(r + ".lora_down.weight").sizes(), (std::vector<std::int64_t>{3, 32}));  // Linear
}

TEST(LoRANetwork, BaseParameterNamesUnchanged) {
  UNet unet(test::tiny_sd15());
  std::vector<std::string> before, after;
  for (const auto& p : unet->named_parameters()) before.push_back(p.key());
  LoRAOptions o;
  o.conv_rank = 2;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  for (const auto& p : unet->named_parameters()) after.push_back(p.key());
  EXPECT_EQ(before, after);
}

TEST(LoRANetwork, StepZeroEqualsBaseExactly) {
  torch::manual_seed(2);
  for (auto family : {ModelFamily::SD1, ModelFamily::SDXL}) {
    UNet unet(family == ModelFamily::SD1 ? test::tiny_sd15() : test::tiny_sdxl());
    unet->eval();
    auto in = test::unet_inputs(unet);
    auto base = test::run_unet(unet, in);
    LoRAOptions o;
    o.rank = 4;
    o.alpha = 2;
    o.conv_rank = 2;
    LoRANetwork net(unet, std::vector<CLIPTextModel>{}, family, o);
    EXPECT_TRUE(torch::equal(test::run_unet(unet, in), base)) << family_name(family);
    net->train();  // dropouts on but up = 0: still identical
    EXPECT_TRUE(torch::equal(test::run_unet(unet, in), base)) << family_name(family);
  }
  CLIPTextModel te(test::tiny_clip(3));
  auto ids = torch::randint(0, 998, {2, 7});
  torch::NoGradGuard no_grad;
  auto base = te->forward(ids).last_hidden_state;
  LoRAOptions o;
  o.unet = false;
  o.text_encoders = true;
  LoRANetwork net(UNet(nullptr), std::vector<CLIPTextModel>{te}, ModelFamily::SD1, o);
  EXPECT_EQ(net->targets().size(), 18u);
  EXPECT_TRUE(torch::equal(te->forward(ids).last_hidden_state, base));
}

// Randomises every lora_up so the network changes the output.
void randomize_up(LoRANetwork& net) {
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters())
    if (p.key().find("lora_up") != std::string::npos) p.value().normal_(0, 0.05);
}

TEST(LoRANetwork, AdapterAddsScaledLowRankProduct) {
  torch::manual_seed(3);
  UNet unet(test::tiny_sd15());
  LoRAOptions o;
  o.rank = 4;
  o.alpha = 2;  // scale 0.5
  o.multiplier = 0.75;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  randomize_up(net);
  for (const auto& t : net->targets()) {
    auto* lin = dynamic_cast<torch::nn::LinearImpl*>(t.base.get());
    if (!lin) continue;
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, 3, lin->options.in_features()});
    auto* mod = dynamic_cast<LoRAModuleImpl*>(t.module.get());
    ASSERT_NE(mod, nullptr) << t.name;
    auto got = mod->forward(x, lin->forward(x));
    auto down = mod->lora_down.ptr()->named_parameters()["weight"];
    auto up = mod->lora_up.ptr()->named_parameters()["weight"];
    auto want = torch::nn::functional::linear(x, lin->weight + 0.75 * 0.5 * up.matmul(down), lin->bias);
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5)) << t.name;
  }
}

TEST(LoRANetwork, DropoutOnlyInTrainModeAndDetachRestoresBase) {
  torch::manual_seed(4);
  UNet unet(test::tiny_sd15());
  unet->eval();
  auto in = test::unet_inputs(unet);
  auto base = test::run_unet(unet, in);
  {
    LoRAOptions o;
    o.module_dropout = 1.0;  // every module skipped in train mode
    o.conv_rank = 2;
    LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
    randomize_up(net);
    net->eval();
    auto adapted = test::run_unet(unet, in);
    EXPECT_FALSE(torch::allclose(adapted, base));
    net->train();
    EXPECT_TRUE(torch::equal(test::run_unet(unet, in), base));
    net->eval();
    net->set_multiplier(0.0);
    EXPECT_TRUE(torch::allclose(test::run_unet(unet, in), base, 0, 1e-6));
  }
  // The network is gone: its adapters were detached.
  EXPECT_TRUE(torch::equal(test::run_unet(unet, in), base));
}

TEST(LoRANetwork, RankDropoutIsRescaledAndRandom) {
  torch::manual_seed(5);
  torch::nn::Linear base(8, 6);
  LoRAModule m(*base, 4, 4.0);
  {
    torch::NoGradGuard no_grad;
    m->lora_up.ptr()->named_parameters()["weight"].normal_();
  }
  m->rank_dropout = 0.5;
  auto x = torch::randn({64, 8});
  torch::NoGradGuard no_grad;
  m->eval();
  auto full = m->forward(x, torch::zeros({64, 6}));
  m->train();
  auto dropped = m->forward(x, torch::zeros({64, 6}));
  EXPECT_FALSE(torch::allclose(full, dropped));
  // A sample whose mask kept every channel gets twice the eval output (scale / (1 - 0.5)),
  // one that lost every channel gets zero: the only two cases with rank 1.
  LoRAModule one(*base, 1, 1.0);
  one->lora_up.ptr()->named_parameters()["weight"].normal_();
  one->rank_dropout = 0.5;
  one->eval();
  auto ref = one->forward(x, torch::zeros({64, 6}));
  one->train();
  auto out = one->forward(x, torch::zeros({64, 6}));
  int kept = 0, lost = 0;
  for (int i = 0; i < 64; ++i) {
    if (torch::allclose(out[i], 2 * ref[i])) ++kept;
    else if (torch::equal(out[i], torch::zeros({6}))) ++lost;
  }
  EXPECT_EQ(kept + lost, 64);
  EXPECT_GT(kept, 0);
  EXPECT_GT(lost, 0);
}

TEST(LoRANetwork, RejectsMissingParts) {
  LoRAOptions o;
  o.text_encoders = true;
  UNet unet(test::tiny_sd15());
  EXPECT_THROW(lora_targets(unet, {}, ModelFamily::SD1, o), Error);
  o.text_encoders = false;
  EXPECT_THROW(lora_targets(UNet(nullptr), {}, ModelFamily::SD1, o), Error);
}

}  // namespace
}  // namespace lathe
