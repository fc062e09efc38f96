// The samples view's table (rows by step, columns by prompt, holes for prompts not rendered,
// the lowest seed kept) and the epoch grid's list of epoch files with their losses, both from
// folders made here.
#include <gtest/gtest.h>

#include <fstream>

#include "io/atomic_file.h"
#include "runs/epoch_files.h"
#include "runs/sample_table.h"
#include "sample/png_text.h"
#include "temp_dir.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

TEST(SampleTable, RowsByStepColumnsByPrompt) {
  test::TempDir tmp;
  const fs::path samples = tmp.path() / "samples";
  for (const char* name : {"step000000-epoch000-prompt00-seed7.png", "step000000-epoch000-prompt01-seed8.png",
                           "step000050-epoch001-prompt00-seed7.png", "step000050-epoch001-prompt01-seed8.png",
                           "step000100-epoch002-prompt01-seed8.png", "step000100-epoch002-prompt02-seed9.png",
                           "step000100-epoch002-prompt02-seed3.png", "notes.txt"})
    touch(samples / name);
  SampleTable t = make_sample_table(list_samples(tmp.path()));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.columns, 3);
  EXPECT_EQ(t.rows[0].step, 0);
  EXPECT_EQ(t.rows[1].epoch, 1);
  EXPECT_EQ(t.rows[2].step, 100);
  EXPECT_EQ(sample_row_label(t.rows[0]), "start");
  EXPECT_EQ(sample_row_label(t.rows[2]), "epoch 2, step 100");
  // Holes: prompt 2 was not rendered before step 100, prompt 0 not at step 100.
  EXPECT_EQ(t.at(0, 2), nullptr);
  EXPECT_EQ(t.at(2, 0), nullptr);
  ASSERT_NE(t.at(1, 1), nullptr);
  EXPECT_EQ(t.at(1, 1)->path.filename(), "step000050-epoch001-prompt01-seed8.png");
  // Two seeds of one prompt at one step: the lowest is shown.
  ASSERT_NE(t.at(2, 2), nullptr);
  EXPECT_EQ(t.at(2, 2)->seed, 3u);
  EXPECT_EQ(t.at(-1, 0), nullptr);
  EXPECT_EQ(t.at(3, 0), nullptr);
  EXPECT_EQ(t.at(0, 3), nullptr);

  std::vector<SampleFile> newest = newest_samples(t);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].prompt_index, 1);
  EXPECT_EQ(newest[1].prompt_index, 2);
}

TEST(SampleTable, NoSamplesFolderIsAnEmptyTable) {
  test::TempDir tmp;
  SampleTable t = make_sample_table(list_samples(tmp.path()));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.columns, 0);
  EXPECT_TRUE(newest_samples(t).empty());
}

TEST(SampleTable, RowLossIsTheSmoothedLossAtItsStep) {
  RunMetrics m;
  for (int step = 1; step <= 4; ++step) {
    StepMetric s;
    s.step = step;
    s.loss = 1.0 / step;
    s.loss_smoothed = step == 3 ? 0 : 10.0 / step;  // step 3 logged no smoothed value
    m.steps.push_back(s);
  }
  EXPECT_EQ(smoothed_loss_at(m, 0), std::nullopt);
  EXPECT_EQ(smoothed_loss_at(m, 2), 5.0);
  EXPECT_EQ(smoothed_loss_at(m, 3), 1.0 / 3);
  EXPECT_EQ(smoothed_loss_at(m, 100), 2.5);
}

TEST(SampleTable, PromptsComeFromTheImagesParameters) {
  test::TempDir tmp;
  const fs::path samples = tmp.path() / "samples";
  fs::create_directories(samples);
  const cv::Mat rgb(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  write_file_atomic(samples / "step000010-epoch001-prompt00-seed1.png",
                    encode_png(rgb, {{"parameters",
                                      "a photo of lathecat <lora:demo-step10:1>\nNegative prompt: blurry\n"
                                      "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 8x8"}}));
  write_file_atomic(samples / "step000010-epoch001-prompt01-seed2.png", encode_png(rgb));
  write_file_atomic(samples / "step000010-epoch001-prompt02-seed3.png", "not a png");
  SampleTable t = make_sample_table(list_samples(tmp.path()));
  EXPECT_EQ(sample_prompt(samples / "step000010-epoch001-prompt00-seed1.png"), "a photo of lathecat");
  EXPECT_EQ(column_prompts(t), (std::vector<std::string>{"a photo of lathecat", "", ""}));
  EXPECT_EQ(sample_prompt(samples / "missing.png"), "");
}

TEST(EpochFiles, EpochNumbersFromFileNames) {
  EXPECT_EQ(epoch_of_file_name("epochs/demo-e0003.safetensors"), 3);
  EXPECT_EQ(epoch_of_file_name("my-eye-e12345.safetensors"), 12345);
  EXPECT_EQ(epoch_of_file_name("demo-s000120.safetensors"), std::nullopt);
  EXPECT_EQ(epoch_of_file_name("demo.safetensors"), std::nullopt);
  EXPECT_EQ(epoch_of_file_name("demo-e003.safetensors"), std::nullopt);
  EXPECT_EQ(epoch_of_file_name("demo-e0003.safetensors.tmp"), std::nullopt);
  EXPECT_EQ(epoch_of_file_name("-e0003.safetensors"), std::nullopt);
  EXPECT_EQ(epoch_of_file_name("demo-e99999999999.safetensors"), std::nullopt);
}

TEST(EpochFiles, ListedInEpochOrderWithTheirLosses) {
  test::TempDir tmp;
  for (const char* name : {"demo-e0010.safetensors", "demo-e0002.safetensors", "demo-e0001.safetensors",
                           "demo-s000120.safetensors", "demo.safetensors"})
    touch(tmp.path() / "epochs" / name);
  RunMetrics m;
  m.epochs.push_back({1, 10, 0.25, "epochs/demo-e0001.safetensors", 0});
  m.epochs.push_back({2, 20, 0.125, "epochs/demo-e0002.safetensors", 0});
  m.validations.push_back({2, 20, 0.5, {}, 0});
  std::vector<EpochFile> files = list_epoch_files(tmp.path(), m);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].epoch, 1);
  EXPECT_EQ(files[1].epoch, 2);
  EXPECT_EQ(files[2].epoch, 10);
  EXPECT_EQ(files[0].path, tmp.path() / "epochs" / "demo-e0001.safetensors");
  EXPECT_EQ(files[0].training_loss, 0.25);
  EXPECT_EQ(files[0].validation_loss, std::nullopt);
  EXPECT_EQ(files[1].validation_loss, 0.5);
  EXPECT_EQ(files[2].training_loss, std::nullopt);  // metrics do not know epoch 10
  EXPECT_TRUE(list_epoch_files(tmp.path() / "nowhere", m).empty());
}

}  // namespace
}  // namespace lathe
