// The training loop's fp16 and failure paths, on the CPU with a tiny model: fp16 mixed
// precision trains with a dynamic loss scale that is saved in the checkpoint (a resumed run
// ends bit-identical), an overflowed step is skipped without touching the LoRA, and an
// out-of-memory error mid-step ends the run with a message naming what to lower and a
// checkpoint of the last complete step.
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <limits>

#include "io/atomic_file.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::vector<std::string> kFp16 = {"training.mixed_precision=fp16", "training.max_steps=6"};

TEST(TrainerFp16, TrainsWithALossScaleThatTheCheckpointKeeps) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", kFp16);
  test::Recorded rec;
  const Trainer* self = nullptr;
  Trainer trainer(config, tmp / "run", test::recording(rec, 4, &self));  // a stop writes a checkpoint
  self = &trainer;
  TrainResult r = trainer.run();
  EXPECT_EQ(r.steps, 4);
  int steps = 0;
  for (const auto& e : rec.events) {
    if (e.kind != TrainProgress::Kind::Step) continue;
    ++steps;
    ASSERT_TRUE(e.loss_scale) << "step " << e.step;
    EXPECT_GT(*e.loss_scale, 1.0);
    EXPECT_FALSE(e.peak_memory_bytes);  // CPU: no GPU memory counter
  }
  EXPECT_EQ(steps, 4);
  auto latest = latest_checkpoint(tmp / "run");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->filename(), "step-00000004");
  auto state = nlohmann::json::parse(read_file(*latest / "state.json"));
  double last_scale = 0;
  for (const auto& e : rec.events)
    if (e.kind == TrainProgress::Kind::Step) last_scale = *e.loss_scale;
  EXPECT_EQ(state.at("loss_scale").get<double>(), last_scale);
}

TEST(TrainerFp16, ResumedRunMatchesUninterruptedRun) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", kFp16);
  std::map<std::string, torch::Tensor> whole;
  {
    test::Recorded rec;
    Trainer trainer(config, tmp / "whole", test::recording(rec));
    whole = test::read_lora(tmp / "whole" / trainer.run().final_file);
  }
  {
    test::Recorded rec;
    const Trainer* self = nullptr;
    Trainer trainer(config, tmp / "split", test::recording(rec, 3, &self));
    self = &trainer;
    EXPECT_TRUE(trainer.run().stopped);
  }
  test::Recorded rec;
  Trainer resumed(config, tmp / "split", test::recording(rec));
  resumed.resume_from(*latest_checkpoint(tmp / "split"));
  TrainResult r = resumed.run();
  EXPECT_TRUE(test::identical(whole, test::read_lora(tmp / "split" / r.final_file)));
}

TEST(TrainerFp16, AnOverflowedStepIsSkippedAndTheScaleBacksOff) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15",
                                         {"training.mixed_precision=fp16", "training.max_steps=3"});
  test::Recorded rec;
  TrainCallbacks cb = test::recording(rec);
  int micro = 0;
  std::map<std::string, torch::Tensor> before_second_step;
  cb.after_micro_batch = [&](const std::vector<torch::Tensor>& trainable) {
    if (++micro != 2) return;  // the second step overflows
    trainable.front().mutable_grad().view(-1)[0] = std::numeric_limits<float>::infinity();
  };
  Trainer trainer(config, tmp / "run", cb);
  trainer.run();
  std::vector<const TrainProgress*> steps;
  for (const auto& e : rec.events)
    if (e.kind == TrainProgress::Kind::Step) steps.push_back(&e);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_FALSE(steps[0]->skipped);
  EXPECT_TRUE(steps[1]->skipped);
  EXPECT_FALSE(steps[2]->skipped);
  EXPECT_EQ(*steps[1]->loss_scale, *steps[0]->loss_scale / 2);
  EXPECT_EQ(*steps[2]->loss_scale, *steps[1]->loss_scale);
}

TEST(TrainerFp32, AnOverflowedGradientIsNotSkippedSilently) {
  // Without fp16 there is no loss scale: the loop never inspects the gradients, and clipping
  // turns an inf into NaN weights that the next step's loss reports.
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.max_steps=4"});
  test::Recorded rec;
  TrainCallbacks cb = test::recording(rec);
  cb.after_micro_batch = [](const std::vector<torch::Tensor>& trainable) {
    trainable.front().mutable_grad().view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  };
  Trainer trainer(config, tmp / "run", cb);
  EXPECT_THROW(trainer.run(), Error);
  for (const auto& e : rec.events) EXPECT_FALSE(e.loss_scale);
}

TEST(TrainerOutOfMemory, EndsTheStepWithWhatToLowerAndACheckpoint) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), "tiny-random:sd15", {"training.max_steps=8"});
  test::Recorded rec;
  TrainCallbacks cb = test::recording(rec);
  int micro = 0;
  cb.after_micro_batch = [&](const std::vector<torch::Tensor>&) {
    if (++micro == 3) TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB");
  };
  Trainer trainer(config, tmp / "run", cb);
  try {
    trainer.run();
    FAIL() << "expected an out-of-memory error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const char* part : {"step 3: out of memory on cpu", "Tried to allocate 2.00 GiB", "training.batch_size (2)",
                             "training.resolution (64x64)", "training.gradient_checkpointing",
                             "checkpoint checkpoints/step-00000002 holds step 2", "lathe train --resume"})
      EXPECT_NE(what.find(part), std::string::npos) << part << " in: " << what;
  }
  // Two complete steps were checkpointed; the failed third one left nothing behind.
  auto latest = latest_checkpoint(tmp / "run");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->filename(), "step-00000002");
  test::Recorded again;
  Trainer resumed(config, tmp / "run", test::recording(again));
  resumed.resume_from(*latest);
  EXPECT_EQ(resumed.run().steps, 8);
}

}  // namespace
}  // namespace lathe
