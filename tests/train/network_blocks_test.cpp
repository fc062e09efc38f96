// [network] per-block keys: lists, kohya's comma text and presets are read, rendered back and
// handed to the network; lengths are checked against the family with the key and the count
// named; per-block lr weights become one optimizer group per block at lr x weight, which the LR
// schedule scales together; a block of weight 0 has no group and no modules.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/error.h"
#include "io/profile.h"
#include "lora/lora_network.h"
#include "temp_dir.h"
#include "train/config/train_config.h"
#include "train/loop/lora_param_groups.h"
#include "train/optim/lr_schedule.h"
#include "train/optim/optimizers.h"
#include "lora/lora_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

std::string profile(const std::string& model, const std::string& network) {
  return "[model]\npath = \"" + model + "\"\n\n[dataset]\npath = \"data\"\n\n[network]\n" + network + "\n";
}

std::string errors_of(const std::string& text, const fs::path& path) {
  ProfileCheck c = check_train_profile(parse_profile(text, path));
  std::string s;
  for (const auto& e : c.errors) s += e + "\n";
  return s;
}

TEST(NetworkBlocksConfig, ListsCommaTextAndPresetsAreReadAndRenderedBack) {
  test::TempDir dir;
  const std::string dims = "block_dims = \"0,2,2,4,4,4,8,8,8,8,8,8,8,8,8,8,8,8,4,4,4,2,2,2,2\"";
  TrainConfig c = parse_train_config(
      profile("tiny-random:sd15", dims + "\ndown_lr_weight = \"sine+0.5\"\nmid_lr_weight = 0.5\n"
                                         "up_lr_weight = [1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]\n"
                                         "block_lr_zero_threshold = 0.1"),
      dir / "p.toml");
  const LoRABlockSettings& b = c.network.blocks;
  ASSERT_EQ(b.dims.size(), 25u);
  EXPECT_EQ(b.dims[0], 0);
  EXPECT_EQ(b.dims[6], 8);
  EXPECT_EQ(b.down_lr_weight.preset, "sine+0.5");
  EXPECT_EQ(b.mid_lr_weight, std::vector<double>{0.5});
  EXPECT_EQ(b.up_lr_weight.values.size(), 12u);
  EXPECT_DOUBLE_EQ(b.lr_zero_threshold, 0.1);
  EXPECT_EQ(to_lora_options(c.network).blocks.dims, b.dims);
  // The frozen profile reads back to the same settings.
  TrainConfig again = parse_train_config(render_profile_toml(c), dir / "runs/r/profile.toml");
  EXPECT_EQ(again.network.blocks.dims, b.dims);
  EXPECT_EQ(again.network.blocks.down_lr_weight.preset, "sine+0.5");
  EXPECT_EQ(again.network.blocks.up_lr_weight.values, b.up_lr_weight.values);
  EXPECT_EQ(again.network.blocks.mid_lr_weight, b.mid_lr_weight);
  EXPECT_EQ(render_profile_identity(again), render_profile_identity(c));
  // A profile without block keys renders none (earlier runs' identities are unchanged).
  TrainConfig plain = parse_train_config(profile("tiny-random:sd15", "rank = 4"), dir / "p.toml");
  EXPECT_EQ(render_profile_toml(plain).find("block"), std::string::npos);
}

