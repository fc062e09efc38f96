// `lathe runs pause|resume|stop|save RUN`: requests sent to a running run's control.sock. The
// worker acts on them between steps; --wait blocks until status.json shows the effect (paused,
// running again, or the run ended after its stop save). A queued run is not running yet:
// stop takes it out of the queue (state stopped).
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/error.h"
#include "runs/control_socket.h"

namespace lathe::cli {
namespace {

bool reached(ControlRequest r, RunState s) {
  switch (r) {
    case ControlRequest::Pause:
      return s == RunState::Paused || !is_live_state(s);
    case ControlRequest::Resume:
      return s == RunState::Running || !is_live_state(s);
    case ControlRequest::Stop:
      return !is_live_state(s);
    case ControlRequest::SaveNow:
      return true;
  }
  return true;
}

RunState wait_for(const RunPaths& run, ControlRequest r, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    RunState s = effective_state(read_run_status(run.status()));
    if (reached(r, s)) return s;
    if (std::chrono::steady_clock::now() > deadline)
      throw Error(
          fmt::format("run {} did not reach the requested state in {:g} s (it is {}); "
                      "the request stays pending",
                      run.run_id(), timeout_s, run_state_name(s)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int dequeue(const RunView& v) {
  RunStatus s = v.status;
  s.state = RunState::Stopped;
  s.finished_at = s.updated_at = unix_now();
  s.last_error.clear();
  write_run_status(v.paths.status(), s);
  std::cout << fmt::format(
      "run {} removed from the queue (state stopped; "
      "'lathe train --resume {}' starts it later)\n",
      v.paths.run_id(), v.paths.run_id());
  return kExitOk;
}

int run_control(const Args& args, ControlRequest request) {
  RunView v = load_run_view(run_from_args(args));
  const char* verb = control_request_name(request);
  if (v.state == RunState::Queued) {
    if (request == ControlRequest::Stop) return dequeue(v);
    throw Error(fmt::format("run {} is queued and not training yet; nothing to {}",
                            v.paths.run_id(), verb));
  }
  if (!is_live_state(v.state)) {
    std::string hint = resume_hint(v);
    throw Error(fmt::format("run {} is {}, not running; nothing to {}{}", v.paths.run_id(),
                            run_state_name(v.state), verb, hint.empty() ? "" : "\n" + hint));
  }
  std::string answer = send_control_request(v.paths.control_socket(), request);
  if (answer.rfind("ok", 0) != 0)
    throw Error(fmt::format("run {} refused '{}': {}", v.paths.run_id(), verb, answer));
  std::cout << fmt::format("{}: {} requested (acted on between steps)\n", v.paths.run_id(), verb);
  if (args.has("wait")) {
    RunState s = wait_for(v.paths, request, args.double_or("timeout", 600));
    std::cout << fmt::format("{}: {}\n", v.paths.run_id(), run_state_name(s));
  }
  return kExitOk;
}

CommandSpec control_command(const std::string& name, ControlRequest request,
                            const std::string& summary, const std::string& details) {
  CommandSpec spec;
  spec.name = "runs " + name;
  spec.summary = summary;
  spec.usage = "RUN [--wait [--timeout S]] [--runs-dir DIR]";
  spec.details = details;
  spec.options = {{"wait", "", "wait until status.json shows the effect"},
                  {"timeout", "S", "seconds --wait waits at most (default 600)"},
                  runs_dir_option()};
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = [request](const Args& args) { return run_control(args, request); };
  return spec;
}

CommandSpec runs_pause_command() {
  return control_command("pause", ControlRequest::Pause, "Pause a running run between steps",
                         "The worker waits without using CPU (state paused) until resumed.");
}
CommandSpec runs_resume_command() {
  return control_command("resume", ControlRequest::Resume, "Resume a paused run",
                         "To continue a stopped or interrupted run use 'lathe train --resume'.");
}
CommandSpec runs_stop_command() {
  return control_command("stop", ControlRequest::Stop,
                         "Stop a run: it saves a checkpoint and a LoRA file, then exits",
                         "The run ends in state stopped; 'lathe train --resume RUN' continues it.\n"
                         "A queued run is taken out of the queue.");
}
CommandSpec runs_save_command() {
  return control_command("save", ControlRequest::SaveNow,
                         "Save now: a checkpoint and a LoRA file, then training goes on",
                         "The LoRA file is epochs/<name>-sNNNNNN.safetensors (the step).");
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_pause_command)
LATHE_REGISTER_COMMAND(runs_resume_command)
LATHE_REGISTER_COMMAND(runs_stop_command)
LATHE_REGISTER_COMMAND(runs_save_command)

}  // namespace lathe::cli
