// EfficientNet encoder config and shapes: the module's keys are the file's keys, the v2_s table
// equals the real encoder file's 784 keys (../shared fixtures: real_effnet_v2_s_shapes.json),
// the real-file header check passes on that table and names the key it fails on, the config is
// read back from both the real and the tiny shapes, and the Stage C image/latent size rule.
#include "models/effnet_config.h"
#include "models/effnet_encoder.h"
#include "models/effnet_latent_size.h"
#include "cascade_fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"

namespace lathe {
namespace {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

using test::cascade_dir;

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

ShapeMap real_shapes_from_json() {
  ShapeMap out;
  const auto table = read_json(cascade_dir() / "effnet_tiny/real_effnet_v2_s_shapes.json");
  for (const auto& [key, value] : table.items())
    out[key] = value.at("shape").get<std::vector<int64_t>>();
  return out;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A small config with every block kind, for tests that need no fixtures.
EffNetConfig small_config() {
  auto c = efficientnet_v2_s_config();
  const int64_t widths[] = {8, 16, 24, 32, 40, 64};
  c.stem_channels = 8;
  int64_t in = 8;
  for (std::size_t s = 0; s < c.stages.size(); ++s) {
    c.stages[s].in_channels = in;
    c.stages[s].out_channels = in = widths[s];
    c.stages[s].num_layers = 2;
  }
  c.head_channels = 32;
  return c;
}

ShapeMap module_shapes(torch::nn::Module& m) {
  ShapeMap out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().sizes().vec();
  for (const auto& b : m.named_buffers()) out[b.key()] = b.value().sizes().vec();
  return out;
}

TEST(EffNetConfig, ModuleKeysAndShapesAreTheFileTable) {
  const auto config = small_config();
  EffNetEncoder encoder(config);
  EXPECT_EQ(module_shapes(*encoder), effnet_tensor_shapes(config));
  // Fused with expand 1 has one conv; MBConv has expand, depthwise, SE and project.
  const auto shapes = effnet_tensor_shapes(config);
  EXPECT_TRUE(shapes.count("backbone.1.0.block.0.0.weight"));
  EXPECT_FALSE(shapes.count("backbone.1.0.block.1.0.weight"));
  EXPECT_EQ(shapes.at("backbone.4.0.block.1.0.weight"), (std::vector<int64_t>{96, 1, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.4.0.block.2.fc1.weight"), (std::vector<int64_t>{6, 96, 1, 1}));
  EXPECT_EQ(shapes.at("mapper.0.weight"), (std::vector<int64_t>{16, 32, 1, 1}));
  EXPECT_FALSE(shapes.count("mapper.1.weight"));  // BatchNorm without affine
}

TEST(EffNetConfig, DetectReadsBackTheConfig) {
  const auto config = small_config();
  const auto back = detect_effnet_config(effnet_tensor_shapes(config), "mem");
  ASSERT_EQ(back.stages.size(), config.stages.size());
  for (std::size_t s = 0; s < config.stages.size(); ++s) {
    EXPECT_EQ(back.stages[s].kind, config.stages[s].kind) << s;
    EXPECT_EQ(back.stages[s].expand_ratio, config.stages[s].expand_ratio) << s;
    EXPECT_EQ(back.stages[s].stride, config.stages[s].stride) << s;
    EXPECT_EQ(back.stages[s].in_channels, config.stages[s].in_channels) << s;
    EXPECT_EQ(back.stages[s].out_channels, config.stages[s].out_channels) << s;
    EXPECT_EQ(back.stages[s].num_layers, config.stages[s].num_layers) << s;
  }
  EXPECT_EQ(back.head_channels, 32);
  EXPECT_EQ(back.latent_channels, 16);
}

TEST(EffNetConfig, DetectNamesTheFileAndKey) {
  auto shapes = effnet_tensor_shapes(small_config());
  shapes.erase("mapper.0.weight");
  auto msg = error_of([&] { detect_effnet_config(shapes, "enc.safetensors"); });
  EXPECT_NE(msg.find("enc.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mapper.0.weight"), std::string::npos) << msg;

  shapes = effnet_tensor_shapes(small_config());
  for (auto it = shapes.begin(); it != shapes.end();)
    it = it->first.rfind("backbone.6.", 0) == 0 ? shapes.erase(it) : std::next(it);
  msg = error_of([&] { detect_effnet_config(shapes, "enc.safetensors"); });
  EXPECT_NE(msg.find("backbone.6.*"), std::string::npos) << msg;

  msg = error_of([&] { detect_effnet_config({{"model.diffusion_model.x", {1}}}, "unet.safetensors"); });
  EXPECT_NE(msg.find("backbone.0.0.weight"), std::string::npos) << msg;
}

TEST(EffNetConfig, RealTableIsTheRealEncoderFile) {
  REQUIRE_CASCADE("effnet_tiny/real_effnet_v2_s_shapes.json");
  const auto real = real_shapes_from_json();
  const auto table = effnet_tensor_shapes(efficientnet_v2_s_config());
  EXPECT_EQ(real.size(), 784u);
  EXPECT_EQ(table, real);
  int64_t params = 0;
  for (const auto& [key, shape] : table) {
    if (key.find("running_") != std::string::npos || key.find("num_batches") != std::string::npos) continue;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    params += n;
  }
  EXPECT_EQ(params, 20197968);  // manifest real_n_params
}

TEST(EffNetConfig, RealHeaderCheckPassesAndNamesTheKey) {
  REQUIRE_CASCADE("effnet_tiny/real_effnet_v2_s_shapes.json");
  auto shapes = real_shapes_from_json();
  EXPECT_NO_THROW(check_real_effnet_shapes(shapes, "effnet_encoder.safetensors"));
  const auto detected = detect_effnet_config(shapes, "effnet_encoder.safetensors");
  EXPECT_EQ(effnet_tensor_shapes(detected), shapes);

  auto without_counters = shapes;
  for (auto it = without_counters.begin(); it != without_counters.end();)
    it = it->first.find("num_batches_tracked") != std::string::npos ? without_counters.erase(it) : std::next(it);
  EXPECT_NO_THROW(check_real_effnet_shapes(without_counters, "e.safetensors"));

  auto changed = shapes;
  changed["backbone.5.3.block.2.fc1.weight"] = {33, 768, 1, 1};
  auto msg = error_of([&] { check_real_effnet_shapes(changed, "effnet_encoder.safetensors"); });
  EXPECT_NE(msg.find("effnet_encoder.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("backbone.5.3.block.2.fc1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[33, 768, 1, 1]"), std::string::npos) << msg;

  auto missing = shapes;
  missing.erase("backbone.7.1.running_var");
  msg = error_of([&] { check_real_effnet_shapes(missing, "e.safetensors"); });
  EXPECT_NE(msg.find("missing backbone.7.1.running_var"), std::string::npos) << msg;
}

TEST(EffNetConfig, TinyFixtureConfigIsDetected) {
  REQUIRE_CASCADE("effnet_tiny/weights.safetensors");
  const auto shapes = safetensors_shapes(cascade_dir() / "effnet_tiny/weights.safetensors");
  EXPECT_EQ(shapes.size(), 784u);
  const auto config = detect_effnet_config(shapes, "tiny");
  EXPECT_EQ(effnet_tensor_shapes(config), shapes);
  const auto expected = read_json(cascade_dir() / "effnet_tiny/config.json");
  const auto& stages = expected.at("stages");
  ASSERT_EQ(config.stages.size(), stages.size());
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const auto& row = stages[s];  // block, expand_ratio, kernel, stride, in, out, num_layers
    EXPECT_EQ(config.stages[s].kind == EffNetBlockKind::Fused ? "fused" : "mb", row[0].get<std::string>()) << s;
    EXPECT_EQ(config.stages[s].expand_ratio, row[1].get<int64_t>()) << s;
    EXPECT_EQ(config.stages[s].kernel, row[2].get<int64_t>()) << s;
    EXPECT_EQ(config.stages[s].stride, row[3].get<int64_t>()) << s;
    EXPECT_EQ(config.stages[s].in_channels, row[4].get<int64_t>()) << s;
    EXPECT_EQ(config.stages[s].out_channels, row[5].get<int64_t>()) << s;
    EXPECT_EQ(config.stages[s].num_layers, row[6].get<int64_t>()) << s;
  }
  EXPECT_EQ(config.head_channels, expected.at("last_channel").get<int64_t>());
  EXPECT_EQ(config.latent_channels, expected.at("c_latent").get<int64_t>());
  // The tiny encoder is not the real one, and the real check says so.
  auto msg = error_of([&] { check_real_effnet_shapes(shapes, "tiny.safetensors"); });
  EXPECT_NE(msg.find("backbone.0.0.weight"), std::string::npos) << msg;
}

TEST(StageCLatentSize, ScaleRoundsLikePythonAndStrideIs32) {
  EXPECT_EQ(effnet_input_length(1024), 768);
  EXPECT_EQ(effnet_input_length(126), 94);   // 94.5 -> 94 (ties to even)
  EXPECT_EQ(effnet_input_length(130), 98);   // 97.5 -> 98
  EXPECT_EQ(effnet_input_length(129), 97);   // 96.75
  EXPECT_EQ(stage_c_latent_length(1024), 24);
  EXPECT_EQ(stage_c_latent_length(1000), 24);  // 750 -> ceil(23.4)
  EXPECT_EQ(stage_c_latent_length(64), 2);     // effnet case0 size class
  for (int64_t k = 1; k <= 16; ++k) {
    EXPECT_TRUE(is_stage_c_bucket_length(128 * k));
    EXPECT_EQ(stage_c_latent_length(128 * k), 3 * k) << 128 * k;
  }
  EXPECT_FALSE(is_stage_c_bucket_length(1000));
  EXPECT_FALSE(is_stage_c_bucket_length(0));
}

}  // namespace
}  // namespace lathe
