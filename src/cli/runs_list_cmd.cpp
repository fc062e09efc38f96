// `lathe runs list`: every run of a runs folder as a table: id, state (a run whose process is
// gone shows as interrupted), epoch, step/total, last loss and a sparkline of the smoothed
// loss. --json gives the same as an array of objects.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/display_width.h"
#include "common/error.h"
#include "common/terminal_text.h"
#include "runs/sparkline.h"

namespace lathe::cli {
namespace {

constexpr int kCurveWidth = 24;
// A run id longer than this (a long --name) is cut with an ellipsis; a unique prefix of it is
// enough for every runs command, so the cut id still names the run.
constexpr int kMaxRunColumn = 40;

struct Row {
  std::string run, state, epoch, step, loss, curve;
};

// Prints rows in columns measured in terminal cells (a CJK character takes two), so ids in any
// script and numbers of any length keep the columns after them aligned.
void print_table(const std::vector<Row>& rows, const std::string& ellipsis) {
  const Row header{"RUN", "STATE", "EPOCH", "STEP", "LOSS", "LOSS CURVE"};
  int run_w = display_width(header.run), epoch_w = 7, step_w = 13, loss_w = 9;
  for (const Row& r : rows) {
    run_w = std::max(run_w, std::min(kMaxRunColumn, display_width(r.run)));
    epoch_w = std::max(epoch_w, display_width(r.epoch));
    step_w = std::max(step_w, display_width(r.step));
    loss_w = std::max(loss_w, display_width(r.loss));
  }
  auto line = [&](const Row& r) {
    std::string out = pad_to_width(r.run, run_w, ellipsis) + " " + pad_to_width(r.state, 11, ellipsis) +
                      " " + pad_to_width(r.epoch, epoch_w, ellipsis, true) + " " +
                      pad_to_width(r.step, step_w, ellipsis, true) + " " +
                      pad_to_width(r.loss, loss_w, ellipsis, true) + "  " + r.curve;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::cout << out << "\n";
  };
  line(header);
  for (const Row& r : rows) line(r);
}

int run_runs_list(const Args& args) {
  const auto root = runs_root(args);
  const bool json = args.has("json");
  // A queue left waiting by a killed worker moves on (the note goes to stderr under --json).
  move_stalled_queue(root, json ? std::cerr : std::cout);
  std::vector<RunPaths> runs = list_runs(root);
  nlohmann::json out = nlohmann::json::array();
  if (!json && runs.empty()) {
    std::cout << fmt::format("no runs in {} (start one with 'lathe train PROFILE')\n",
                             terminal_safe(root.string()));
    return kExitOk;
  }
  const SparkGlyphs glyphs = sparkline_glyphs_for_locale();
  const std::string ellipsis = glyphs == SparkGlyphs::Unicode ? "\u2026" : "~";
  std::vector<Row> rows;
  std::vector<std::string> damaged;
  bool any_interrupted = false;
  for (const RunPaths& run : runs) {
    RunView v;
    try {
      v = load_run_view(run);
    } catch (const Error& e) {
      if (json)
        out.push_back({{"run_id", run.run_id()}, {"error", e.what()}});
      rows.push_back({terminal_safe(run.run_id()), "damaged", "-", "-", "-", ""});
      damaged.push_back(e.what());
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
    rows.push_back({terminal_safe(run.run_id()), run_state_name(v.state),
                    fmt::format("{}/{}", s.epoch, s.total_epochs),
                    fmt::format("{}/{}", s.step, s.total_steps),
                    s.step > 0 ? fmt::format("{:.4f}", s.last_loss) : "-",
                    render_sparkline(loss_curve(v.metrics), kCurveWidth, glyphs)});
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  print_table(rows, ellipsis);
  for (const std::string& message : damaged) std::cout << terminal_safe(message) << "\n";
  if (any_interrupted)
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
      "training loss (Unicode blocks, ASCII when the locale is not UTF-8). Columns are\n"
      "measured in terminal cells; a run id over 40 cells is cut with an ellipsis (its\n"
      "start is a unique prefix, which every runs command accepts). Queued runs left\n"
      "waiting by a worker that is gone are started first.";
  spec.options = {runs_dir_option(), json_option()};
  spec.max_positionals = 0;
  spec.run = run_runs_list;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_list_command)

}  // namespace lathe::cli
