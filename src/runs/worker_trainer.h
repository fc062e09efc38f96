// What a run's worker drives: the three calls it makes on lathe::Trainer (resume_from, run,
// step), behind an interface so the worker's bookkeeping (status, metrics, TensorBoard, log,
// control) is tested with a quick scripted trainer, and runs the real one in production.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "train/loop/trainer.h"

namespace lathe {

struct TrainConfig;

class WorkerTrainer {
 public:
  virtual ~WorkerTrainer() = default;
  virtual void resume_from(const std::filesystem::path& checkpoint_dir) = 0;
  virtual TrainResult run() = 0;
  virtual std::int64_t step() const = 0;
};

using WorkerTrainerFactory = std::function<std::unique_ptr<WorkerTrainer>(
    const TrainConfig& config, const std::filesystem::path& run_dir, TrainCallbacks callbacks)>;

// Builds lathe::Trainer.
WorkerTrainerFactory real_trainer_factory();

}  // namespace lathe
