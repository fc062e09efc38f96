// `lathe train`'s decisions, apart from its command line: validate the profile, create the run
// folder with the frozen profile.toml and a first status.json, take the training lock (or
// refuse naming the running run, or queue), and start the worker detached. Resuming reuses the
// run's frozen profile and folder; the worker picks the newest complete checkpoint itself.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runs/run_dir.h"
#include "runs/train_lock.h"

namespace lathe {

struct LaunchRequest {
  std::filesystem::path profile;       // a new run from this profile, or
  std::string resume;                  // resume this run (id, prefix or folder)
  std::vector<std::string> overrides;  // --set section.key=value
  std::string name;                    // --name; default [saving] name, then profile stem
  std::optional<std::filesystem::path> runs_dir;  // --runs-dir; default [output] dir / "runs"
  bool queue = false;
  bool foreground = false;    // keep the lock for an in-process worker
  std::filesystem::path exe;  // the lathe binary to re-exec as the worker
};

struct LaunchOutcome {
  RunPaths run;
  std::filesystem::path runs_root;
  bool queued = false;
  bool resumed = false;
  long long pid = 0;                  // detached worker's pid
  std::optional<RunPaths> running;    // what a queued run waits for, when known
  std::vector<std::string> warnings;  // profile warnings
  std::optional<TrainLock> lock;      // foreground: held for the in-process worker
};

// Starts (or queues) the run. Throws lathe::Error for an invalid profile, missing files, a
// run already training (without --queue), or a run that cannot be resumed.
LaunchOutcome launch_run(const LaunchRequest& request);

// Writes the message a refused `lathe train` prints.
std::string already_running_message(const std::filesystem::path& runs_root);

}  // namespace lathe
