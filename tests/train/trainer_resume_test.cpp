// Determinism of the training loop: the same profile and seed give bit-identical LoRA tensors,
// and a run stopped mid-epoch and resumed from its checkpoint in a new Trainer ends with
// exactly the tensors of a run that was never interrupted (LoRA dropout on, text encoder
// trained, so every seeded draw is covered).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lathe
