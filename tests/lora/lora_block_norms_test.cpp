// Per-block delta norms of a file with known deltas: ||up @ down||_F * alpha / rank summed per
// kohya block, the text encoders apart, and the family told by the names; LoHa and LoKr modules
// (small hand-made factors) give the norm of their delta computed here by plain loops, with
// LyCORIS's scale rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

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

// Named tensors of given shapes and values, written to one file.
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

std::filesystem::path write_tensors(const test::TempDir& dir, const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> bytes;
  bytes.reserve(tensors.size());  // the views below point into these strings
  std::vector<TensorToWrite> t;
  for (const auto& n : tensors) {
    bytes.push_back(f32(n.values));
    t.push_back({n.name, DType::F32, n.shape, bytes.back()});
  }
  const auto path = dir / "lycoris.safetensors";
  write_safetensors(path, t, {});
  return path;
}

// Row-major [rows, cols] matrices for the hand computations.
using Matrix = std::vector<std::vector<double>>;

Matrix matrix(const std::vector<float>& v, std::size_t rows, std::size_t cols) {
  Matrix m(rows, std::vector<double>(cols));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) m[r][c] = v[r * cols + c];
  return m;
}

Matrix matmul(const Matrix& a, const Matrix& b) {
  Matrix out(a.size(), std::vector<double>(b[0].size(), 0.0));
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t k = 0; k < b.size(); ++k)
      for (std::size_t j = 0; j < b[0].size(); ++j) out[i][j] += a[i][k] * b[k][j];
  return out;
}

// Kronecker product: out[i * p + k][j * q + l] = a[i][j] * b[k][l] for b [p, q].
Matrix kron(const Matrix& a, const Matrix& b) {
  const std::size_t p = b.size(), q = b[0].size();
  Matrix out(a.size() * p, std::vector<double>(a[0].size() * q));
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a[0].size(); ++j)
      for (std::size_t k = 0; k < p; ++k)
        for (std::size_t l = 0; l < q; ++l) out[i * p + k][j * q + l] = a[i][j] * b[k][l];
  return out;
}

double frobenius(const Matrix& m) {
  double sq = 0;
  for (const auto& row : m)
    for (double x : row) sq += x * x;
  return std::sqrt(sq);
}

// LoHa on a Linear 2 -> 3 (rank 2, alpha 1: scale 1/2): (w1_a @ w1_b) .* (w2_a @ w2_b) / 2.
const std::vector<float> kW1a{0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f};  // [3, 2]
const std::vector<float> kW1b{1.0f, 2.0f, -0.5f, 0.3f};                  // [2, 2]
const std::vector<float> kW2a{-1.0f, 0.4f, 0.6f, 1.2f, 2.0f, -0.2f};    // [3, 2]
const std::vector<float> kW2b{0.7f, -1.1f, 0.9f, 0.05f};                 // [2, 2]

double loha_hand_norm(double scale) {
  const Matrix p1 = matmul(matrix(kW1a, 3, 2), matrix(kW1b, 2, 2));
  const Matrix p2 = matmul(matrix(kW2a, 3, 2), matrix(kW2b, 2, 2));
  Matrix d = p1;
  for (std::size_t i = 0; i < d.size(); ++i)
    for (std::size_t j = 0; j < d[0].size(); ++j) d[i][j] = p1[i][j] * p2[i][j] * scale;
  return frobenius(d);
}

std::vector<NamedTensor> loha_module(const std::string& name, float alpha) {
  return {{name + ".hada_w1_a", {3, 2}, kW1a}, {name + ".hada_w1_b", {2, 2}, kW1b},
          {name + ".hada_w2_a", {3, 2}, kW2a}, {name + ".hada_w2_b", {2, 2}, kW2b},
          {name + ".alpha", {}, {alpha}}};
}

TEST(LoRABlockNorms, LoHaModuleGivesTheNormOfItsHadamardDelta) {
  test::TempDir dir;
  auto tensors = loha_module("lora_unet_down_blocks_0_attentions_0_proj_in", 1.0f);
  auto te = loha_module("lora_te_text_model_encoder_layers_0_mlp_fc1", 4.0f);
  tensors.insert(tensors.end(), te.begin(), te.end());
  auto n = lora_block_norms(write_tensors(dir, tensors));
  EXPECT_EQ(n.skipped_modules, 0u);
  EXPECT_EQ(n.blocks[1].modules, 1u);
  const double expected = loha_hand_norm(0.5);
  ASSERT_GT(expected, 0.1);
  EXPECT_NEAR(n.blocks[1].norm, expected, 1e-5 * expected);
  EXPECT_EQ(n.text_encoder_modules, 1u);
  EXPECT_NEAR(n.text_encoder_norm, loha_hand_norm(2.0), 1e-5 * expected);
}