TEST(NetworkBlocksConfig, ErrorsNameTheKeyAndTheCountTheFamilyWants) {
  test::TempDir dir;
  auto e = errors_of(profile("tiny-random:sdxl", "block_dims = [4, 4, 4]"), dir / "p.toml");
  EXPECT_NE(e.find("key network.block_dims"), std::string::npos) << e;
  EXPECT_NE(e.find("has 3 values; SDXL wants 23"), std::string::npos) << e;
  e = errors_of(profile("tiny-random:sd15", "up_lr_weight = [1, 1, 1, 1, 1, 1, 1, 1, 1]"), dir / "p.toml");
  EXPECT_NE(e.find("network.up_lr_weight: has 9 values; SD 1.x wants 12"), std::string::npos) << e;
  EXPECT_NE(e.find("p.toml:"), std::string::npos) << e;
  e = errors_of(profile("tiny-random:sd15", "down_lr_weight = \"sinus\""), dir / "p.toml");
  EXPECT_NE(e.find("key network.down_lr_weight"), std::string::npos) << e;
  EXPECT_NE(e.find("presets: sine, cosine, linear, reverse_linear, zeros"), std::string::npos) << e;
  e = errors_of(profile("tiny-random:sd15", "mid_lr_weight = -1"), dir / "p.toml");
  EXPECT_NE(e.find("weights are 0 (leave the block out) or above"), std::string::npos) << e;
  e = errors_of(profile("tiny-random:sd15", "conv_block_dims = \"1,2\""), dir / "p.toml");
  EXPECT_NE(e.find("applies to LoCon only"), std::string::npos) << e;
  e = errors_of(profile("tiny-random:sd15", "block_dims = \"4,x\""), dir / "p.toml");
  EXPECT_NE(e.find("item 2 (\"x\") is not a number"), std::string::npos) << e;
  e = errors_of(profile("tiny-random:sd15", "block_dims = [1.5]"), dir / "p.toml");
  EXPECT_NE(e.find("whole numbers"), std::string::npos) << e;
  // A family left to the checkpoint: the lengths are checked when the model is loaded.
  e = errors_of(profile("model.safetensors", "block_dims = [4, 4, 4]"), dir / "p.toml");
  EXPECT_EQ(e, "");
}

TEST(NetworkBlocksConfig, LrWeightsGiveOneGroupPerBlockAtLrTimesWeight) {
  UNet unet(test::sd15_topology());
  LoRAOptions o;
  o.blocks.down_lr_weight.preset = "linear";  // IN00 0 (no modules there anyway), IN01 1/11, ...
  o.blocks.mid_lr_weight = {0.0};             // MID out
  o.blocks.up_lr_weight.values = std::vector<double>(12, 2.0);
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  const double lr = 1e-4;
  auto groups = unet_param_groups(*net, lr);
  std::map<std::string, double> want = {{"unet_IN01", lr / 11}, {"unet_IN02", 2 * lr / 11},
                                        {"unet_IN04", 4 * lr / 11}, {"unet_IN05", 5 * lr / 11},
                                        {"unet_IN07", 7 * lr / 11}, {"unet_IN08", 8 * lr / 11}};
  for (int i = 3; i < 12; ++i) want[fmt::format("unet_OUT{:02}", i)] = 2 * lr;  // OUT00-02: no transformer
  ASSERT_EQ(groups.size(), want.size());
  std::size_t params = 0;
  for (const auto& g : groups) {
    ASSERT_TRUE(want.count(g.name)) << g.name;
    EXPECT_NEAR(g.base_lr, want[g.name], 1e-18) << g.name;
    params += g.params.size();
  }
  std::size_t mid = 0;
  for (const auto& t : net->targets()) mid += t.block == 12;
  EXPECT_EQ(mid, 0u);
  EXPECT_EQ(params, net->unet_parameters().size());
  // The schedule scales every group: each block keeps its ratio to the UNet lr.
  LrScheduleConfig sc;
  sc.type = LrScheduleType::Cosine;
  LrSchedule schedule(sc, 100);
  auto opt = make_optimizer(OptimizerConfig{}, groups);
  apply_lr_schedule(*opt, schedule, 40);
  for (const auto& g : opt->groups()) EXPECT_NEAR(g.lr, schedule.lr_at(40, lr) * (g.base_lr / lr), 1e-18) << g.name;
  // Without lr weights: one "unet" group at the UNet lr, whatever the block ranks.
  LoRAOptions dims;
  dims.blocks.dims = std::vector<std::int64_t>(25, 2);
  LoRANetwork plain(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, dims);
  auto one = unet_param_groups(*plain, lr);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name, "unet");
  EXPECT_EQ(one[0].base_lr, lr);
}

}  // namespace
}  // namespace lathe
