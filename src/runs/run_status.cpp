// status.json reading/writing and stale-process detection (see run_status.h).
#include "runs/run_status.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

constexpr const char* kStateNames[] = {"queued", "running", "paused", "stopping",
                                       "done",   "stopped", "failed", "interrupted"};

std::string local_hostname() {
  char host[256] = "";
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace

const char* run_state_name(RunState s) { return kStateNames[static_cast<int>(s)]; }

std::optional<RunState> parse_run_state(const std::string& name) {
  for (int i = 0; i < 8; ++i)
    if (name == kStateNames[i]) return static_cast<RunState>(i);
  return std::nullopt;
}

bool is_live_state(RunState s) {
  return s == RunState::Queued || s == RunState::Running || s == RunState::Paused ||
         s == RunState::Stopping;
}

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string run_status_to_json(const RunStatus& s) {
  nlohmann::json j = {
      {"format", s.format},
      {"run_id", s.run_id},
      {"name", s.name},
      {"state", run_state_name(s.state)},
      {"pid", s.pid},
      {"pid_start_ticks", s.pid_start_ticks},
      {"hostname", s.hostname},
      {"step", s.step},
      {"total_steps", s.total_steps},
      {"epoch", s.epoch},
      {"total_epochs", s.total_epochs},
      {"last_loss", s.last_loss},
      {"started_at", s.started_at},
      {"updated_at", s.updated_at},
      {"finished_at", s.finished_at},
      {"last_error", s.last_error},
      {"last_checkpoint", s.last_checkpoint},
      {"base_model", s.base_model},
      {"device", s.device},
      {"peak_gpu_mib", s.peak_gpu_mib},
      {"last_peak_gpu_mib", s.last_peak_gpu_mib},
  };
  return j.dump(2) + "\n";
}

RunStatus run_status_from_json(const std::string& text, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(fmt::format("{}: not valid JSON; the run's status file is damaged", source));
  RunStatus s;
  try {
    s.format = j.value("format", s.format);
    s.run_id = j.value("run_id", "");
    s.name = j.value("name", "");
    std::string state = j.value("state", "queued");
    auto parsed = parse_run_state(state);
    if (!parsed) throw Error(fmt::format("unknown state '{}'", state));
    s.state = *parsed;
    s.pid = j.value("pid", 0LL);
    s.pid_start_ticks = j.value("pid_start_ticks", 0ULL);
    s.hostname = j.value("hostname", "");
    s.step = j.value("step", std::int64_t{0});
    s.total_steps = j.value("total_steps", std::int64_t{0});
    s.epoch = j.value("epoch", 0);
    s.total_epochs = j.value("total_epochs", 0);
    s.last_loss = j.value("last_loss", 0.0);
    s.started_at = j.value("started_at", 0.0);
    s.updated_at = j.value("updated_at", 0.0);
    s.finished_at = j.value("finished_at", 0.0);
    s.last_error = j.value("last_error", "");
    s.last_checkpoint = j.value("last_checkpoint", "");
    s.base_model = j.value("base_model", "");
    s.device = j.value("device", "");
    s.peak_gpu_mib = j.value("peak_gpu_mib", 0.0);
    s.last_peak_gpu_mib = j.value("last_peak_gpu_mib", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: a field has the wrong type ({})", source, e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", source, e.what()));
  }
  return s;
}

void write_run_status(const std::filesystem::path& file, const RunStatus& s) {
  RunStatus copy = s;
  if (copy.hostname.empty()) copy.hostname = local_hostname();
  write_file_atomic(file, run_status_to_json(copy));
}

RunStatus read_run_status(const std::filesystem::path& file) {
  return run_status_from_json(read_file(file, 1 << 20), file.string());
}

unsigned long long process_start_ticks(long long pid) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::stoull(field);
  return 0;
}

bool run_process_alive(const RunStatus& s) {
  if (s.pid <= 0) return false;
  if (!s.hostname.empty() && s.hostname != local_hostname()) return true;  // can't tell: trust it
  if (::kill(static_cast<pid_t>(s.pid), 0) != 0 && errno == ESRCH) return false;
  unsigned long long ticks = process_start_ticks(s.pid);
  if (ticks == 0) return false;
  return s.pid_start_ticks == 0 || ticks == s.pid_start_ticks;
}

RunState effective_state(const RunStatus& s) {
  if (is_live_state(s.state) && s.state != RunState::Queued && !run_process_alive(s))
    return RunState::Interrupted;
  return s.state;
}

}  // namespace lathe
