// status.json of a run: its state, progress, process and times. The trainer rewrites it
// atomically as it goes; watchers read it. A run whose status says running but whose process
// is gone (reboot, kill -9) is reported as interrupted, never as running forever.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace lathe {

enum class RunState { Queued, Running, Paused, Stopping, Done, Stopped, Failed, Interrupted };

const char* run_state_name(RunState s);  // "queued", "running", ...
std::optional<RunState> parse_run_state(const std::string& name);
bool is_live_state(RunState s);  // queued, running, paused, stopping: a process should own it

struct RunStatus {
  std::string format = "lathe-run-status/1";
  std::string run_id;
  std::string name;
  RunState state = RunState::Queued;
  long long pid = 0;
  unsigned long long pid_start_ticks = 0;  // /proc/<pid>/stat start time, against pid reuse
  std::string hostname;
  std::int64_t step = 0;
  std::int64_t total_steps = 0;
  int epoch = 0;
  int total_epochs = 0;
  double last_loss = 0;
  double started_at = 0;   // unix seconds
  double updated_at = 0;
  double finished_at = 0;  // 0 while not finished
  std::string last_error;
  std::string last_checkpoint;  // folder name under checkpoints/
  std::string base_model;       // what the run trains on (path or "tiny-random:<arch>")
  std::string device;           // what it trains on: "cpu", "cuda:0"
  double peak_gpu_mib = 0;      // highest per-step GPU memory peak so far (0: CPU or none yet)
  double last_peak_gpu_mib = 0; // the last step's
  // Samples ([sample]): seconds spent rendering them, which are not training time (a run's
  // training time is its wall time less this), and the newest image (relative to the run dir).
  double sampling_seconds = 0;
  std::string last_sample;
};

std::string run_status_to_json(const RunStatus& s);
RunStatus run_status_from_json(const std::string& json, const std::string& source);

void write_run_status(const std::filesystem::path& file, const RunStatus& s);  // atomic
RunStatus read_run_status(const std::filesystem::path& file);  // throws lathe::Error

// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat); 0 if gone.
unsigned long long process_start_ticks(long long pid);

// True when the process recorded in `s` is alive on this machine and is the same process
// (same start time), so a recycled pid does not keep a dead run "running".
bool run_process_alive(const RunStatus& s);

// The state to show: a live state whose process is gone becomes Interrupted.
RunState effective_state(const RunStatus& s);

double unix_now();

}  // namespace lathe