// A 3x3 conv LoHa keeps the kernel flattened in hada_w*_b ([r, in * 9]); a dora_scale beside it
// leaves the norm that of the LoHa delta (the magnitude needs the base weight).
TEST(LoRABlockNorms, ConvLoHaWithDoRAGivesTheAdapterDeltaNorm) {
  test::TempDir dir;
  std::vector<float> b1(18), b2(18);
  for (int i = 0; i < 18; ++i) {
    b1[i] = 0.1f * static_cast<float>(i) - 0.8f;
    b2[i] = std::cos(static_cast<float>(i));
  }
  const std::vector<float> a1{1.0f, -2.0f}, a2{0.5f, 3.0f};  // [2, 1]: out 2, rank 1
  const std::string name = "lora_unet_mid_block_resnets_0_conv1";
  auto n = lora_block_norms(write_tensors(dir, {{name + ".hada_w1_a", {2, 1}, a1},
                                                {name + ".hada_w1_b", {1, 18}, b1},
                                                {name + ".hada_w2_a", {2, 1}, a2},
                                                {name + ".hada_w2_b", {1, 18}, b2},
                                                {name + ".alpha", {}, {0.5f}},
                                                {name + ".dora_scale", {1, 2, 1, 1}, {7.0f, 9.0f}}}));
  Matrix d = matmul(matrix(a1, 2, 1), matrix(b1, 1, 18));
  const Matrix p2 = matmul(matrix(a2, 2, 1), matrix(b2, 1, 18));
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 18; ++j) d[i][j] *= p2[i][j] * 0.5;  // alpha 0.5 / rank 1
  EXPECT_EQ(n.skipped_modules, 0u);
  EXPECT_EQ(n.blocks[12].label, "MID");
  EXPECT_EQ(n.blocks[12].modules, 1u);
  EXPECT_NEAR(n.blocks[12].norm, frobenius(d), 1e-5 * frobenius(d));
}

// LoKr with both factors full: scale 1 whatever alpha says (LyCORIS stores the rank there; the
// loaders ignore it), so an alpha of 2.5 must not scale the delta.
TEST(LoRABlockNorms, LoKrWithTwoFullFactorsHasScaleOne) {
  test::TempDir dir;
  const std::vector<float> w1{1.0f, 2.0f, -1.0f, 0.5f};                 // [2, 2]
  const std::vector<float> w2{0.3f, -0.6f, 1.2f, 2.0f, 0.1f, -0.9f};    // [2, 3]
  const std::string name = "lora_unet_up_blocks_3_attentions_2_proj_out";
  auto n = lora_block_norms(write_tensors(dir, {{name + ".lokr_w1", {2, 2}, w1},
                                                {name + ".lokr_w2", {2, 3}, w2},
                                                {name + ".alpha", {}, {2.5f}}}));
  const double expected = frobenius(kron(matrix(w1, 2, 2), matrix(w2, 2, 3)));
  EXPECT_EQ(n.skipped_modules, 0u);
  EXPECT_EQ(n.blocks[24].modules, 1u);
  EXPECT_NEAR(n.blocks[24].norm, expected, 1e-5 * expected);
}

// LoKr on a 3x3 conv with w2 a rank-1 product (w2_b [1, in_n * 9]): alpha / rank scales it.
TEST(LoRABlockNorms, LoKrWithDecomposedConvFactorIsScaledByAlphaOverRank) {
  test::TempDir dir;
  const std::vector<float> w1{2.0f, -1.0f, 0.5f, 1.5f, 1.0f, -0.25f};  // [2, 3]: out_l 2, in_m 3
  const std::vector<float> w2a{1.0f, -3.0f};                           // [2, 1]: out_k 2
  std::vector<float> w2b(18);                                         // [1, 2 * 9]: in_n 2
  for (int i = 0; i < 18; ++i) w2b[i] = std::sin(static_cast<float>(i) + 0.5f);
  const std::string name = "lora_unet_down_blocks_1_resnets_0_conv2";  // IN04
  auto n = lora_block_norms(write_tensors(dir, {{name + ".lokr_w1", {2, 3}, w1},
                                                {name + ".lokr_w2_a", {2, 1}, w2a},
                                                {name + ".lokr_w2_b", {1, 18}, w2b},
                                                {name + ".alpha", {}, {0.25f}}}));
  Matrix d = kron(matrix(w1, 2, 3), matmul(matrix(w2a, 2, 1), matrix(w2b, 1, 18)));
  for (auto& row : d)
    for (double& x : row) x *= 0.25;  // alpha 0.25 / rank 1
  EXPECT_EQ(n.skipped_modules, 0u);
  EXPECT_EQ(n.blocks[4].label, "IN04");
  EXPECT_EQ(n.blocks[4].modules, 1u);
  EXPECT_NEAR(n.blocks[4].norm, frobenius(d), 1e-5 * frobenius(d));
}

// A LoCon with a Tucker core (lora_mid) is not computed: counted as skipped, in no block.
TEST(LoRABlockNorms, TuckerModulesAreCountedAsSkipped) {
  test::TempDir dir;
  const std::string name = "lora_unet_down_blocks_0_resnets_0_conv1";
  std::vector<float> mid(9, 1.0f);
  auto n = lora_block_norms(write_tensors(dir, {{name + ".lora_down.weight", {1, 2, 1, 1}, {1.0f, 1.0f}},
                                                {name + ".lora_mid.weight", {1, 1, 3, 3}, mid},
                                                {name + ".lora_up.weight", {2, 1, 1, 1}, {1.0f, 1.0f}}}));
  EXPECT_EQ(n.skipped_modules, 1u);
  for (const auto& b : n.blocks) EXPECT_EQ(b.modules, 0u) << b.label;
}

}  // namespace
}  // namespace lathe
