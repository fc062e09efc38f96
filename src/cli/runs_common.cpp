// Shared helpers of the run commands (see runs_common.h).
#include "cli/runs_common.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/terminal_text.h"
#include "runs/detach.h"
#include "runs/run_queue.h"
#include "train/loop/checkpoint_state.h"

namespace fs = std::filesystem;

namespace lathe::cli {

Option runs_dir_option() {
  return {"runs-dir", "DIR", "the runs folder (default: runs)"};
}

Option json_option() {
  return {"json", "", "machine-readable output"};
}

fs::path runs_root(const Args& args) {
  return args.value_or("runs-dir", "runs");
}

RunPaths run_from_args(const Args& args) {
  return find_run(runs_root(args), args.positional(0));
}

RunView load_run_view(const RunPaths& run) {
  RunView v;
  v.paths = run;
  v.status = read_run_status(run.status());
  v.state = effective_state(v.status);
  v.metrics = read_metrics(run.metrics());
  return v;
}

void move_stalled_queue(const fs::path& runs_root, std::ostream& out) {
  std::string advice;
  if (auto started = restart_stalled_queue(runs_root, current_executable(), &advice))
    out << fmt::format("nothing was training in {} (the last worker is gone): started queued run {}\n",
                       terminal_safe(runs_root.string()), terminal_safe(started->run_id()));
  else if (!advice.empty())
    out << terminal_safe(advice) << "\n";
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  long long s = std::llround(seconds);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::vector<double> loss_curve(const RunMetrics& m) {
  std::vector<double> out;
  out.reserve(m.steps.size());
  for (const auto& s : m.steps) out.push_back(s.loss_smoothed);
  return out;
}

std::string resume_hint(const RunView& v) {
  std::string gone;
  switch (v.state) {
    case RunState::Interrupted:
      gone = "its process is gone (killed or the machine restarted); ";
      break;
    case RunState::Stopped:
    case RunState::Failed:
      break;
    default:
      return "";
  }
  // Only what will work: a damaged newest checkpoint is never offered (the worker skips it).
  const ResumePoint point = find_resume_point(v.paths.dir);
  if (point.checkpoint)
    return fmt::format("{}continue it from checkpoints/{} (step {}{}) with: lathe train --resume {}",
                       gone, point.checkpoint->filename().string(), point.step,
                       point.damaged.empty() ? "" : ", the newest checkpoint that loads",
                       v.paths.run_id());
  return fmt::format("{}no checkpoint {}: 'lathe train --resume {}' starts it over from step 0",
                     gone, point.damaged.empty() ? "was saved" : "of it loads", v.paths.run_id());
}

std::string best_report_text(const RunView& v, const BestEpochReport& r, int top) {
  std::string out;
  if (r.ranked.empty())
    return fmt::format("run {}: no epoch has been saved yet\n", v.paths.run_id());
  out += fmt::format("run {}: {} epoch{} ranked by {} (lower is better)\n", v.paths.run_id(),
                     r.ranked.size(), r.ranked.size() == 1 ? "" : "s", r.basis);
  out += fmt::format("  {:>4}  {:>5}  {:>7}  {:>9}  {}\n", "rank", "epoch", "step", "loss", "file");
  int shown = 0;
  for (const EpochScore& e : r.ranked) {
    if (top > 0 && shown++ >= top) break;
    out += fmt::format("  {:>4}  {:>5}  {:>7}  {:>9.5f}  {}{}\n", e.rank, e.epoch, e.step, e.score,
                       e.file.empty() ? "(not saved)" : e.file,
                       e.local_minimum ? "  <- local minimum" : "");
  }
  out += fmt::format("trend: {}. {}\n", loss_trend_name(r.trend), r.advice);
  std::string files;
  shown = 0;
  for (const EpochScore& e : r.ranked) {
    if (top > 0 && shown >= top) break;
    if (e.file.empty()) continue;
    ++shown;
    files += fmt::format("  {}\n", (v.paths.dir / e.file).string());
  }
  if (!files.empty()) out += "epoch files to try, best first:\n" + files;
  return out;
}

std::string best_report_json(const RunView& v, const BestEpochReport& r, int top) {
  nlohmann::json ranked = nlohmann::json::array();
  int shown = 0;
  for (const EpochScore& e : r.ranked) {
    if (top > 0 && shown++ >= top) break;
    ranked.push_back({{"rank", e.rank},
                      {"epoch", e.epoch},
                      {"step", e.step},
                      {"score", e.score},
                      {"samples", e.samples},
                      {"local_minimum", e.local_minimum},
                      {"file", e.file},
                      {"path", e.file.empty() ? "" : (v.paths.dir / e.file).string()}});
  }
  nlohmann::json j = {{"run_id", v.paths.run_id()}, {"state", run_state_name(v.state)},
                      {"basis", r.basis},           {"trend", loss_trend_name(r.trend)},
                      {"advice", r.advice},         {"ranked", ranked}};
  return j.dump(2) + "\n";
}

}  // namespace lathe::cli
