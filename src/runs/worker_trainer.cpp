// The real trainer behind the worker's interface (see worker_trainer.h).
#include "runs/worker_trainer.h"

#include "train/config/train_config.h"

namespace lathe {
namespace {

class RealTrainer : public WorkerTrainer {
 public:
  RealTrainer(const TrainConfig& config, const std::filesystem::path& run_dir,
              TrainCallbacks callbacks)
      : trainer_(config, run_dir, std::move(callbacks)) {}
  void resume_from(const std::filesystem::path& checkpoint_dir) override {
    trainer_.resume_from(checkpoint_dir);
  }
  TrainResult run() override { return trainer_.run(); }
  std::int64_t step() const override { return trainer_.step(); }

 private:
  Trainer trainer_;
};

}  // namespace

WorkerTrainerFactory real_trainer_factory() {
  return [](const TrainConfig& config, const std::filesystem::path& run_dir,
            TrainCallbacks callbacks) -> std::unique_ptr<WorkerTrainer> {
    return std::make_unique<RealTrainer>(config, run_dir, std::move(callbacks));
  };
}

}  // namespace lathe
