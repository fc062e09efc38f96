// The training loop end to end on a tiny random SD 1.5-shaped model: the loss goes down, the
// run reports and writes what trainer.h promises (epoch files, final file, checkpoints with
// DONE), validation is deterministic, and a NaN loss stops the run with a clear error.
#include <gtest/gtest.h>

#include "train/model/base_model.h"
#include "train/data/latent_cache.h"
#include "train/data/text_encoder_cache.h"
#include "train/data/training_set.h"
#include "train/loop/validation.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TEST(TrainerLoop, ValidationLossGoesDownAndFilesAreWritten) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.epochs=3", "optimizer.lr=1e-2"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  EXPECT_EQ(trainer.total_steps(), 30);
  TrainResult result = trainer.run();
  EXPECT_FALSE(result.stopped);
  EXPECT_EQ(result.steps, 30);
  EXPECT_EQ(result.epochs, 3);
  ASSERT_EQ(rec.validation_losses.size(), 4u);  // the base model's, then one per epoch
  EXPECT_LT(rec.validation_losses.back(), rec.validation_losses.front() * 0.9)
      << rec.validation_losses.front() << " -> " << rec.validation_losses.back();
  EXPECT_EQ(rec.step_losses.size(), 30u);

  EXPECT_EQ(result.final_file, fs::path("epochs/t.safetensors"));
  for (const char* f : {"epochs/t-e0001.safetensors", "epochs/t-e0002.safetensors",
                        "epochs/t-e0003.safetensors", "epochs/t.safetensors"})
    EXPECT_TRUE(fs::exists(tmp / "run" / f)) << f;
  EXPECT_EQ(result.epoch_files.size(), 4u);
  auto latest = latest_checkpoint(tmp / "run");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->filename(), "step-00000030");
  EXPECT_TRUE(fs::exists(*latest / "DONE"));
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoints/step-00000020/DONE"));
  EXPECT_FALSE(fs::exists(tmp / "run/checkpoints/step-00000010"));  // keeps the newest two

  // The tiny model says what it is, in the log and in the file.
  bool labelled = false;
  for (const auto& m : rec.messages) labelled |= m.find("tiny random base model, not a real checkpoint") != std::string::npos;
  EXPECT_TRUE(labelled);
  SafetensorsFile file(tmp / "run/epochs/t.safetensors");
  EXPECT_EQ(file.metadata().at("lathe_base_model"), "tiny-random sd15 (seed 1234)");
  EXPECT_EQ(file.metadata().at("ss_steps"), "30");
  EXPECT_NE(file.metadata().at("ss_tag_frequency").find("redcat"), std::string::npos);
}

TEST(TrainerLoop, KeepLastPrunesEpochFilesAndStepFilesAreNamed) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15",
                                         {"training.epochs=3", "saving.keep_last=1", "saving.every_n_steps=7",
});
  config.validation.concept.reset();
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult result = trainer.run();
  EXPECT_FALSE(fs::exists(tmp / "run/epochs/t-e0001.safetensors"));
  EXPECT_FALSE(fs::exists(tmp / "run/epochs/t-e0002.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run/epochs/t-e0003.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run/epochs/t-s000007.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run/epochs/t-s000014.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoints/step-00000028/DONE"));
  EXPECT_TRUE(rec.validation_losses.empty());
}

TEST(TrainerLoop, SaveNowWritesACheckpointAndAStepFileAndGoesOn) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.max_steps=6"});
  config.validation.concept.reset();
  test::Recorded rec;
  TrainCallbacks cb = test::recording(rec);
  const Trainer* self = nullptr;
  cb.between_steps = [&self] { return self->step() == 3 ? TrainRequest::SaveNow : TrainRequest::Continue; };
  Trainer trainer(config, tmp / "run", cb);
  self = &trainer;
  TrainResult r = trainer.run();
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.steps, 6);
  EXPECT_TRUE(fs::exists(tmp / "run/epochs/t-s000003.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoints/step-00000003/DONE"));
  EXPECT_EQ(r.final_file, fs::path("epochs/t.safetensors"));
  ASSERT_FALSE(rec.events.empty());
  const TrainProgress* started = nullptr;
  for (const auto& e : rec.events)
    if (e.kind == TrainProgress::Kind::Started) started = &e;
  ASSERT_TRUE(started);
  EXPECT_EQ(started->total_steps, 6);
  EXPECT_EQ(started->batches_per_epoch, 10);
  EXPECT_EQ(started->total_epochs, 1);
}

TEST(TrainerLoop, NanLossStopsWithTheStepAndTheLastCheckpoint) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15",
                                         {"optimizer.lr=1e30", "optimizer.max_grad_norm=0", "training.epochs=3"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  try {
    trainer.run();
    FAIL() << "expected a NaN error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("loss is"), std::string::npos) << what;
    EXPECT_NE(what.find("step "), std::string::npos) << what;
    EXPECT_TRUE(what.find("checkpoints/step-") != std::string::npos ||
                what.find("no checkpoint was written yet") != std::string::npos)
        << what;
  }
}

TEST(TrainerLoop, ValidationIsDeterministic) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"model.clip_skip=2"});
  TrainingSet set = build_training_set(config);
  ASSERT_EQ(set.validation.size(), 2u);
  BaseModel model = load_base_model(config.model, torch::kCPU);
  LatentStore latents(LatentCache::Off, tmp / "cache", model.vae_identity);
  TextEncoderCache captions(false);
  NoiseSchedule schedule(config.noise_schedule);
  ValidationResult a = validation_loss(model, latents, captions, set, config, schedule, torch::kCPU);
  ValidationResult b = validation_loss(model, latents, captions, set, config, schedule, torch::kCPU);
  EXPECT_GT(a.loss, 0.0);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.per_concept, b.per_concept);
  ASSERT_EQ(a.per_concept.size(), 1u);
  EXPECT_EQ(a.per_concept.begin()->second, a.loss);  // one validation concept
  // Another noise seed gives another (fixed) number.
  config.validation.seed = 4;
  EXPECT_NE(validation_loss(model, latents, captions, set, config, schedule, torch::kCPU).loss, a.loss);
}

}  // namespace
}  // namespace lathe
