// What a run writes into its LoRA files beside the weights (train/lora_saving.h): kohya's
// ss_bucket_info from the run's bucket plan, the validation keys, and the base checkpoint's
// hashes (kohya's model_hash / calculate_sha256), which only a single file gets.
#include <gtest/gtest.h>

#include <fstream>

#include "train/model/base_model.h"
#include "train/loop/lora_saving.h"
#include "train/data/training_set.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

using test::TempDir;

// bytes((i*7+3) % 256 for i in range(n)), n = 1 MiB + 64 KiB + 100: a "checkpoint" long enough
// for the legacy hash's window.
void write_pattern_file(const std::filesystem::path& path) {
  std::string s(0x100000 + 0x10000 + 100, '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((i * 7 + 3) % 256);
  std::ofstream(path, std::ios::binary) << s;
}

TEST(LoRASaving, TrainingInfoCarriesBucketsValidationAndBaseHashes) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path());
  const TrainingSet set = build_training_set(config);
  BaseModel model;  // make_training_info reads only the description of the base
  model.name = "base.safetensors";
  config.model.path = (tmp / "base.safetensors").string();
  write_pattern_file(config.model.path);

  LoRATrainingInfo info = make_training_info(config, set, model, set.plan.total_batches, 20, 2);
  // Python: hashlib.sha256(f[0x100000:0x110000]).hexdigest()[:8] and hashlib.sha256(f).hexdigest()
  EXPECT_EQ(info.sd_model_hash, "510b126e");
  EXPECT_EQ(info.new_sd_model_hash, "ac39e71c1b33161ffb6547d4b6a841a785223ae0b83825cc7efbeb1a187a9a9c");
  const auto m = kohya_metadata(LoRAOptions{}, info);
  EXPECT_EQ(m.at("ss_sd_model_hash"), "510b126e");
  // Every 64x64 image in the one 64x64 bucket: (6 + 4 images) x 2 repeats, no aspect error.
  EXPECT_EQ(m.at("ss_bucket_info"),
            "{\"buckets\": {\"0\": {\"resolution\": [64, 64], \"count\": 20}}, \"mean_img_ar_error\": 0.0}");
  // The validation concept "val" (2 images), seed 3, at every epoch end.
  EXPECT_EQ(m.at("ss_num_validation_images"), "2");
  EXPECT_EQ(m.at("ss_validation_seed"), "3");
  EXPECT_EQ(m.at("ss_validate_every_n_epochs"), "1");
  EXPECT_EQ(m.at("ss_validate_every_n_steps"), "None");

  // A diffusers folder has no one file to hash; a tiny random base has no file at all.
  config.model.path = tmp.path().string();
  info = make_training_info(config, set, model, set.plan.total_batches, 20, 2);
  EXPECT_EQ(kohya_metadata(LoRAOptions{}, info).count("ss_sd_model_hash"), 0u);
  EXPECT_EQ(kohya_metadata(LoRAOptions{}, info).count("ss_new_sd_model_hash"), 0u);
}

}  // namespace
}  // namespace lathe
