// `lathe runs list`: every run of a runs folder as a table: id, state (a run whose process is
// gone shows as interrupted), epoch, step/total, last loss and a sparkline of the smoothed
// loss. --json gives the same as an array of objects.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/error.h"
#include "runs/sparkline.h"

namespace lathe::cli {
namespace {

constexpr int kCurveWidth = 24;

int run_runs_list(const Args& args) {
  const auto root = runs_root(args);
  std::vector<RunPaths> runs = list_runs(root);
  const bool json = args.has("json");
  nlohmann::json out = nlohmann::json::array();
  if (!json) {
    if (runs.empty()) {
      std::cout << fmt::format("no runs in {} (start one with 'lathe train PROFILE')\n",
                               root.string());
      return kExitOk;
    }
    std::cout << fmt::format("{:<32} {:<11} {:>7} {:>13} {:>9}  {}\n", "RUN", "STATE", "EPOCH",
                             "STEP", "LOSS", "LOSS CURVE");
  }
  const SparkGlyphs glyphs = sparkline_glyphs_for_locale();
  bool any_interrupted = false;
  for (const RunPaths& run : runs) {
    RunView v;
    try {
      v = load_run_view(run);
    } catch (const Error& e) {
      if (json)
        out.push_back({{"run_id", run.run_id()}, {"error", e.what()}});
      else
        std::cout << fmt::format("{:<32} {}\n", run.run_id(), "damaged status.json");
      continue;
    }
    const RunStatus& s = v.status;
    any_interrupted |= v.state == RunState::Interrupted;
    if (json) {
      out.push_back({{"run_id", run.run_id()},
                     {"name", s.name},
                     {"state", run_state_name(v.state)},
                     {"recorded_state", run_state_name(s.state)},
                     {"epoch", s.epoch},
                     {"total_epochs", s.total_epochs},
                     {"step", s.step},
                     {"total_steps", s.total_steps},
                     {"last_loss", s.last_loss},
                     {"dir", run.dir.string()}});
      continue;
    }
    std::cout << fmt::format("{:<32} {:<11} {:>7} {:>13} {:>9}  {}\n", run.run_id(),
                             run_state_name(v.state), fmt::format("{}/{}", s.epoch, s.total_epochs),
                             fmt::format("{}/{}", s.step, s.total_steps),
                             s.step > 0 ? fmt::format("{:.4f}", s.last_loss) : "-",
                             render_sparkline(loss_curve(v.metrics), kCurveWidth, glyphs));
  }
  if (json)
    std::cout << out.dump(2) << "\n";
  else if (any_interrupted)
    std::cout << "interrupted: the process is gone; continue with 'lathe train --resume RUN'\n";
  return kExitOk;
}

CommandSpec runs_list_command() {
  CommandSpec spec;
  spec.name = "runs list";
  spec.summary = "Table of the runs: state, epoch, step, last loss, loss sparkline";
  spec.usage = "[--runs-dir DIR] [--json]";
  spec.details =
      "STATE is the effective state: a run whose status says running but whose process is\n"
      "gone (killed, machine restarted) shows as interrupted. The curve is the smoothed\n"
      "training loss (Unicode blocks, ASCII when the locale is not UTF-8).";
  spec.options = {runs_dir_option(), json_option()};
  spec.max_positionals = 0;
  spec.run = run_runs_list;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_list_command)

}  // namespace lathe::cli
