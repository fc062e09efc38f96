// What the `lathe train` and `lathe runs ...` commands share: the --runs-dir option, loading a
// run's status and metrics for display, and the text of a best-epoch report (printed by
// `runs best`, `runs show` and at the end of a foreground `lathe train`).
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "cli/command.h"
#include "runs/best_epoch.h"
#include "runs/metrics_log.h"
#include "runs/run_dir.h"
#include "runs/run_status.h"

namespace lathe::cli {

Option runs_dir_option();
Option json_option();
std::filesystem::path runs_root(const Args& args);  // --runs-dir, default "runs"

// The run a command names (positional 0) under --runs-dir.
RunPaths run_from_args(const Args& args);

struct RunView {
  RunPaths paths;
  RunStatus status;
  RunState state = RunState::Queued;  // effective: a dead process shows as interrupted
  RunMetrics metrics;
};
RunView load_run_view(const RunPaths& run);  // throws lathe::Error for a damaged status.json

// Runs that wait in the queue of `runs_root` while nothing trains (their worker was killed):
// starts the oldest (run_queue.h, restart_stalled_queue) and writes a line about it to `out`,
// or, when this user may not start them, what to do. Every runs command that looks at a
// folder calls this, so a queue never waits for a worker that is gone.
void move_stalled_queue(const std::filesystem::path& runs_root, std::ostream& out);

// "1:02:03", "4:05", "—" for unknown.
std::string format_duration(double seconds);

// Loss values of a run for a sparkline: the smoothed training loss of every step record.
std::vector<double> loss_curve(const RunMetrics& m);

// The hint a stopped, failed or interrupted run shows: the checkpoint `lathe train --resume`
// will go on from (the newest that loads, never a damaged one), or that it starts over.
std::string resume_hint(const RunView& v);

// Ranked epochs, trend, advice and the files to try (top `top` of them).
std::string best_report_text(const RunView& v, const BestEpochReport& r, int top);
std::string best_report_json(const RunView& v, const BestEpochReport& r, int top);

}  // namespace lathe::cli
