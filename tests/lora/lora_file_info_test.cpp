// Reading a LoRA file's structure from its header (what `lathe lora inspect` prints): parts,
// ranks, alphas in every float dtype, conv vs linear, non-LoRA keys, the errors, and the
// SHA-256 of the tensor bytes (A1111's hash of a LoRA).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/error.h"
#include "io/model_hashes.h"
#include "io/safetensors.h"
#include "lora/lora_file_info.h"
#include "temp_dir.h"

namespace lathe {
namespace {

struct Blob {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

Blob zeros(const std::string& name, std::vector<std::int64_t> shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  return {name, DType::F32, shape, std::string(n * 4, '\0')};
}

Blob f32_scalar(const std::string& name, float v) {
  std::string b(4, '\0');
  std::memcpy(b.data(), &v, 4);
  return {name, DType::F32, {}, b};
}

Blob u16_scalar(const std::string& name, DType t, std::uint16_t bits) {
  std::string b(2, '\0');
  std::memcpy(b.data(), &bits, 2);
  return {name, t, {}, b};
}

std::filesystem::path write(const test::TempDir& dir, const std::vector<Blob>& blobs) {
  std::vector<TensorToWrite> t;
  for (const auto& b : blobs) t.push_back({b.name, b.dtype, b.shape, b.bytes});
  auto path = dir.path() / "x.safetensors";
  write_safetensors(path, t, {{"ss_network_dim", "4"}});
  return path;
}

TEST(LoRAFileInfo, PartsRanksAlphasAndTypes) {
  test::TempDir dir;
  const std::string a = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const std::string b = "lora_te1_text_model_encoder_layers_0_mlp_fc1";
  const std::string c = "lora_te2_text_model_encoder_layers_0_mlp_fc2";
  const std::string d = "lora_unet_down_blocks_0_resnets_0_conv1";
  auto path = write(dir, {zeros(a + ".lora_down.weight", {4, 8, 1, 1}), zeros(a + ".lora_up.weight", {8, 4, 1, 1}),
                          f32_scalar(a + ".alpha", 2.0f),
                          zeros(b + ".lora_down.weight", {4, 8}), zeros(b + ".lora_up.weight", {16, 4}),
                          u16_scalar(b + ".alpha", DType::F16, 0x3C00),  // 1.0 in fp16
                          zeros(c + ".lora_down.weight", {2, 16}), zeros(c + ".lora_up.weight", {8, 2}),
                          u16_scalar(c + ".alpha", DType::BF16, 0x4080),  // 4.0 in bf16
                          zeros(d + ".lora_down.weight", {2, 8, 3, 3}), zeros(d + ".lora_up.weight", {8, 2, 1, 1}),
                          zeros("something_else", {1})});
  SafetensorsFile file(path);
  auto info = read_lora_file_info(file);
  ASSERT_EQ(info.modules.size(), 4u);
  EXPECT_EQ(info.parts.at("unet"), 2u);
  EXPECT_EQ(info.parts.at("te1"), 1u);
  EXPECT_EQ(info.parts.at("te2"), 1u);
  EXPECT_EQ(info.other_keys, std::vector<std::string>{"something_else"});
  EXPECT_EQ(info.metadata.at("ss_network_dim"), "4");
  std::map<std::string, LoRAModuleInfo> by;
  for (const auto& m : info.modules) by[m.name] = m;
  EXPECT_EQ(by[a].rank, 4);
  EXPECT_TRUE(by[a].conv);
  EXPECT_EQ(by[a].kernel, 1);
  EXPECT_DOUBLE_EQ(*by[a].alpha, 2.0);
  EXPECT_FALSE(by[b].conv);
  EXPECT_DOUBLE_EQ(*by[b].alpha, 1.0);
  EXPECT_DOUBLE_EQ(*by[c].alpha, 4.0);
  EXPECT_EQ(by[c].rank, 2);
  EXPECT_EQ(by[d].kernel, 3);
  EXPECT_FALSE(by[d].alpha.has_value());
  EXPECT_EQ(lora_part_of("lora_te_text_model_x"), "te");
  EXPECT_EQ(lora_part_of("model.diffusion_model.x"), "");
}

TEST(LoRAFileInfo, Errors) {
  test::TempDir dir;
  EXPECT_THROW(read_lora_file_info(SafetensorsFile(write(dir, {zeros("model.x.weight", {2})}))), Error);
  const std::string a = "lora_unet_x";
  EXPECT_THROW(read_lora_file_info(SafetensorsFile(write(dir, {zeros(a + ".lora_down.weight", {4, 8})}))), Error);
  EXPECT_THROW(read_lora_file_info(SafetensorsFile(write(
                   dir, {zeros(a + ".lora_down.weight", {4, 8}), zeros(a + ".lora_up.weight", {8, 3})}))),
               Error);
}

// The file's bytes after the header, hashed: for two tensors of 2 bytes 01 02 / 03 04 that is
// Python's hashlib.sha256(bytes([1, 2, 3, 4])).hexdigest(); and what addnet_hashes (so the
// sshs_model_hash Lathe writes) gives for the same tensors.
TEST(LoRAFileInfo, TensorHashIsA1111sHashOfTheFile) {
  test::TempDir dir;
  const std::vector<Blob> blobs = {{"lora_unet_a.lora_down.weight", DType::F16, {1, 1}, std::string("\x01\x02", 2)},
                                   {"lora_unet_a.lora_up.weight", DType::F16, {1, 1}, std::string("\x03\x04", 2)}};
  SafetensorsFile file(write(dir, blobs));
  EXPECT_EQ(lora_tensor_sha256(file), "9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a");
  std::vector<TensorToWrite> t;
  for (const auto& b : blobs) t.push_back({b.name, b.dtype, b.shape, b.bytes});
  EXPECT_EQ(addnet_hashes(t, file.metadata()).model_hash, lora_tensor_sha256(file));
}

}  // namespace
}  // namespace lathe
