// dataset.on_bad_image: the profile key (default "stop", "skip", anything else an error that
// lists the choices), BadImages' stop error and skip warning, and whole runs meeting an image
// that breaks after the run started: "stop" ends the run naming the file and what to do, "skip"
// trains on without it with one warning in the log naming it.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "data_fixtures.h"
#include "io/atomic_file.h"
#include "train/data/bad_images.h"
#include "train/config/train_config.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TrainConfig with_dataset_keys(const TempDir& dir, const std::string& keys) {
  return parse_train_config("[model]\npath = \"tiny-random:sd15\"\n[dataset]\npath = \"data\"\n" + keys,
                            dir / "p.toml");
}

TEST(DataBadImage, ProfileKeyDefaultsToStopAndIsValidated) {
  TempDir dir;
  EXPECT_EQ(with_dataset_keys(dir, "").data.on_bad_image, BadImagePolicy::Stop);
  const TrainConfig skip = with_dataset_keys(dir, "on_bad_image = \"skip\"\n");
  EXPECT_EQ(skip.data.on_bad_image, BadImagePolicy::Skip);
  EXPECT_NE(render_profile_toml(skip).find("on_bad_image = \"skip\""), std::string::npos);
  EXPECT_EQ(parse_train_config(render_profile_toml(skip), dir / "again.toml").data.on_bad_image,
            BadImagePolicy::Skip);
  try {
    with_dataset_keys(dir, "on_bad_image = \"ignore\"\n");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("on_bad_image"), std::string::npos) << m;
    EXPECT_NE(m.find("\"stop\", \"skip\""), std::string::npos) << m;
  }
}

TEST(DataBadImage, StopThrowsWithWhatToDoSkipWarnsOnce) {
  const BadImageError bad("/d/1_a/x.jpg", "truncated JPEG: no end-of-image marker (FFD9)");
  std::vector<std::string> warnings;
  BadImages stop(BadImagePolicy::Stop, [&](const std::string& w) { warnings.push_back(w); });
  try {
    stop.handle(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("/d/1_a/x.jpg: truncated JPEG"), std::string::npos) << m;
    EXPECT_NE(m.find("dataset.on_bad_image = \"skip\""), std::string::npos) << m;
  }
  EXPECT_FALSE(stop.left_out("/d/1_a/x.jpg"));
  BadImages skip(BadImagePolicy::Skip, [&](const std::string& w) { warnings.push_back(w); });
  skip.handle(bad);
  skip.handle(bad);
  EXPECT_TRUE(skip.left_out("/d/1_a/x.jpg"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("/d/1_a/x.jpg: truncated JPEG"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("left out"), std::string::npos) << warnings[0];
}

// Cuts an image of the dataset short after the trainer was built (the start-up check passed):
// what a file changing on disk, or a decode failure only pixels can show, looks like mid-run.
void break_image_after_start(const fs::path& image) {
  const std::string bytes = read_file(image);
  test::write_text(image, bytes.substr(0, bytes.size() / 2));
}

TEST(DataBadImage, MidRunBadImageStopsNamingTheFile) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  const TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.epochs=1"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  const fs::path bad = tmp / "data" / "2_redcat" / "img3.png";
  break_image_after_start(bad);
  try {
    trainer.run();
    FAIL() << "expected the run to stop";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(bad.string() + ": truncated PNG"), std::string::npos) << m;
    EXPECT_NE(m.find("on_bad_image"), std::string::npos) << m;
  }
}

TEST(DataBadImage, MidRunBadImageIsSkippedWithOneWarning) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  const TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15",
                                               {"training.epochs=1", "dataset.on_bad_image=skip"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  const fs::path bad = tmp / "data" / "2_redcat" / "img3.png";
  break_image_after_start(bad);
  const TrainResult result = trainer.run();
  EXPECT_EQ(result.steps, trainer.total_steps());
  const auto warned = std::count_if(rec.messages.begin(), rec.messages.end(), [&](const std::string& m) {
    return m.find(bad.string() + ": truncated PNG") != std::string::npos &&
           m.find("left out") != std::string::npos;
  });
  EXPECT_EQ(warned, 1);  // 2 repeats: met twice, decoded and reported once
  for (double loss : rec.step_losses) EXPECT_TRUE(std::isfinite(loss));
}

}  // namespace
}  // namespace lathe
