// lora resize: the kept singular directions and the reported error on deltas with known
// singular values, the dynamic modes' rank choice (kohya's index_sv_*), alpha rescaling, conv
// reshaping, the zero delta, and a resized file of a tiny SD 1.5 network that loads back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "common/error.h"
#include "io/safetensors.h"
#include "lora/lora_file_info.h"
#include "lora/lora_network.h"
#include "lora/lora_resize.h"
#include "lora_fixtures.h"
#include "temp_dir.h"

namespace lathe {
namespace {

// up [out, r] = U diag(s), down [r, in] = Vh with orthonormal U, Vh: up @ down has singular values s.
std::pair<torch::Tensor, torch::Tensor> pair_with_singular_values(const std::vector<double>& s, std::int64_t out,
                                                                  std::int64_t in) {
  const auto r = static_cast<std::int64_t>(s.size());
  auto u = std::get<0>(torch::linalg_qr(torch::randn({out, r}, torch::kFloat64)));
  auto v = std::get<0>(torch::linalg_qr(torch::randn({in, r}, torch::kFloat64)));
  auto sv = torch::tensor(s, torch::kFloat64);
  return {v.t().to(torch::kFloat32), (u * sv.unsqueeze(0)).to(torch::kFloat32)};
}

double share(const std::vector<double>& s, std::size_t from, bool squared) {
  double all = 0, part = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    all += squared ? s[i] * s[i] : s[i];
    if (i >= from) part += squared ? s[i] * s[i] : s[i];
  }
  return part / all;
}

TEST(LoRAResize, FixedRankKeepsTheDominantDirectionsAndReportsTheCut) {
  torch::manual_seed(3);
  const std::vector<double> s = {8, 4, 2, 1, 0.5, 0.25, 0.1, 0.05};
  auto [down, up] = pair_with_singular_values(s, 24, 40);
  const double alpha = 4;  // scale 0.5
  auto r = resize_module("m", down, up, alpha, 3, ResizeMode::Fixed, 0);
  EXPECT_EQ(r.report.new_rank, 3);
  EXPECT_EQ(r.down.sizes(), (torch::IntArrayRef{3, 40}));
  EXPECT_EQ(r.up.sizes(), (torch::IntArrayRef{24, 3}));
  EXPECT_DOUBLE_EQ(r.report.new_alpha, 0.5 * 3);  // scale kept
  const double want_error = std::sqrt(share(s, 3, true));
  EXPECT_NEAR(r.report.relative_error, want_error, 1e-6);
  EXPECT_NEAR(r.report.fro_retained, std::sqrt(1 - want_error * want_error), 1e-6);
  // The measured error of the new delta (with the new scale) against the full one.
  auto full = up.to(torch::kFloat64).matmul(down.to(torch::kFloat64)) * (alpha / 8);
  auto kept = r.up.to(torch::kFloat64).matmul(r.down.to(torch::kFloat64)) * (r.report.new_alpha / 3);
  const double measured = ((full - kept).norm() / full.norm()).item<double>();
  EXPECT_NEAR(measured, want_error, 1e-5);
  // What is kept is the best rank-3 approximation: the top singular values are unchanged.
  auto sv = torch::linalg_svdvals(kept / 0.5);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(sv[i].item<double>(), s[i], 1e-4);
}

TEST(LoRAResize, DynamicModesPickKohyasRanks) {
  torch::manual_seed(4);
  const std::vector<double> s = {8, 4, 2, 1, 0.5, 0.25, 0.1, 0.05};
  auto [down, up] = pair_with_singular_values(s, 16, 16);
  // sv_ratio 5: values above 8 / 5 = 1.6 -> 8, 4, 2.
  EXPECT_EQ(resize_module("m", down, up, std::nullopt, 8, ResizeMode::Ratio, 5).report.new_rank, 3);
  // sv_fro 0.99: the first rank whose squared share reaches 0.9801. 64+16+4 = 84 of 85.3425 = 0.9843.
  EXPECT_EQ(resize_module("m", down, up, std::nullopt, 8, ResizeMode::Frobenius, 0.99).report.new_rank, 3);
  EXPECT_EQ(resize_module("m", down, up, std::nullopt, 8, ResizeMode::Frobenius, 0.999).report.new_rank, 5);
  // sv_cumulative 0.9: sums 8, 12, 14, 15 of 15.9 -> 14 / 15.9 = 0.88, 15 / 15.9 = 0.943 -> rank 4.
  EXPECT_EQ(resize_module("m", down, up, std::nullopt, 8, ResizeMode::Cumulative, 0.9).report.new_rank, 4);
  // --rank caps the dynamic choice.
  EXPECT_EQ(resize_module("m", down, up, std::nullopt, 2, ResizeMode::Frobenius, 0.999).report.new_rank, 2);
  // No alpha in the file: alpha = rank, scale 1, new alpha = new rank.
  EXPECT_DOUBLE_EQ(resize_module("m", down, up, std::nullopt, 2, ResizeMode::Fixed, 0).report.new_alpha, 2.0);
  // A module never grows above its own rank.
  EXPECT_EQ(resize_module("m", down, up, 1.0, 32, ResizeMode::Fixed, 0).report.new_rank, 8);
}

TEST(LoRAResize, ConvModulesKeepTheirKernelsAndAZeroDeltaKeepsRankOne) {
  torch::manual_seed(5);
  auto down = torch::randn({4, 3, 3, 3});
  auto up = torch::randn({6, 4, 1, 1});
  auto r = resize_module("c", down, up, 2.0, 2, ResizeMode::Fixed, 0);
  EXPECT_TRUE(r.report.conv);
  EXPECT_EQ(r.down.sizes(), (torch::IntArrayRef{2, 3, 3, 3}));
  EXPECT_EQ(r.up.sizes(), (torch::IntArrayRef{6, 2, 1, 1}));
  auto full = up.flatten(1).matmul(down.flatten(1)) * 0.5;
  auto kept = r.up.flatten(1).matmul(r.down.flatten(1)) * (r.report.new_alpha / 2);
  EXPECT_NEAR(((full - kept).norm() / full.norm()).item<double>(), r.report.relative_error, 1e-5);
  auto zero = resize_module("z", down, torch::zeros({6, 4, 1, 1}), 2.0, 3, ResizeMode::Frobenius, 0.9);
  EXPECT_EQ(zero.report.new_rank, 1);
  EXPECT_EQ(zero.up.abs().max().item<float>(), 0.0f);
}

TEST(LoRAResize, OptionsAreChecked) {
  LoRAResizeOptions o;
  o.rank = 0;
  EXPECT_THROW(check_resize_options(o), Error);
  o.rank = 4;
  o.mode = ResizeMode::Ratio;
  o.param = 0.5;
  EXPECT_THROW(check_resize_options(o), Error);
  o.mode = ResizeMode::Frobenius;
  o.param = 1.5;
  EXPECT_THROW(check_resize_options(o), Error);
  o.param = 0.9;
  EXPECT_NO_THROW(check_resize_options(o));
}

TEST(LoRAResize, AResizedFileLoadsWithMetadataUpdated) {
  test::TempDir dir;
  torch::manual_seed(6);
  UNet unet(test::sd15_topology());
  LoRAOptions o;
  o.rank = 8;
  o.alpha = 4;
  o.conv_rank = 4;
  o.conv_alpha = 2;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.normal_(0, 0.1);
  }
  const auto src = dir / "src.safetensors", out = dir / "small.safetensors";
  net->save(src, torch::kFloat16, {{"ss_training_comment", "dog"}, {"ss_network_dim", "8"}});
  LoRAResizeOptions ro;
  ro.rank = 2;
  auto report = resize_lora_file(src, out, ro);
  EXPECT_EQ(report.max_old_rank, 8);
  EXPECT_EQ(report.modules.size(), net->targets().size());
  for (const auto& m : report.modules) {
    EXPECT_EQ(m.new_rank, 2) << m.name;
    EXPECT_NEAR(m.fro_retained * m.fro_retained + m.relative_error * m.relative_error, 1.0, 1e-9);
  }
  SafetensorsFile file(out);
  for (const auto& m : read_lora_file_info(file).modules)
    EXPECT_EQ(file.info(m.name + ".lora_down.weight").dtype, DType::F16) << m.name;
  EXPECT_EQ(file.metadata().at("ss_network_dim"), "2");
  EXPECT_EQ(file.metadata().at("ss_training_comment"), "dimension is resized from 8 to 2; dog");
  EXPECT_EQ(file.metadata().at("sshs_model_hash"), lora_tensor_sha256(file));
  EXPECT_EQ(nlohmann::json::parse(file.metadata().at("lathe_resize"))["from_rank"], 8);
  // The file loads, strictly, into a network of the new rank.
  LoRAOptions small = o;
  small.rank = 2;
  small.conv_rank = 2;
  LoRANetwork resized(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, small);
  EXPECT_NO_THROW(resized->load(out));

  // --conv-rank: every 4-D module (3x3 and SD 1.5's 1x1 projections), as kohya's new_conv_rank.
  ro.conv_rank = 1;
  resize_lora_file(src, out, ro);
  SafetensorsFile conv_file(out);
  for (const auto& m : read_lora_file_info(conv_file).modules) EXPECT_EQ(m.rank, m.conv ? 1 : 2) << m.name;
  EXPECT_EQ(conv_file.metadata().at("ss_training_comment"), "dimension is resized from 8 to 2 (conv: 1); dog");
}

TEST(LoRAResize, RefusesFilesThatAreNotLoRA) {
  test::TempDir dir;
  const auto path = dir / "x.safetensors";
  std::string bytes(4, '\0');
  write_safetensors(path, {{"model.weight", DType::F32, {1}, bytes}}, {});
  LoRAResizeOptions ro;
  EXPECT_THROW(resize_lora_file(path, dir / "y.safetensors", ro), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "y.safetensors"));
}

}  // namespace
}  // namespace lathe
