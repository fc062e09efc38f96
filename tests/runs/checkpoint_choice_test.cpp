// Which checkpoint a resume takes (train/checkpoint_state.h): the newest complete one whose
// files read; a complete checkpoint damaged afterwards (tensor file cut short, state.json
// garbled, DONE from another save) is named with the reason and skipped, and can be set aside
// without losing it.
#include "train/loop/checkpoint_state.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

using namespace lathe;
using lathe::test::TempDir;

namespace {

namespace fs = std::filesystem;

fs::path save(const fs::path& run, std::int64_t step) {
  CheckpointContents c;
  c.position.step = step;
  c.profile_hash = "0123456789abcdef";
  c.lora["lora_unet_a.lora_down.weight"] = torch::ones({4, 8}) * static_cast<float>(step);
  c.optimizer.type = "adamw";
  c.optimizer.tensors["lora_unet_a.lora_down.weight.exp_avg"] = torch::zeros({4, 8});
  c.optimizer.scalars["step"] = static_cast<double>(step);
  return write_checkpoint(run, c, 10);
}

}  // namespace

TEST(CheckpointChoice, NewestThatReadsIsChosenAndDamagedOnesAreNamed) {
  TempDir dir;
  const fs::path run = dir / "run";
  save(run, 2);
  save(run, 4);
  const fs::path six = save(run, 6);
  const fs::path eight = save(run, 8);
  ResumePoint point = find_resume_point(run);
  ASSERT_TRUE(point.checkpoint);
  EXPECT_EQ(point.checkpoint->filename(), "step-00000008");
  EXPECT_EQ(point.step, 8);
  EXPECT_TRUE(point.damaged.empty());

  fs::resize_file(eight / "lora.safetensors", fs::file_size(eight / "lora.safetensors") / 2);
  write_file_atomic(six / "state.json", "{\"format\": 1, \"step\": ");  // cut mid-write
  point = find_resume_point(run);
  ASSERT_TRUE(point.checkpoint);
  EXPECT_EQ(point.checkpoint->filename(), "step-00000004");
  EXPECT_EQ(point.step, 4);
  ASSERT_EQ(point.damaged.size(), 2u);
  EXPECT_EQ(point.damaged[0].first.filename(), "step-00000008");
  EXPECT_NE(point.damaged[0].second.find("lora.safetensors"), std::string::npos)
      << point.damaged[0].second;
  EXPECT_EQ(point.damaged[1].first.filename(), "step-00000006");
  EXPECT_NE(point.damaged[1].second.find("state.json"), std::string::npos)
      << point.damaged[1].second;
  // read_checkpoint agrees: what find_resume_point skips cannot be loaded.
  EXPECT_THROW(read_checkpoint(eight), Error);
  EXPECT_THROW(read_checkpoint(six), Error);
  EXPECT_NO_THROW(read_checkpoint(*point.checkpoint));
}

TEST(CheckpointChoice, DoneFromAnotherSaveOrNoCheckpointAtAll) {
  TempDir dir;
  const fs::path run = dir / "run";
  EXPECT_FALSE(find_resume_point(run).checkpoint);  // no checkpoints/ folder yet
  const fs::path four = save(run, 4);
  write_file_atomic(four / "DONE", "6\n");
  const std::string defect = checkpoint_defect(four);
  EXPECT_NE(defect.find("DONE and state.json disagree"), std::string::npos) << defect;
  ResumePoint point = find_resume_point(run);
  EXPECT_FALSE(point.checkpoint);
  EXPECT_EQ(point.step, 0);
  ASSERT_EQ(point.damaged.size(), 1u);
}

TEST(CheckpointChoice, SettingAsideRenamesWithoutLosingAnything) {
  TempDir dir;
  const fs::path run = dir / "run";
  save(run, 2);
  const fs::path four = save(run, 4);
  fs::resize_file(four / "optimizer.safetensors", 10);
  const fs::path aside = set_checkpoint_aside(four);
  EXPECT_EQ(aside.filename(), "step-00000004.damaged");
  EXPECT_TRUE(fs::exists(aside / "DONE"));
  EXPECT_FALSE(fs::exists(four));
  EXPECT_EQ(find_resume_point(run).checkpoint->filename(), "step-00000002");
  EXPECT_TRUE(find_resume_point(run).damaged.empty());
  // A second damaged folder of the same step does not overwrite the first.
  const fs::path again = save(run, 4);
  EXPECT_EQ(set_checkpoint_aside(again).filename(), "step-00000004.damaged-2");
  EXPECT_TRUE(fs::exists(aside / "DONE"));
}
