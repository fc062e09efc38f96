// `lathe lora inspect` shows the SHA-256 of a LoRA's tensor bytes (the hash A1111 gives the file)
// and whether the file's sshs_model_hash still matches it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

// Two 2-byte tensors 01 02 / 03 04: Python's hashlib.sha256(bytes([1, 2, 3, 4])).hexdigest().
constexpr const char* kHash = "9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a";

std::filesystem::path write_lora(const TempDir& dir, const std::string& name, const std::string& sshs) {
  const std::string down("\x01\x02", 2), up("\x03\x04", 2);
  std::vector<TensorToWrite> t = {{"lora_unet_a.lora_down.weight", DType::F16, {1, 1}, down},
                                  {"lora_unet_a.lora_up.weight", DType::F16, {1, 1}, up}};
  const auto path = dir / name;
  write_safetensors(path, t, {{"sshs_model_hash", sshs}});
  return path;
}

TEST(LoRAInspectCommand, ShowsTheTensorHashAndChecksSshsModelHash) {
  TempDir dir;
  auto good = run_lathe("lora inspect " + shell_quote(write_lora(dir, "good.safetensors", kHash).string()));
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_NE(good.output.find(std::string("sha256    ") + kHash + " (A1111's hash; sshs_model_hash matches)"),
            std::string::npos)
      << good.output;
  auto stale = run_lathe("lora inspect " + shell_quote(write_lora(dir, "stale.safetensors", "0123").string()));
  EXPECT_NE(stale.output.find("sshs_model_hash differs"), std::string::npos) << stale.output;
  auto json = run_lathe("lora inspect --json " + shell_quote((dir / "good.safetensors").string()));
  EXPECT_EQ(nlohmann::json::parse(json.output)["tensor_sha256"], kHash);
}

}  // namespace
}  // namespace lathe::test
