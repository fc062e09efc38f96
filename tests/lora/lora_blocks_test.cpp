// Per-block settings: kohya's block numbering on the real SD 1.5 and SDXL topologies, block
// labels, lr weight presets, the plan's errors (key and expected count), ranks per block in
// the network and the saved file's shapes, and a weight of 0 removing a block's modules.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "common/error.h"
#include "io/safetensors.h"
#include "lora/lora_blocks.h"
#include "lora/lora_file_info.h"
#include "lora/lora_network.h"
#include "lora_fixtures.h"
#include "temp_dir.h"

namespace lathe {
namespace {

std::map<std::string, int> blocks_of(const std::vector<LoRATarget>& targets) {
  std::map<std::string, int> out;
  for (const auto& t : targets) out[t.name] = t.block;
  return out;
}

std::set<int> blocks_with_modules(const std::vector<LoRATarget>& targets) {
  std::set<int> out;
  for (const auto& t : targets) out.insert(t.block);
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoRABlocks, SD15IndicesFollowKohyaOnTheRealTopology) {
  UNet unet(test::sd15_topology());
  LoRAOptions o;
  o.conv_rank = 4;  // LoCon: resnets and samplers too
  auto targets = lora_targets(unet, {}, ModelFamily::SD1, o);
  auto b = blocks_of(targets);
  // kohya: down_blocks_i_{resnets,attentions}_j -> 1 + 3i + j, samplers -> 1 + 3i + 2, mid 12,
  // up_blocks_i_... -> 13 + 3i + j.
  EXPECT_EQ(b.at("lora_unet_down_blocks_0_attentions_0_proj_in"), 1);
  EXPECT_EQ(b.at("lora_unet_down_blocks_0_resnets_1_conv2"), 2);
  EXPECT_EQ(b.at("lora_unet_down_blocks_0_downsamplers_0_conv"), 3);
  EXPECT_EQ(b.at("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q"), 4);
  EXPECT_EQ(b.at("lora_unet_down_blocks_3_resnets_1_time_emb_proj"), 11);
  EXPECT_EQ(b.at("lora_unet_mid_block_attentions_0_proj_out"), 12);
  EXPECT_EQ(b.at("lora_unet_mid_block_resnets_1_conv1"), 12);
  EXPECT_EQ(b.at("lora_unet_up_blocks_0_resnets_0_conv1"), 13);
  EXPECT_EQ(b.at("lora_unet_up_blocks_0_upsamplers_0_conv"), 15);
  EXPECT_EQ(b.at("lora_unet_up_blocks_3_attentions_2_proj_out"), 24);
  for (const auto& t : targets) EXPECT_EQ(unet_block_index(t.name, ModelFamily::SD1), t.block) << t.name;
  // Every block but IN00 (conv_in) has modules with LoCon.
  std::set<int> all;
  for (int i = 1; i < 25; ++i) all.insert(i);
  EXPECT_EQ(blocks_with_modules(targets), all);
  // Plain LoRA: the 16 transformer blocks.
  auto lora = lora_targets(unet, {}, ModelFamily::SD1, LoRAOptions{});
  EXPECT_EQ(blocks_with_modules(lora), (std::set<int>{1, 2, 4, 5, 7, 8, 12, 16, 17, 18, 19, 20, 21, 22, 23, 24}));
}

TEST(LoRABlocks, SDXLIndicesFollowKohyaOnTheRealTopology) {
  UNet unet(test::sdxl_topology());
  LoRAOptions o;
  o.conv_rank = 4;
  auto targets = lora_targets(unet, {}, ModelFamily::SDXL, o);
  auto b = blocks_of(targets);
  EXPECT_EQ(b.at("lora_unet_input_blocks_1_0_in_layers_2"), 2);  // IN01
  EXPECT_EQ(b.at("lora_unet_input_blocks_4_1_proj_in"), 5);      // IN04
  EXPECT_EQ(b.at("lora_unet_input_blocks_8_1_transformer_blocks_1_attn2_to_k"), 9);
  EXPECT_EQ(b.at("lora_unet_middle_block_1_transformer_blocks_9_ff_net_2"), 11);
  EXPECT_EQ(b.at("lora_unet_middle_block_2_emb_layers_1"), 12);
  EXPECT_EQ(b.at("lora_unet_output_blocks_0_1_proj_out"), 13);
  EXPECT_EQ(b.at("lora_unet_output_blocks_8_0_out_layers_3"), 21);
  for (const auto& t : targets) EXPECT_EQ(unet_block_index(t.name, ModelFamily::SDXL), t.block) << t.name;
  auto lora = lora_targets(unet, {}, ModelFamily::SDXL, LoRAOptions{});
  // Transformers: input_blocks 4, 5, 7, 8; middle_block 1; output_blocks 0-5.
  EXPECT_EQ(blocks_with_modules(lora), (std::set<int>{5, 6, 8, 9, 11, 13, 14, 15, 16, 17, 18}));
  EXPECT_EQ(unet_block_index("lora_unet_time_embed_0", ModelFamily::SDXL), 0);
  EXPECT_EQ(unet_block_index("lora_unet_out_2", ModelFamily::SDXL), 22);
  EXPECT_EQ(unet_block_index("lora_te1_text_model_encoder_layers_0_mlp_fc1", ModelFamily::SDXL), -1);
}

TEST(LoRABlocks, Labels) {
  EXPECT_EQ(unet_block_count(ModelFamily::SD1), 25u);
  EXPECT_EQ(unet_block_count(ModelFamily::SD2), 25u);
  EXPECT_EQ(unet_block_count(ModelFamily::SDXL), 23u);
  EXPECT_EQ(unet_block_label(ModelFamily::SD1, 0), "IN00");
  EXPECT_EQ(unet_block_label(ModelFamily::SD1, 11), "IN11");
  EXPECT_EQ(unet_block_label(ModelFamily::SD1, 12), "MID");
  EXPECT_EQ(unet_block_label(ModelFamily::SD1, 24), "OUT11");
  EXPECT_EQ(unet_block_label(ModelFamily::SDXL, 0), "BASE");
  EXPECT_EQ(unet_block_label(ModelFamily::SDXL, 9), "IN08");
  EXPECT_EQ(unet_block_label(ModelFamily::SDXL, 11), "MID01");
  EXPECT_EQ(unet_block_label(ModelFamily::SDXL, 21), "OUT08");
  EXPECT_EQ(unet_block_label(ModelFamily::SDXL, 22), "OUT");
}

TEST(LoRABlocks, PresetsMatchKohyasFormulas) {
  auto sine = lr_weight_preset("sine", 12, "down_lr_weight");
  ASSERT_EQ(sine.size(), 12u);
  EXPECT_DOUBLE_EQ(sine[0], 0.0);
  EXPECT_NEAR(sine[11], 1.0, 1e-15);
  EXPECT_NEAR(sine[4], std::sin(M_PI * (4.0 / 11.0) / 2), 1e-15);
  auto cosine = lr_weight_preset("cosine+0.5", 9, "up_lr_weight");
  EXPECT_NEAR(cosine[0], 1.5, 1e-15);
  EXPECT_NEAR(cosine[8], 0.5, 1e-15);
  auto linear = lr_weight_preset("linear", 12, "k");
  EXPECT_NEAR(linear[3], 3.0 / 11.0, 1e-15);
  auto reverse = lr_weight_preset("reverse_linear", 12, "k");
  EXPECT_NEAR(reverse[3], 8.0 / 11.0, 1e-15);
  auto zeros = lr_weight_preset("zeros+0.25", 12, "k");
  EXPECT_EQ(zeros, std::vector<double>(12, 0.25));
  EXPECT_NE(error_of([] { lr_weight_preset("sinus", 12, "down_lr_weight"); }).find("network.down_lr_weight"),
            std::string::npos);
  EXPECT_NE(error_of([] { lr_weight_preset("sine+x", 12, "up_lr_weight"); }).find("offset"), std::string::npos);
}

TEST(LoRABlocks, PlanErrorsNameTheKeyAndTheFamilysCount) {
  LoRABlockSettings s;
  s.dims = {4, 4, 4};
  auto msg = error_of([&] { resolve_block_plan(s, ModelFamily::SD1, 4, 1, 0, 1); });
  EXPECT_NE(msg.find("network.block_dims"), std::string::npos) << msg;
  EXPECT_NE(msg.find("wants 25"), std::string::npos) << msg;
  msg = error_of([&] { resolve_block_plan(s, ModelFamily::SDXL, 4, 1, 0, 1); });
  EXPECT_NE(msg.find("wants 23"), std::string::npos) << msg;
  LoRABlockSettings w;
  w.down_lr_weight.values = std::vector<double>(12, 1.0);
  EXPECT_EQ(error_of([&] { resolve_block_plan(w, ModelFamily::SD1, 4, 1, 0, 1); }), "");
  msg = error_of([&] { resolve_block_plan(w, ModelFamily::SDXL, 4, 1, 0, 1); });
  EXPECT_NE(msg.find("network.down_lr_weight: has 12 values; SDXL wants 9"), std::string::npos) << msg;
  LoRABlockSettings mid;
  mid.mid_lr_weight = {1.0};
  msg = error_of([&] { resolve_block_plan(mid, ModelFamily::SDXL, 4, 1, 0, 1); });
  EXPECT_NE(msg.find("network.mid_lr_weight: has 1 values; SDXL wants 3"), std::string::npos) << msg;
  LoRABlockSettings conv;
  conv.conv_dims = std::vector<std::int64_t>(25, 2);
  msg = error_of([&] { resolve_block_plan(conv, ModelFamily::SD1, 4, 1, 0, 1); });
  EXPECT_NE(msg.find("network.conv_block_dims"), std::string::npos) << msg;
}

TEST(LoRABlocks, ZeroWeightsAndTheThresholdEmptyBlocks) {
  LoRABlockSettings s;
  s.down_lr_weight.preset = "linear";  // IN00 weight 0, IN01 1/11, ...
  s.mid_lr_weight = {0.0};
  s.lr_zero_threshold = 0.1;
  auto plan = resolve_block_plan(s, ModelFamily::SD1, 8, 4, 2, 1);
  EXPECT_TRUE(plan.lr_weighted);
  EXPECT_EQ(plan.lr_weights[1], 0.0);  // 1/11 <= 0.1
  EXPECT_EQ(plan.dims[1], 0);
  EXPECT_EQ(plan.conv_dims[1], 0);
  EXPECT_NEAR(plan.lr_weights[2], 2.0 / 11.0, 1e-15);
  EXPECT_EQ(plan.dims[2], 8);
  EXPECT_EQ(plan.dims[12], 0);  // mid weight 0
  EXPECT_EQ(plan.lr_weights[24], 1.0);  // up not set
}

TEST(LoRABlocks, BlockDimsLandInTheTargetsAndTheSavedFile) {
  test::TempDir dir;
  UNet unet(test::sd15_topology());
  LoRAOptions o;
  o.conv_rank = 2;
  for (int i = 0; i < 25; ++i) {
    o.blocks.dims.push_back(i % 4);                  // 0 leaves the block out
    o.blocks.alphas.push_back(0.5 + i);
    o.blocks.conv_dims.push_back(i == 3 ? 0 : 1 + i % 2);
  }
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  std::map<std::string, std::int64_t> want_rank;
  for (const auto& t : net->targets()) {
    const bool conv3 = t.module->is_conv() && t.base->named_parameters()["weight"].size(2) == 3;
    const auto want = conv3 ? o.blocks.conv_dims[t.block] : o.blocks.dims[t.block];
    EXPECT_EQ(t.rank, want) << t.name;
    if (!conv3) EXPECT_DOUBLE_EQ(t.alpha, 0.5 + t.block) << t.name;
    if (!conv3) EXPECT_NE(t.block % 4, 0) << t.name << ": blocks of rank 0 have no linear modules";
    if (conv3) EXPECT_NE(t.block, 3) << t.name;
    EXPECT_GT(t.rank, 0) << t.name;
    want_rank[t.name] = t.rank;
  }
  const auto path = dir / "blocks.safetensors";
  net->save(path, torch::kFloat32, {});
  SafetensorsFile file(path);
  auto info = read_lora_file_info(file);
  ASSERT_EQ(info.modules.size(), want_rank.size());
  for (const auto& m : info.modules) EXPECT_EQ(m.down_shape[0], want_rank.at(m.name)) << m.name;
  // The same options build a network that loads the file.
  LoRANetwork again(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  EXPECT_NO_THROW(again->load(path));
}

TEST(LoRABlocks, ZeroLrWeightRemovesTheBlocksModules) {
  UNet unet(test::sdxl_topology());
  LoRAOptions o;
  o.blocks.down_lr_weight.values = {1, 1, 1, 1, 0, 0.5, 1, 1, 1};  // IN04 (block 5) out
  o.blocks.up_lr_weight.preset = "zeros+1";
  auto all = lora_targets(unet, {}, ModelFamily::SDXL, LoRAOptions{});
  auto some = lora_targets(unet, {}, ModelFamily::SDXL, o);
  std::size_t in04 = 0;
  for (const auto& t : all) in04 += t.block == 5;
  EXPECT_GT(in04, 0u);
  EXPECT_EQ(some.size(), all.size() - in04);
  for (const auto& t : some) EXPECT_NE(t.block, 5) << t.name;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SDXL, o);
  EXPECT_TRUE(net->block_plan().lr_weighted);
  EXPECT_EQ(net->block_plan().lr_weights[6], 0.5);
  EXPECT_EQ(net->unet_parameters_by_block().count(5), 0u);
  EXPECT_EQ(net->unet_parameters_by_block().count(6), 1u);
}

}  // namespace
}  // namespace lathe
