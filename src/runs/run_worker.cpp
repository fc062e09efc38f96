// A run's training process (see run_worker.h).
#include "runs/run_worker.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <optional>

#include "common/error.h"
#include "io/atomic_file.h"
#include "runs/control_socket.h"
#include "train/loop/checkpoint_state.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

std::atomic<bool> g_stop_signal{false};

void on_stop_signal(int) {
  g_stop_signal = true;
}

// The first SIGINT/SIGTERM asks for a stop with a save; a second one (SA_RESETHAND) kills, for
// a user who does not want to wait for the save.
void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
}

// Answers the trainer's between_steps: drains control requests, blocks while paused.
class ControlBridge {
 public:
  ControlBridge(ControlServer& server, RunRecorder& recorder, const RunLog& log)
      : server_(server), recorder_(recorder), log_(log) {}

  TrainRequest between_steps() {
    while (true) {
      if (g_stop_signal) return stop("a stop signal");
      std::optional<ControlRequest> r =
          paused_ ? server_.wait_request(500) : server_.next_request();
      if (!r) {
        if (paused_) continue;  // woke on the timeout: look at the signal flag again
        return TrainRequest::Continue;
      }
      switch (*r) {
        case ControlRequest::Pause:
          if (!paused_) {
            paused_ = true;
            log_.line(fmt::format("paused at step {} ('lathe runs resume' goes on)",
                                  recorder_.view().step));
            recorder_.set_state(RunState::Paused);
          }
          break;
        case ControlRequest::Resume:
          if (paused_) {
            paused_ = false;
            log_.line("resumed");
            recorder_.set_state(RunState::Running);
          }
          break;
        case ControlRequest::Stop:
          return stop("'stop'");
        case ControlRequest::SaveNow:
          log_.line(fmt::format("save requested at step {}", recorder_.view().step));
          return TrainRequest::SaveNow;  // while paused, the trainer saves and comes back here
      }
    }
  }

 private:
  TrainRequest stop(const char* why) {
    paused_ = false;
    log_.line(fmt::format("stopping at step {} on {}: saving a checkpoint and a LoRA file",
                          recorder_.view().step, why));
    recorder_.set_state(RunState::Stopping);
    return TrainRequest::Stop;
  }

  ControlServer& server_;
  RunRecorder& recorder_;
  const RunLog& log_;
  bool paused_ = false;
};

std::string relative_to_run(const RunPaths& run, const std::filesystem::path& p) {
  return std::filesystem::relative(p, run.dir).generic_string();
}

// A complete checkpoint that no longer reads (cut short, damaged header) is renamed, not
// deleted: it is never tried again, never counted among the kept checkpoints, and a later
// checkpoint of the same step cannot collide with it.
void set_damaged_checkpoints_aside(const RunPaths& run, const ResumePoint& point,
                                   const RunLog& log) {
  for (const auto& [dir, why] : point.damaged) {
    std::string where;
    try {
      where = "; set aside as " + relative_to_run(run, set_checkpoint_aside(dir));
    } catch (const Error& e) {
      where = fmt::format(" ({})", e.what());
    }
    log.line(fmt::format("checkpoint {} cannot be loaded: {}{}", relative_to_run(run, dir), why,
                         where));
  }
}

RunStatus starting_status(const RunPaths& run) {
  RunStatus s;
  try {
    s = read_run_status(run.status());
  } catch (const Error&) {
    s.run_id = run.run_id();  // no or damaged status: start a fresh record
  }
  s.state = RunState::Running;
  s.pid = ::getpid();
  s.pid_start_ticks = process_start_ticks(s.pid);
  s.hostname.clear();  // write_run_status fills in this machine's
  if (s.started_at == 0) s.started_at = unix_now();
  s.finished_at = 0;
  s.last_error.clear();
  return s;
}

TrainResult train(const RunPaths& run, RunRecorder& recorder, const RunLog& log,
                  const WorkerOptions& options) {
  TrainConfig config = parse_train_config(read_file(run.profile(), 16u << 20), run.profile());
  recorder.set_log_every(config.saving.log_every_n_steps);
  ControlServer control(run.control_socket());
  ControlBridge bridge(control, recorder, log);
  TrainCallbacks callbacks;
  callbacks.on_progress = [&](const TrainProgress& p) {
    recorder.on_progress(p);
    if (p.kind == TrainProgress::Kind::Step && options.on_step) options.on_step(recorder.view());
  };
  callbacks.between_steps = [&] { return bridge.between_steps(); };
  std::unique_ptr<WorkerTrainer> trainer = options.factory(config, run.dir, callbacks);
  const ResumePoint point = find_resume_point(run.dir);
  set_damaged_checkpoints_aside(run, point, log);
  if (point.checkpoint) {
    trainer->resume_from(*point.checkpoint);
    log.line(fmt::format("resumed from {} at step {}{}", relative_to_run(run, *point.checkpoint),
                         trainer->step(),
                         point.damaged.empty() ? "" : " (the newest checkpoint that loads)"));
  } else if (!point.damaged.empty()) {
    log.line("no checkpoint of this run loads: training starts over from step 0");
  }
  recorder.restart_at(trainer->step());
  return trainer->run();
}

}  // namespace

WorkerOutcome run_worker(const RunPaths& run, const WorkerOptions& options) {
  if (options.handle_signals) install_stop_signals();
  g_stop_signal = false;
  RunLog log(run.log(), options.echo);
  RunStatus status = starting_status(run);
  RunRecorder recorder(run, status, log, 0);
  recorder.set_state(RunState::Running);
  log.line(fmt::format("worker started: pid {} on {}", status.pid, run.dir.string()));
  if (options.on_started) options.on_started();

  WorkerOutcome outcome;
  try {
    outcome.result = train(run, recorder, log, options);
    outcome.state = outcome.result.stopped ? RunState::Stopped : RunState::Done;
  } catch (const std::exception& e) {
    // lathe::Error carries the user-facing message; libtorch's c10::Error lands here as well.
    outcome.state = RunState::Failed;
    outcome.error = e.what();
  }
  status.state = outcome.state;
  status.finished_at = unix_now();
  status.last_error = outcome.error;
  if (outcome.state == RunState::Failed) {
    log.line("failed: " + outcome.error);
    if (auto checkpoint = find_resume_point(run.dir).checkpoint)
      log.line(fmt::format(
          "the last good checkpoint is {}; 'lathe train --resume {}' continues "
          "from it once the problem is fixed",
          relative_to_run(run, *checkpoint), run.run_id()));
  } else {
    log.line(fmt::format("{} at step {}: {}", run_state_name(outcome.state), outcome.result.steps,
                         outcome.result.final_file.empty()
                             ? std::string("no LoRA file written")
                             : "final LoRA file " + outcome.result.final_file.generic_string()));
  }
  try {
    recorder.write_status();
  } catch (const Error& e) {
    log.line(fmt::format("cannot write the final status: {}", e.what()));
  }
  return outcome;
}

}  // namespace lathe
