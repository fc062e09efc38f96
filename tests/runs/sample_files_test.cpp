// Sample image names: formatting, parsing back (and refusing look-alikes), listing a run's
// samples/ folder in order.
#include "runs/sample_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace lathe;
namespace fs = std::filesystem;

TEST(SampleFiles, FormatsPaddedFields) {
  EXPECT_EQ(format_sample_name(250, 2, 1, 1235), "step000250-epoch002-prompt01-seed1235.png");
  EXPECT_EQ(format_sample_name(0, 0, 0, 0), "step000000-epoch000-prompt00-seed0.png");
  EXPECT_EQ(format_sample_name(1234567, 1000, 123, 18446744073709551615ull),
            "step1234567-epoch1000-prompt123-seed18446744073709551615.png");
}

TEST(SampleFiles, ParsesWhatItFormats) {
  for (auto [step, epoch, index, seed] :
       {std::tuple<std::int64_t, int, int, std::uint64_t>{0, 0, 0, 0}, {250, 2, 1, 1235},
        {1234567, 1000, 123, 18446744073709551615ull}}) {
    const std::string name = format_sample_name(step, epoch, index, seed);
    auto parsed = parse_sample_name(fs::path("run") / "samples" / name);
    ASSERT_TRUE(parsed) << name;
    EXPECT_EQ(parsed->step, step);
    EXPECT_EQ(parsed->epoch, epoch);
    EXPECT_EQ(parsed->prompt_index, index);
    EXPECT_EQ(parsed->seed, seed);
    EXPECT_EQ(parsed->path, fs::path("run") / "samples" / name);
  }
}

TEST(SampleFiles, RefusesOtherNames) {
  for (const char* name :
       {"step000250-epoch002-prompt01-seed1235.jpg", "step250-epoch002-prompt01-seed1235.png",
        "step000250-epoch2-prompt01-seed1235.png", "step000250-epoch002-prompt1-seed1235.png",
        "step000250-epoch002-prompt01-seed.png", "step-00250-epoch002-prompt01-seed1.png",
        "step000250-epoch002-prompt01-seed1235.png.tmp",
        ".step000250-epoch002-prompt01-seed1235.png.tmp12", "grid.png", "",
        "step000250-epoch002-prompt01-seed99999999999999999999.png",
        "step000250-epoch002-prompt01-seed12x.png"}) {
    EXPECT_FALSE(parse_sample_name(name)) << name;
  }
}

TEST(SampleFiles, ListsSortedByStepThenPrompt) {
  const fs::path run = fs::path(::testing::TempDir()) / "lathe_sample_files_list";
  fs::remove_all(run);
  EXPECT_TRUE(list_samples(run).empty());  // no samples/ folder yet
  fs::create_directories(run / "samples" / "step000001-epoch000-prompt00-seed1.png");  // a folder
  for (const std::string name :
       {format_sample_name(20, 2, 1, 43), format_sample_name(20, 2, 0, 42),
        format_sample_name(0, 0, 1, 43), format_sample_name(100, 10, 0, 42),
        std::string("notes.txt"), std::string("step000020-epoch002-prompt00-seed42.png.tmp")}) {
    std::ofstream(run / "samples" / name) << "x";
  }
  auto samples = list_samples(run);
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[0].path.filename(), format_sample_name(0, 0, 1, 43));
  EXPECT_EQ(samples[1].path.filename(), format_sample_name(20, 2, 0, 42));
  EXPECT_EQ(samples[2].path.filename(), format_sample_name(20, 2, 1, 43));
  EXPECT_EQ(samples[3].path.filename(), format_sample_name(100, 10, 0, 42));
  EXPECT_EQ(samples[3].path, run / "samples" / format_sample_name(100, 10, 0, 42));
  fs::remove_all(run);
}
