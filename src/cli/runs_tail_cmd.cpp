// `lathe runs tail RUN`: the end of a run's log.txt (or metrics.jsonl with --metrics);
// --follow keeps printing what is appended and exits once the run is no longer live (done,
// stopped, failed, or its process gone), with an exit code per ending, so scripts can wait on
// a run with it.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "cli/runs_common.h"
#include "common/error.h"
#include "common/terminal_text.h"

namespace lathe::cli {
namespace {

// The last `n` lines of a file and the offset where the file ended.
std::pair<std::string, std::streamoff> last_lines(const std::filesystem::path& file, int n) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {"", 0};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t start = text.size();
  for (int seen = 0; start > 0; --start) {
    // Count line ends before `start`, not counting the file's final newline.
    if (text[start - 1] == '\n' && start != text.size() && ++seen == n) break;
  }
  if (n == 0) start = text.size();
  return {text.substr(start), static_cast<std::streamoff>(text.size())};
}

// Prints what was appended since `offset`; returns the new offset.
std::streamoff print_new(const std::filesystem::path& file, std::streamoff offset) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return offset;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < offset) offset = 0;  // rewritten (metrics cut back on resume): start over
  if (size == offset) return offset;
  in.seekg(offset);
  std::string chunk(static_cast<std::size_t>(size - offset), '\0');
  in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  std::cout << terminal_safe_lines(chunk);  // log lines quote file names and captions
  std::cout.flush();
  return size;
}

bool still_live(const RunPaths& run) {
  try {
    RunState s = effective_state(read_run_status(run.status()));
    return is_live_state(s);
  } catch (const Error&) {
    return false;
  }
}

bool is_queued(const RunPaths& run) {
  try {
    return read_run_status(run.status()).state == RunState::Queued;
  } catch (const Error&) {
    return false;
  }
}

// How a followed run ended, for scripts that wait on it: 0 done, 1 failed, 3 interrupted (its
// process died without recording an end: killed, out of memory, machine restarted), 4 stopped
// on request (a checkpoint and a LoRA file were saved; 'lathe train --resume' goes on).
int follow_exit_code(RunState s) {
  switch (s) {
    case RunState::Done:
      return kExitOk;
    case RunState::Failed:
      return kExitInputErrors;
    case RunState::Interrupted:
      return 3;
    case RunState::Stopped:
      return 4;
    default:
      return kExitOk;  // not reached: --follow waits while the run is live
  }
}

int run_runs_tail(const Args& args) {
  RunPaths run = run_from_args(args);
  const auto file = args.has("metrics") ? run.metrics() : run.log();
  long long n = args.int_or("lines", 20);
  if (n < 0) throw UsageError("--lines must be 0 or more");
  auto [text, offset] = last_lines(file, static_cast<int>(n));
  std::cout << terminal_safe_lines(text);
  std::cout.flush();
  if (!args.has("follow")) return kExitOk;
  const auto folder = run.dir.parent_path();
  for (int round = 0;; ++round) {
    // Waiting in a queue whose worker was killed: start it rather than wait forever (once a
    // second or so; each look reads every run's status.json).
    if (round % 4 == 0 && is_queued(run)) move_stalled_queue(folder, std::cout);
    bool live = still_live(run);
    offset = print_new(file, offset);
    if (!live) break;  // read once more after the end so the last lines are never missed
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  RunView v = load_run_view(run);
  std::cout << fmt::format("run {} is {}\n", terminal_safe(run.run_id()), run_state_name(v.state));
  if (std::string hint = resume_hint(v); !hint.empty()) std::cout << terminal_safe(hint) << "\n";
  return follow_exit_code(v.state);
}

CommandSpec runs_tail_command() {
  CommandSpec spec;
  spec.name = "runs tail";
  spec.summary = "The end of a run's log (or metrics); --follow until the run ends";
  spec.usage = "RUN [--follow] [--metrics] [--lines N] [--runs-dir DIR]";
  spec.details =
      "Prints the last N lines of log.txt (metrics.jsonl with --metrics). --follow keeps\n"
      "printing new lines and exits when the run ends, or at once if it is not running, with\n"
      "an exit code saying how it ended: 0 done, 1 failed, 3 interrupted (its process died:\n"
      "killed, out of memory, machine restarted), 4 stopped. A queued run is followed until\n"
      "it has run; if the worker before it was killed, the queue is started again.";
  spec.options = {{"follow", "", "keep printing until the run ends"},
                  {"metrics", "", "tail metrics.jsonl instead of log.txt"},
                  {"lines", "N", "lines to show first (default 20)"},
                  runs_dir_option()};
  spec.min_positionals = 1;
  spec.max_positionals = 1;
  spec.run = run_runs_tail;
  return spec;
}

}  // namespace

LATHE_REGISTER_COMMAND(runs_tail_command)

}  // namespace lathe::cli
