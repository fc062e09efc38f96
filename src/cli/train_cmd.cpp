// `lathe train PROFILE`: starts a run. By default the run trains in a detached worker process
// (it survives SSH hang-ups, closed terminals and TUI crashes) and the command prints the run
// id and how to watch it; --foreground trains attached with a progress line and ends with the
// best epochs. --resume RUN continues a stopped, failed or interrupted run from its newest
// checkpoint. One run trains at a time per runs folder: a second one is refused, or queued with
// --queue. `--worker RUN_DIR` is the detached worker's own entry point (internal).
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/error.h"
#include "runs/detach.h"
#include "runs/progress_line.h"
#include "runs/run_launcher.h"
#include "runs/run_queue.h"
#include "runs/run_worker.h"
#include "train/model/compute_device.h"
#include "train/model/precision.h"
#include "train/config/train_config.h"

namespace fs = std::filesystem;

namespace lathe::cli {
namespace {

int parse_fd(const Args& args, const std::string& flag) {
  long long fd = args.int_or(flag, -1);
  return fd >= 0 && fd < 65536 ? static_cast<int>(fd) : -1;
}

// `lathe train --worker RUN_DIR`: the detached process (see runs/detach.h).
int run_as_worker(const Args& args) {
  RunPaths run{fs::absolute(args.value_or("worker", ""))};
  std::optional<TrainLock> lock;
  if (int fd = parse_fd(args, "lock-fd"); fd >= 0) lock = TrainLock::adopt(fd);
  int ready = parse_fd(args, "ready-fd");
  WorkerOptions options;
  options.on_started = [&ready] {
    report_worker_started(ready);
    ready = -1;
  };
  WorkerOutcome outcome = run_worker(run, options);
  RunLog log(run.log());
  hand_on_queue(run.dir.parent_path(), lock, current_executable(), &log);
  return outcome.state == RunState::Failed ? kExitInputErrors : kExitOk;
}

std::string runs_dir_flag(const fs::path& root) {
  std::error_code ec;
  return fs::equivalent(root, fs::absolute("runs"), ec) ? "" : " --runs-dir " + root.string();
}

void print_watch_hints(const LaunchOutcome& o) {
  const std::string id = o.run.run_id(), flag = runs_dir_flag(o.runs_root);
  std::cout << fmt::format("  folder:  {}\n", o.run.dir.string())
            << fmt::format("  watch:   lathe runs tail {} --follow{}\n", id, flag)
            << fmt::format("           lathe runs show {}{}\n", id, flag)
            << fmt::format("           lathe tui {}\n", o.runs_root.string())
            << fmt::format("  control: lathe runs pause|resume|stop|save {}{}\n", id, flag);
}

int run_foreground(LaunchOutcome& o) {
  const bool tty = ::isatty(1);
  std::cout << fmt::format("{} run {} in the foreground (Ctrl-C stops it with a save)\n",
                           o.resumed ? "resuming" : "training", o.run.run_id());
  std::cout.flush();
  WorkerOptions options;
  options.echo = [tty](const std::string& line) {
    std::cout << (tty ? "\r\x1b[K" : "") << line << "\n";
    std::cout.flush();
  };
  options.on_step = [tty](const ProgressView& v) {
    if (!tty) return;
    std::cout << "\r" << format_progress_line(v) << "\x1b[K";
    std::cout.flush();
  };
  WorkerOutcome outcome = run_worker(o.run, options);
  if (tty) std::cout << "\r\x1b[K";
  hand_on_queue(o.runs_root, o.lock, current_executable(), nullptr);
  if (outcome.state == RunState::Failed) {
    std::cout.flush();
    std::cerr << "error: run " << o.run.run_id() << " failed: " << outcome.error << "\n";
    return kExitInputErrors;
  }
  RunView v = load_run_view(o.run);
  std::cout << fmt::format("run {} {}: {}\n", o.run.run_id(), run_state_name(outcome.state),
                           o.run.dir.string());
  std::cout << "\n" << best_report_text(v, rank_epochs(v.metrics), 3);
  if (outcome.state == RunState::Stopped) std::cout << resume_hint(v) << "\n";
  return kExitOk;
}

// Before a run folder is made: a training.device this machine lacks, or a precision its device
// cannot run (bf16 on a GPU without bf16), fails now, not in the worker after the model has
// loaded. Profile errors are left to launch_run, which reports them the same way.
void check_this_machine(const LaunchRequest& req) {
  std::optional<TrainConfig> config;
  try {
    config = load_train_config(req.profile, req.overrides);
  } catch (const Error&) {
    return;
  }
  const torch::Device device = resolve_device(config->training.device);
  try {
    resolve_precision(*config, device);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", req.profile.string(), e.what()));
  }
}

int run_train(const Args& args) {
  if (args.has("worker")) return run_as_worker(args);
  LaunchRequest req;
  if (args.has("resume")) {
    if (!args.positionals().empty())
      throw UsageError(
          "lathe train --resume RUN takes no PROFILE: the run goes on with its "
          "frozen profile.toml");
    req.resume = args.value_or("resume", "");
  } else {
    if (args.positionals().empty())
      throw UsageError("lathe train needs a PROFILE (or --resume RUN); see 'lathe train --help'");
    req.profile = args.positional(0);
  }
  req.overrides = args.values("set");
  req.name = args.value_or("name", "");
  if (args.has("runs-dir")) req.runs_dir = args.value_or("runs-dir", "runs");
  req.queue = args.has("queue");
  req.foreground = args.has("foreground");
  req.exe = current_executable();
  if (req.resume.empty()) check_this_machine(req);

  LaunchOutcome o = launch_run(req);
  for (const std::string& w : o.warnings) std::cout << "warning: " << w << "\n";
  if (o.queued) {
    std::cout << fmt::format("queued run {}: it starts when {} ends\n", o.run.run_id(),
                             o.running ? "run " + o.running->run_id() : "the running run");
    std::cout << fmt::format("  the queue: lathe runs queue{}\n", runs_dir_flag(o.runs_root));
    print_watch_hints(o);
    return kExitOk;
  }
  if (req.foreground) return run_foreground(o);
  std::cout << fmt::format(
      "{} run {} (pid {}), detached: it keeps training when this terminal "
      "closes\n",
      o.resumed ? "resumed" : "started", o.run.run_id(), o.pid);
  print_watch_hints(o);
  return kExitOk;
}

CommandSpec train_command() {
  CommandSpec spec;
  spec.name = "train";
  spec.summary = "Start a training run (detached unless --foreground), or resume one";
  spec.usage =
      "PROFILE [--set section.key=value ...] [--name NAME] [--foreground] [--queue] | "
      "--resume RUN";
  spec.details =
      "Validates the profile, creates RUNS/<run-id>/ (RUNS: [output] dir, default runs; or\n"
      "--runs-dir) with a frozen copy of the effective profile (profile.toml), and starts the\n"
      "run in a detached process (new session, stdin from /dev/null, output to log.txt), so\n"
      "closing the terminal or losing SSH does not stop it. Prints the run id and how to watch\n"
      "and control it. --foreground trains attached with a progress line (Ctrl-C stops with a\n"
      "save; a second Ctrl-C kills) and prints the best epochs at the end.\n"
      "\n"
      "One run trains at a time per runs folder (a flock on RUNS/.train.lock). While one runs,\n"
      "lathe train refuses, naming it; with --queue the run is created in state queued and\n"
      "starts when the running one ends (queued runs are plain run folders, so the queue\n"
      "survives a reboot; 'lathe runs queue' shows it and starts it when nothing runs).\n"
      "\n"
      "--resume RUN continues a stopped, failed or interrupted run from its newest complete\n"
      "checkpoint with the frozen profile; metrics.jsonl and the TensorBoard events are cut\n"
      "back to the checkpoint's step, and the final LoRA is bit-identical to an uninterrupted\n"
      "run's. --worker, --ready-fd and --lock-fd are internal (the detached worker's entry).";
  spec.options = {
      {"set", "KEY=VALUE", "override a profile key, e.g. --set training.epochs=8",
       true},
      {"name", "NAME", "run name used in the run id (default: [saving] name or profile stem)"},
      {"foreground", "", "train attached to this terminal with a progress line"},
      {"resume", "RUN", "continue RUN (id, unique prefix/suffix, or folder) from its checkpoint"},
      {"queue", "", "if a run is training, queue this one to start after it"},
      runs_dir_option(),
      {"worker", "RUN_DIR", "(internal) run the worker of RUN_DIR in this process"},
      {"ready-fd", "FD", "(internal) pipe to report the worker's start on"},
      {"lock-fd", "FD", "(internal) inherited training lock descriptor"},
  };
  spec.min_positionals = 0;
  spec.max_positionals = 1;
  spec.run = run_train;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(train_command)

}  // namespace lathe::cli
