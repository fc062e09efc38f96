// `lathe runs queue`: the queued runs of a runs folder, oldest first; when nothing is training
// (after a reboot, say) it starts the oldest one, as a finishing run would have.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "runs/detach.h"
#include "runs/run_log.h"
#include "runs/run_queue.h"
#include "runs/train_lock.h"

namespace lathe::cli {
namespace {

int run_runs_queue(const Args& args) {
  const auto root = runs_root(args);
  std::vector<RunPaths> queued = queued_runs(root);
  std::optional<RunPaths> active = find_active_run(root);
  if (active) std::cout << fmt::format("training: {}\n", active->run_id());
  if (queued.empty()) {
    std::cout << "no queued runs\n";
    return kExitOk;
  }
  std::cout << fmt::format("queued ({}, first to start on top):\n", queued.size());
  for (std::size_t i = 0; i < queued.size(); ++i) {
    RunStatus s = read_run_status(queued[i].status());
    std::cout << fmt::format("  {}. {}  (queued {} UTC)\n", i + 1, queued[i].run_id(),
                             format_utc(s.updated_at));
  }
  if (args.has("no-start")) return kExitOk;
  std::optional<TrainLock> lock = TrainLock::try_acquire(root);
  if (!lock) return kExitOk;  // something trains; it starts the queue when it ends
  if (auto started = hand_on_queue(root, lock, current_executable(), nullptr))
    std::cout << fmt::format("nothing was training: started {}\n", started->run_id());
  return kExitOk;
}

CommandSpec runs_queue_command() {
  CommandSpec spec;
  spec.name = "runs queue";
  spec.summary = "List the queued runs; start the oldest when nothing is training";
  spec.usage = "[--no-start] [--runs-dir DIR]";
  spec.details =
      "Runs queued with 'lathe train --queue' start one after another: the worker that ends a\n"
      "run starts the next. After a reboot nothing is running; this command (or the next\n"
      "'lathe train') starts the queue again. 'lathe runs stop RUN' takes a run out of it.";
  spec.options = {{"no-start", "", "only list, never start"}, runs_dir_option()};
  spec.max_positionals = 0;
  spec.run = run_runs_queue;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_queue_command)

}  // namespace lathe::cli
