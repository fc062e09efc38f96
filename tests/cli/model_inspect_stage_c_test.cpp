// `lathe model inspect` on a Stable Cascade Stage C prior (the tiny fixture prior): named as a
// Stage C prior with its widths, heads and layers, in text and JSON, before any SD detection.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

std::filesystem::path tiny_prior() {
  return shared_dir() / "fixtures" / "stable_cascade" / "prior_tiny" / "weights_stability.safetensors";
}

TEST(ModelInspectStageC, NamesTheTinyPrior) {
  LATHE_REQUIRE_SHARED("fixtures/stable_cascade/prior_tiny/weights_stability.safetensors");
  auto r = run_lathe("model inspect " + shell_quote(tiny_prior().string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("model       Stable Cascade Stage C (custom)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("layout      Stability single file (1 file)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("width       [32, 64], heads [2, 4] (config.json)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("levels      2: layers down [2, 3] / up [3, 2]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(606656) in 214 tensors"), std::string::npos) << r.output;

  auto j = run_lathe("model inspect --json " + shell_quote(tiny_prior().string()));
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const auto parsed = nlohmann::json::parse(j.output);
  EXPECT_EQ(parsed.at("model"), "Stable Cascade Stage C (custom)");
  EXPECT_EQ(parsed.at("parameters"), 606656);
  EXPECT_EQ(parsed.at("up_layers"), nlohmann::json::array({3, 2}));
}

}  // namespace
}  // namespace lathe::test
