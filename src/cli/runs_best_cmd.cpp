// `lathe runs best RUN [--top K]`: the run's saved epochs ranked by validation loss (or by the
// training loss smoothed around each save when the run has no validation), local minima marked,
// the trend of the curve with advice, and the epoch files to try. Works on a run still training.
#include <iostream>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/error.h"

namespace lathe::cli {
namespace {

int run_runs_best(const Args& args) {
  long long top = args.int_or("top", 3);
  if (top < 0) throw UsageError("--top must be 0 (all) or more");
  RunView v = load_run_view(run_from_args(args));
  BestEpochReport report = rank_epochs(v.metrics);
  if (args.has("json"))
    std::cout << best_report_json(v, report, static_cast<int>(top));
  else
    std::cout << best_report_text(v, report, static_cast<int>(top));
  return kExitOk;
}

CommandSpec runs_best_command() {
  CommandSpec spec;
  spec.name = "runs best";
  spec.summary = "Rank a run's epochs: best first, local minima, trend, files to try";
  spec.usage = "RUN [--top K] [--json] [--runs-dir DIR]";
  spec.details =
      "Ranks by validation loss when the run has validation, otherwise by the training loss\n"
      "averaged over the half epoch either side of each save (one step's loss is mostly noise\n"
      "from the random timestep). The trend over the last epochs says whether more epochs may\n"
      "help (falling) or the run overfits (rising: pick an earlier epoch).";
  spec.options = {{"top", "K", "show the best K epochs (default 3; 0 = all)"},
                  json_option(),
                  runs_dir_option()};
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_runs_best;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_best_command)

}  // namespace lathe::cli
