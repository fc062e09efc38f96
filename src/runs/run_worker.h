// The process that trains one run (`lathe train --worker RUN_DIR`, or in-process for
// `--foreground`): marks the run running (pid + start ticks), serves control.sock, builds the
// trainer from the frozen profile.toml, resumes from the newest complete checkpoint that loads
// when there is one (newer damaged ones are logged and set aside as step-XXXXXXXX.damaged;
// metrics and events are cut back to the checkpoint), records progress, and ends the run as done,
// stopped or failed with the error in status.json. Pause blocks between steps without using
// CPU; stop and save-now are passed to the trainer, which writes the checkpoint and LoRA file.
// SIGTERM and SIGINT (Ctrl-C in the foreground) ask for a stop with a save, like `runs stop`.
#pragma once

#include <functional>
#include <string>

#include "runs/run_dir.h"
#include "runs/run_recorder.h"
#include "runs/run_status.h"
#include "runs/worker_trainer.h"

namespace lathe {

struct WorkerOptions {
  WorkerTrainerFactory factory = real_trainer_factory();
  std::function<void(const std::string&)> echo;      // log lines to a terminal (foreground)
  std::function<void(const ProgressView&)> on_step;  // after each step (foreground progress line)
  std::function<void()> on_started;                  // once status.json says running
  bool handle_signals = true;                        // SIGTERM/SIGINT = stop with a save
};

struct WorkerOutcome {
  RunState state = RunState::Failed;  // Done, Stopped or Failed
  std::string error;                  // when failed
  TrainResult result;
};

// Never throws for anything that goes wrong in training: it ends up in the outcome and in
// status.json. Throws lathe::Error only when the run folder itself is unusable.
WorkerOutcome run_worker(const RunPaths& run, const WorkerOptions& options);

}  // namespace lathe
