// `lathe lora resize` and the blocks table of `lathe lora inspect`, on a file whose deltas are
// known: one SD 1.5 module with singular values 3 and 1 (scale 1) in IN01, one in OUT11.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>

#include "io/safetensors.h"
#include "run_command.h"
#include "temp_dir.h"

namespace lathe::test {
namespace {

std::string f32(std::vector<float> v) {
  std::string out(v.size() * 4, '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// down [2, 3] = first two rows of I, up [3, 2] = [[3, 0], [0, 1], [0, 0]]: delta diag(3, 1, 0)
// (norm sqrt(10)), alpha 2 = rank.
std::filesystem::path write_lora(const TempDir& dir) {
  const std::string down = f32({1, 0, 0, 0, 1, 0}), up = f32({3, 0, 0, 1, 0, 0}), alpha = f32({2});
  std::vector<TensorToWrite> t;
  for (const char* name : {"lora_unet_down_blocks_0_attentions_0_proj_in", "lora_unet_up_blocks_3_attentions_2_proj_out"}) {
    const std::string n = name;
    t.push_back({n + ".alpha", DType::F32, {}, alpha});
    t.push_back({n + ".lora_down.weight", DType::F32, {2, 3}, down});
    t.push_back({n + ".lora_up.weight", DType::F32, {3, 2}, up});
  }
  const auto path = dir / "known.safetensors";
  write_safetensors(path, t, {{"ss_network_dim", "2"}, {"ss_training_comment", "known"}});
  return path;
}

TEST(LoRAResizeCommand, FixedRankReportsTheKeptShareAndWritesTheFile) {
  TempDir dir;
  const auto in = write_lora(dir);
  auto r = run_lathe("lora resize " + shell_quote(in.string()) + " --rank 1 --verbose");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // kept sqrt(9 / 10) = 94.87 %, error sqrt(1 / 10) = 31.62 %; alpha 2 -> 1 (scale 1 kept).
  EXPECT_NE(r.output.find("resized 2 modules from rank 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kept  94.87 %  error  31.62 %"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("alpha        2 -> 1"), std::string::npos) << r.output;
  const auto out = dir / "known-r1.safetensors";
  ASSERT_TRUE(std::filesystem::exists(out));
  SafetensorsFile f(out);
  EXPECT_EQ(f.info("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight").shape,
            (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(f.metadata().at("ss_network_dim"), "1");
  EXPECT_EQ(f.metadata().at("ss_network_alpha"), "1.0");
  EXPECT_EQ(f.metadata().at("ss_training_comment"), "dimension is resized from 2 to 1; known");
  auto json = run_lathe("lora resize --json " + shell_quote(in.string()) + " --rank 2 --dynamic frobenius --param 0.9 --out " +
                        shell_quote((dir / "dyn.safetensors").string()));
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto j = nlohmann::json::parse(json.output);
  EXPECT_EQ(j["modules"][0]["new_rank"], 1);  // 94.87 % >= 90 %
  SafetensorsFile d(dir / "dyn.safetensors");
  EXPECT_EQ(d.metadata().at("ss_network_dim"), "Dynamic");
}

TEST(LoRAResizeCommand, BadOptionsAreUsageErrors) {
  TempDir dir;
  const std::string in = shell_quote(write_lora(dir).string());
  EXPECT_EQ(run_lathe("lora resize " + in).exit_code, 2);
  EXPECT_EQ(run_lathe("lora resize " + in + " --rank 2 --dynamic ratio").exit_code, 2);
  EXPECT_EQ(run_lathe("lora resize " + in + " --rank 2 --dynamic ratio --param 0.5").exit_code, 2);
  EXPECT_EQ(run_lathe("lora resize " + in + " --rank 2 --dynamic sv_magic --param 2").exit_code, 2);
  EXPECT_EQ(run_lathe("lora resize " + in + " --rank 0").exit_code, 2);
  auto missing = run_lathe("lora resize " + shell_quote((dir / "nope.safetensors").string()) + " --rank 2");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("nope.safetensors"), std::string::npos) << missing.output;
}

TEST(LoRAInspectCommand, BlocksTableSumsTheDeltaNormsPerBlock) {
  TempDir dir;
  const std::string in = shell_quote(write_lora(dir).string());
  auto r = run_lathe("lora inspect " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("blocks (UNet, SD 1.x / 2.x numbering)"), std::string::npos) << r.output;
  // sqrt(10) = 3.1623 in each of IN01 and OUT11, half the total each.
  EXPECT_NE(r.output.find("  IN01         1      3.1623   50.0%  ########################"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  OUT11        1      3.1623   50.0%"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("  MID "), std::string::npos) << r.output;  // blocks without modules are left out
  auto j = nlohmann::json::parse(run_lathe("lora inspect --json " + in).output);
  EXPECT_EQ(j["block_norms"]["family"], "sd1");
  EXPECT_NEAR(j["block_norms"]["unet"][1]["norm"].get<double>(), std::sqrt(10.0), 1e-6);
  EXPECT_EQ(j["block_norms"]["unet"][24]["label"], "OUT11");
}

}  // namespace
}  // namespace lathe::test
