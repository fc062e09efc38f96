// Determinism of the training loop: the same profile and seed give bit-identical LoRA tensors,
// and a run stopped mid-epoch and resumed from its checkpoint in a new Trainer ends with
// exactly the tensors of a run that was never interrupted (LoRA dropout on, text encoder
// trained, so every seeded draw is covered).
#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::vector<std::string> kOverrides = {"network.dropout=0.1", "dataset.shuffle_caption=true",
                                             "dataset.flip=true", "training.gradient_accumulation_steps=2"};

std::map<std::string, torch::Tensor> train_to_end(const TrainConfig& config, const fs::path& run) {
  test::Recorded rec;
  Trainer trainer(config, run, test::recording(rec));
  TrainResult r = trainer.run();
  return test::read_lora(run / r.final_file);
}

TEST(TrainerResume, SameSeedGivesBitIdenticalTensors) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", kOverrides);
  auto a = train_to_end(config, tmp / "a");
  auto b = train_to_end(config, tmp / "b");
  EXPECT_TRUE(test::identical(a, b));
  TrainConfig other = test::tiny_config(tmp.path(), "tiny-random:sd15", [] {
    auto o = kOverrides;
    o.push_back("training.seed=12");
    return o;
  }());
  EXPECT_FALSE(test::identical(a, train_to_end(other, tmp / "c")));
}

TEST(TrainerResume, ResumedRunMatchesUninterruptedRun) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", kOverrides);
  auto uninterrupted = train_to_end(config, tmp / "whole");

  const fs::path run = tmp / "split";
  {
    test::Recorded rec;
    const Trainer* self = nullptr;
    Trainer trainer(config, run, test::recording(rec, 7, &self));  // mid epoch 2 (5 steps each)
    self = &trainer;
    TrainResult r = trainer.run();
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(r.steps, 7);
    EXPECT_EQ(r.final_file, fs::path("epochs/t-s000007.safetensors"));
  }
  auto latest = latest_checkpoint(run);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->filename(), "step-00000007");
  test::Recorded rec;
  Trainer resumed(config, run, test::recording(rec));
  resumed.resume_from(*latest);
  EXPECT_EQ(resumed.step(), 7);
  TrainResult r = resumed.run();
  EXPECT_EQ(r.steps, 10);
  EXPECT_TRUE(test::identical(uninterrupted, test::read_lora(run / r.final_file)));
}

TEST(TrainerResume, RefusesAnotherProfilesCheckpointAndIncompleteFolders) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.max_steps=2"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  const fs::path dir = trainer.save_checkpoint();
  EXPECT_TRUE(fs::exists(dir / "DONE"));

  TrainConfig other = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.max_steps=2", "network.rank=8"});
  Trainer stranger(other, tmp / "run2", test::recording(rec));
  EXPECT_THROW(stranger.resume_from(dir), Error);

  fs::remove(dir / "DONE");
  EXPECT_THROW(trainer.resume_from(dir), Error);
  EXPECT_FALSE(latest_checkpoint(tmp / "run"));
}

// The run's frozen profile.toml read as the worker reads it: from the run folder itself.
TrainConfig frozen_profile(const fs::path& run) {
  return parse_train_config(read_file(run / "profile.toml"), run / "profile.toml");
}

TEST(TrainerResume, AMovedOrCopiedRunResumes) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  const TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.max_steps=6"});
  const auto uninterrupted = train_to_end(config, tmp / "whole");

  const fs::path run = tmp / "runs/20260101-000000-t";
  fs::create_directories(run);
  write_file_atomic(run / "profile.toml", render_profile_toml(config));  // as lathe train freezes it
  {
    test::Recorded rec;
    const Trainer* self = nullptr;
    Trainer trainer(frozen_profile(run), run, test::recording(rec, 3, &self));
    self = &trainer;
    EXPECT_TRUE(trainer.run().stopped);
  }
  // Copied to another folder (and the original moved away): its checkpoint still belongs to it.
  const fs::path copy = tmp / "elsewhere/copied-run";
  fs::create_directories(copy.parent_path());
  fs::copy(run, copy, fs::copy_options::recursive);
  fs::rename(run, tmp / "runs/moved");
  auto latest = latest_checkpoint(copy);
  ASSERT_TRUE(latest);
  test::Recorded rec;
  Trainer resumed(frozen_profile(copy), copy, test::recording(rec));
  ASSERT_NO_THROW(resumed.resume_from(*latest));
  EXPECT_EQ(resumed.step(), 3);
  TrainResult r = resumed.run();
  EXPECT_EQ(r.steps, 6);
  EXPECT_TRUE(test::identical(uninterrupted, test::read_lora(copy / r.final_file)));
}

}  // namespace
}  // namespace lathe
