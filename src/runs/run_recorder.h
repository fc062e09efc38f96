// Turns the trainer's progress snapshots into the files that watchers read: metrics.jsonl
// (every step, each epoch end, validation and sample image), TensorBoard scalars (the same
// values, tags in README "TensorBoard tags") and images (samples/prompt00, ...), sample PNGs in
// samples/ (names from sample_files.h), status.json (step, epoch, last loss, last checkpoint; rewritten
// at most once a second during steps, at once on anything else) and log.txt lines. The
// smoothed loss is the mean of a trailing window of raw step losses, so a resumed run rebuilds
// it exactly from the metrics it kept.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>

#include "runs/metrics_log.h"
#include "runs/run_dir.h"
#include "runs/run_log.h"
#include "runs/run_status.h"
#include "runs/tensorboard_events.h"
#include "train/loop/trainer.h"

namespace lathe {

// The trailing window (in steps) of the smoothed loss for a run with this many batches per
// epoch: one epoch, between 10 and 100 steps.
std::size_t smoothing_window(std::int64_t batches_per_epoch);

// What the foreground progress line shows.
struct ProgressView {
  std::int64_t step = 0, total_steps = 0;
  std::int64_t epoch = 0, total_epochs = 0;
  double loss = 0, loss_smoothed = 0;
  double it_per_s = 0;
};

class RunRecorder {
 public:
  // `status` is the worker's status record, updated in place and written by the recorder.
  // Steps are logged to log.txt every `log_every` steps (0: never).
  RunRecorder(RunPaths run, RunStatus& status, const RunLog& log, std::int64_t log_every);

  // Before training (fresh or resumed at `step`): cuts metrics.jsonl and the event files back
  // to `step`, removes sample images rendered after it (the resumed run renders them again)
  // and reloads the smoothing window from the kept step records.
  void restart_at(std::int64_t step);

  void on_progress(const TrainProgress& p);
  void set_log_every(std::int64_t steps) { log_every_ = steps; }

  // Changes the run's state and writes status.json now.
  void set_state(RunState state);
  void write_status();

  const ProgressView& view() const { return view_; }

 private:
  void on_step(const TrainProgress& p);
  void on_epoch_end(const TrainProgress& p);
  void on_validation(const TrainProgress& p);
  void on_saved(const TrainProgress& p);
  void on_sample(const TrainProgress& p);
  void scalar(const std::string& tag, double value, std::int64_t step, double now);
  void track_totals(const TrainProgress& p);

  RunPaths run_;
  RunStatus& status_;
  const RunLog& log_;
  std::int64_t log_every_;
  MetricsLog metrics_;
  std::unique_ptr<TensorBoardWriter> events_;  // opened on first use, after restart_at
  std::deque<double> losses_;                  // trailing raw losses (smoothing)
  std::deque<double> seconds_;                 // trailing step times (it/s, ETA)
  double last_status_write_ = 0;
  ProgressView view_;
};

}  // namespace lathe
