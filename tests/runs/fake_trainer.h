// A scripted stand-in for lathe::Trainer, for fast tests of the run layer: it reports the same
// snapshots the real trainer does (Started, Step, Validation, Saved, EpochEnd), asks
// between_steps before each step and obeys Stop / SaveNow, writes small marker files where the
// real one writes LoRA files, real (one-tensor) checkpoints through write_checkpoint, so the
// worker's resume finds and checks them as it does a real run's, and can fail at a given step
// as a NaN loss would.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "runs/worker_trainer.h"
#include "train/loop/checkpoint_state.h"

namespace lathe::test {

struct FakePlan {
  int epochs = 3;
  int steps_per_epoch = 4;
  int checkpoint_every = 0;  // also checkpoint every N steps
  int fail_at_step = 0;      // throw a NaN-loss error at this step
  int step_delay_ms = 0;
};

class FakeTrainer : public WorkerTrainer {
 public:
  FakeTrainer(std::filesystem::path run_dir, TrainCallbacks cb, FakePlan& plan)
      : dir_(std::move(run_dir)), cb_(std::move(cb)), plan_(plan) {}

  // The loss of a step is a pure function of the step, as the real trainer's is of its seed.
  static double loss_at(std::int64_t step) { return 1.0 / (1.0 + 0.1 * step) + 0.01 * (step % 3); }

  void resume_from(const std::filesystem::path& checkpoint) override {
    step_ = std::stoll(checkpoint.filename().string().substr(5));
  }
  std::int64_t step() const override { return step_; }

  TrainResult run() override {
    const std::int64_t total = plan_.epochs * plan_.steps_per_epoch;
    emit(TrainProgress::Kind::Started);
    TrainResult result;
    while (step_ < total) {
      TrainRequest r = cb_.between_steps();
      if (r == TrainRequest::SaveNow) {
        save_checkpoint();
        save_file("epochs/fake-s" + std::to_string(step_) + ".safetensors");
        continue;
      }
      if (r == TrainRequest::Stop) {
        save_checkpoint();
        result.final_file = save_file("epochs/fake-s" + std::to_string(step_) + ".safetensors");
        result.stopped = true;
        result.steps = step_;
        return result;
      }
      if (plan_.step_delay_ms) ::usleep(plan_.step_delay_ms * 1000);
      ++step_;
      if (step_ == plan_.fail_at_step)
        throw Error("step " + std::to_string(step_) +
                    ": loss is nan; the last good checkpoint "
                    "is kept");
      TrainProgress p = base(TrainProgress::Kind::Step);
      p.loss = loss_at(step_);
      p.lr = 1e-3;
      p.seconds = 0.01;
      cb_.on_progress(p);
      if (plan_.checkpoint_every && step_ % plan_.checkpoint_every == 0) save_checkpoint();
      if (step_ % plan_.steps_per_epoch == 0) {
        std::int64_t epoch = step_ / plan_.steps_per_epoch;
        TrainProgress v = base(TrainProgress::Kind::Validation);
        v.validation_loss = 0.5 + 0.01 * (epoch - 2) * (epoch - 2);  // best at epoch 2
        v.validation_per_concept = {{"cat", *v.validation_loss}};
        cb_.on_progress(v);
        char name[64];
        std::snprintf(name, sizeof name, "epochs/fake-e%04lld.safetensors", (long long)epoch);
        TrainProgress e = base(TrainProgress::Kind::EpochEnd);
        e.epoch_loss = loss_at(step_);
        e.saved_file = save_file(name);
        cb_.on_progress(e);
        result.epoch_files.push_back(e.saved_file);
        result.final_file = e.saved_file;
      }
    }
    result.steps = step_;
    result.epochs = plan_.epochs;
    return result;
  }

 private:
  TrainProgress base(TrainProgress::Kind kind) const {
    TrainProgress p;
    p.kind = kind;
    p.step = step_;
    p.total_steps = plan_.epochs * plan_.steps_per_epoch;
    p.total_epochs = plan_.epochs;
    p.batches_per_epoch = plan_.steps_per_epoch;
    p.epoch = step_ == 0 ? 1 : (step_ - 1) / plan_.steps_per_epoch + 1;
    p.batch_in_epoch = step_ - (p.epoch - 1) * plan_.steps_per_epoch;
    return p;
  }
  void emit(TrainProgress::Kind kind) { cb_.on_progress(base(kind)); }
  std::filesystem::path save_file(const std::string& rel) {
    std::filesystem::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << "step " << step_;
    TrainProgress s = base(TrainProgress::Kind::Saved);
    s.saved_file = rel;
    cb_.on_progress(s);
    return rel;
  }
  void save_checkpoint() {
    std::string rel = "checkpoints/" + checkpoint_dir_name(step_);
    CheckpointContents c;
    c.position.step = step_;
    c.lora["lora_unet_fake.lora_down.weight"] = torch::full({2}, static_cast<float>(step_));
    c.optimizer.type = "fake";
    c.optimizer.tensors["fake.exp_avg"] = torch::zeros({2});
    write_checkpoint(dir_, c, 1000);  // keeps every one, as the fake always did
    TrainProgress s = base(TrainProgress::Kind::Saved);
    s.saved_file = rel;
    cb_.on_progress(s);
  }

  std::filesystem::path dir_;
  TrainCallbacks cb_;
  FakePlan& plan_;
  std::int64_t step_ = 0;
};

inline WorkerTrainerFactory fake_factory(FakePlan& plan) {
  return [&plan](const TrainConfig&, const std::filesystem::path& dir,
                 TrainCallbacks cb) -> std::unique_ptr<WorkerTrainer> {
    return std::make_unique<FakeTrainer>(dir, std::move(cb), plan);
  };
}

}  // namespace lathe::test
