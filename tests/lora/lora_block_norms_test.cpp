// Per-block delta norms of a file with known deltas: ||up @ down||_F * alpha / rank summed per
// kohya block, the text encoders apart, and the family told by the names.
#include <gtest/gtest.h>

#include <cstring>

#include "io/safetensors.h"
#include "lora/lora_block_norms.h"
#include "temp_dir.h"

namespace lathe {
namespace {

std::string f32(std::vector<float> v) {
  std::string out(v.size() * 4, '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A rank-1 module whose delta is [[3, 4], [0, 0]] (norm 5) times alpha / 1.
void add_module(std::vector<std::pair<std::string, std::string>>& bytes, std::vector<TensorToWrite>& t,
                const std::string& name, float alpha) {
  bytes.push_back({name + ".lora_down.weight", f32({3, 4})});
  bytes.push_back({name + ".lora_up.weight", f32({1, 0})});
  bytes.push_back({name + ".alpha", f32({alpha})});
}

std::filesystem::path write_file(const test::TempDir& dir, const std::vector<std::pair<std::string, float>>& modules) {
  std::vector<std::pair<std::string, std::string>> bytes;
  std::vector<TensorToWrite> t;
  for (const auto& [name, alpha] : modules) add_module(bytes, t, name, alpha);
  for (const auto& [key, data] : bytes) {
    std::vector<std::int64_t> shape = key.find(".alpha") != std::string::npos ? std::vector<std::int64_t>{}
                                      : key.find(".lora_down") != std::string::npos ? std::vector<std::int64_t>{1, 2}
                                                                              : std::vector<std::int64_t>{2, 1};
    t.push_back({key, DType::F32, shape, data});
  }
  const auto path = dir / "norms.safetensors";
  write_safetensors(path, t, {});
  return path;
}

TEST(LoRABlockNorms, SumsTheModulesDeltaNormsPerBlock) {
  test::TempDir dir;
  auto path = write_file(dir, {{"lora_unet_down_blocks_0_attentions_0_proj_in", 1.0f},
                               {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 0.5f},
                               {"lora_unet_mid_block_attentions_0_proj_out", 2.0f},
                               {"lora_unet_up_blocks_3_attentions_2_proj_out", 1.0f},
                               {"lora_te_text_model_encoder_layers_0_mlp_fc1", 1.0f}});
  auto n = lora_block_norms(path);
  EXPECT_EQ(n.family, ModelFamily::SD1);
  ASSERT_EQ(n.blocks.size(), 25u);
  EXPECT_EQ(n.blocks[1].label, "IN01");
  EXPECT_EQ(n.blocks[1].modules, 2u);
  EXPECT_NEAR(n.blocks[1].norm, 5.0 + 2.5, 1e-9);
  EXPECT_EQ(n.blocks[12].label, "MID");
  EXPECT_NEAR(n.blocks[12].norm, 10.0, 1e-9);
  EXPECT_NEAR(n.blocks[24].norm, 5.0, 1e-9);
  EXPECT_EQ(n.blocks[2].modules, 0u);
  EXPECT_EQ(n.blocks[2].norm, 0.0);
  EXPECT_EQ(n.text_encoder_modules, 1u);
  EXPECT_NEAR(n.text_encoder_norm, 5.0, 1e-9);
}

TEST(LoRABlockNorms, SDXLNamesUseSDXLBlocks) {
  test::TempDir dir;
  auto path = write_file(dir, {{"lora_unet_input_blocks_4_1_proj_in", 1.0f},
                               {"lora_unet_middle_block_1_transformer_blocks_0_attn1_to_k", 1.0f},
                               {"lora_unet_output_blocks_0_1_proj_out", 3.0f}});
  auto n = lora_block_norms(path);
  EXPECT_EQ(n.family, ModelFamily::SDXL);
  ASSERT_EQ(n.blocks.size(), 23u);
  EXPECT_NEAR(n.blocks[5].norm, 5.0, 1e-9);
  EXPECT_EQ(n.blocks[5].label, "IN04");
  EXPECT_NEAR(n.blocks[11].norm, 5.0, 1e-9);
  EXPECT_NEAR(n.blocks[13].norm, 15.0, 1e-9);
  EXPECT_EQ(n.blocks[13].label, "OUT00");
}

}  // namespace
}  // namespace lathe
