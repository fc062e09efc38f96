// Creating, queueing and starting runs (see run_launcher.h).
#include "runs/run_launcher.h"

#include <fmt/format.h>

#include "common/error.h"
#include "io/atomic_file.h"
#include "runs/detach.h"
#include "runs/run_queue.h"
#include "runs/run_status.h"
#include "train/loop/checkpoint_state.h"
#include "train/config/train_config.h"

namespace fs = std::filesystem;

namespace lathe {
namespace {

TrainConfig validated_config(const LaunchRequest& req, std::vector<std::string>& warnings) {
  TrainConfig config = load_train_config(req.profile, req.overrides, &warnings);
  std::vector<std::string> missing = missing_files(config);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += "\n  " + m;
    throw Error(
        fmt::format("{}: a run cannot start with missing files:{}\n(fix the paths in the "
                    "profile or override them with --set section.key=VALUE)",
                    req.profile.string(), list));
  }
  // The frozen copy is named profile.toml: pin the file stem the default name came from.
  if (config.saving.name.empty()) config.saving.name = req.profile.stem().string();
  if (req.runs_dir) config.output.dir = fs::absolute(*req.runs_dir);
  return config;
}

RunPaths create_queued_run(const TrainConfig& config, const std::string& name) {
  RunPaths run = create_run_dir(config.output.dir, name, static_cast<long long>(unix_now()));
  write_file_atomic(run.profile(), render_profile_toml(config));
  RunStatus s;
  s.run_id = run.run_id();
  s.name = name;
  s.state = RunState::Queued;
  s.total_epochs = static_cast<int>(config.training.epochs);
  s.base_model = config.model.path;
  s.updated_at = unix_now();
  write_run_status(run.status(), s);
  return run;
}

void mark_queued(const RunPaths& run) {
  RunStatus s = read_run_status(run.status());
  s.state = RunState::Queued;
  s.pid = 0;
  s.pid_start_ticks = 0;
  s.updated_at = unix_now();
  s.finished_at = 0;
  write_run_status(run.status(), s);
}

void mark_failed(const RunPaths& run, const std::string& error) {
  try {
    RunStatus s = read_run_status(run.status());
    s.state = RunState::Failed;
    s.last_error = error;
    s.finished_at = s.updated_at = unix_now();
    write_run_status(run.status(), s);
  } catch (const Error&) {
  }
}

// A stopped, failed or interrupted run can go on; a live or finished one cannot.
void check_resumable(const RunPaths& run) {
  RunStatus s = read_run_status(run.status());
  switch (effective_state(s)) {
    case RunState::Running:
    case RunState::Paused:
    case RunState::Stopping:
      throw Error(fmt::format("run {} is still {} (pid {}); nothing to resume", run.run_id(),
                              run_state_name(effective_state(s)), s.pid));
    case RunState::Queued:
      throw Error(
          fmt::format("run {} is queued: it starts when the running run ends", run.run_id()));
    case RunState::Done:
      throw Error(
          fmt::format("run {} finished; nothing to resume (start a new run to train "
                      "longer)",
                      run.run_id()));
    default:
      break;
  }
  if (!fs::exists(run.profile()))
    throw Error(fmt::format("{} is missing; the run cannot be resumed", run.profile().string()));
}

// Which checkpoint a resumed run goes on from, said before the worker starts when it is not
// simply the newest one (the worker logs the same and sets the damaged ones aside).
void add_resume_warnings(const RunPaths& run, std::vector<std::string>& warnings) {
  const ResumePoint point = find_resume_point(run.dir);
  for (const auto& [dir, why] : point.damaged)
    warnings.push_back(fmt::format("checkpoints/{} cannot be loaded: {}",
                                   dir.filename().string(), why));
  if (point.damaged.empty()) return;
  if (point.checkpoint)
    warnings.push_back(fmt::format("run {} resumes from checkpoints/{} (step {}), the newest "
                                   "checkpoint that loads; the damaged ones are set aside as "
                                   "*.damaged",
                                   run.run_id(), point.checkpoint->filename().string(),
                                   point.step));
  else
    warnings.push_back(fmt::format("no checkpoint of run {} loads: it starts over from step 0",
                                   run.run_id()));
}

}  // namespace

std::string already_running_message(const fs::path& runs_root) {
  std::optional<RunPaths> active = find_active_run(runs_root);
  std::string who = "another lathe train";
  if (active) {
    RunStatus s = read_run_status(active->status());
    who = fmt::format("run {} ({}, step {}/{}, pid {})", active->run_id(),
                      run_state_name(effective_state(s)), s.step, s.total_steps, s.pid);
  }
  return fmt::format(
      "{} is training in {} (one run at a time per runs folder). Wait for it, stop it "
      "with 'lathe runs stop {}', or add --queue to start this run after it",
      who, runs_root.string(), active ? active->run_id() : "RUN");
}

LaunchOutcome launch_run(const LaunchRequest& req) {
  LaunchOutcome out;
  TrainConfig config;
  if (req.resume.empty()) {
    config = validated_config(req, out.warnings);
    out.runs_root = config.output.dir;
  } else {
    if (!req.overrides.empty())
      throw UsageError(
          "--set cannot change a resumed run: it goes on with its frozen "
          "profile.toml");
    out.runs_root = fs::absolute(req.runs_dir.value_or("runs"));
    out.run = find_run(out.runs_root, req.resume);
    out.runs_root = fs::absolute(out.run.dir).parent_path();
    check_resumable(out.run);
    out.resumed = true;
    add_resume_warnings(out.run, out.warnings);
  }

  out.lock = TrainLock::try_acquire(out.runs_root);
  if (!out.lock && !req.queue) throw Error(already_running_message(out.runs_root));

  std::string name = req.name.empty() ? config.saving.name : req.name;
  if (!out.resumed)
    out.run = create_queued_run(config, name);
  else
    mark_queued(out.run);

  // Runs queued before this one whose worker is gone (killed, machine restarted) go first
  // under --queue; a plain `lathe train` starts now and they follow it.
  const bool older_queued = queued_runs(out.runs_root).size() > 1;
  if (out.lock && older_queued && !req.queue && !req.foreground)
    out.warnings.push_back(
        "runs were queued while nothing was training (their worker was killed or the machine "
        "restarted); they start after this run ('lathe runs queue' lists them)");
  if (!out.lock || (req.queue && older_queued)) {
    // Published as queued; now try the lock again, so a run that ended meanwhile cannot leave
    // this one waiting for nobody.
    if (!out.lock) out.lock = TrainLock::try_acquire(out.runs_root);
    if (!out.lock) {
      out.queued = true;
      out.running = find_active_run(out.runs_root);
      return out;
    }
    if (!req.foreground) {
      // Whatever was queued first goes first; this run may still wait behind it.
      std::optional<RunPaths> started =
          start_next_queued(out.runs_root, *out.lock, req.exe, nullptr);
      out.lock.reset();
      if (!started || started->dir != out.run.dir) {
        out.queued = true;
        out.running = started;
        return out;
      }
      out.pid = read_run_status(out.run.status()).pid;
      return out;
    }
  }
  if (req.foreground) return out;
  try {
    out.pid = spawn_detached_worker(out.run, out.lock->fd(), req.exe);
  } catch (const Error& e) {
    mark_failed(out.run, e.what());
    throw;
  }
  out.lock.reset();
  return out;
}

}  // namespace lathe
