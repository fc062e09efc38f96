// status.json reading/writing and stale-process detection (see run_status.h).
#include "runs/run_status.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/display_width.h"
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
      {"sampling_seconds", s.sampling_seconds},
      {"last_sample", s.last_sample},
  };
  return j.dump(2) + "\n";
}

namespace {

// What a JSON value is, in a user's words, for "expected X, found Y".
std::string json_kind(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return fmt::format("the boolean {}", v.dump());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return fmt::format("the whole number {}", v.dump());
    case nlohmann::json::value_t::number_float: return fmt::format("the number {}", v.dump());
    case nlohmann::json::value_t::string: {
      return fmt::format("a string \"{}\"", truncate_to_width(v.get<std::string>(), 40, "..."));
    }
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "something else";
  }
}

// Reads the fields of one status.json, each checked for its type and range, so a damaged or
// hand-edited file gets a message naming the field instead of a wrapped or wrong value.
class StatusFields {
 public:
  StatusFields(const nlohmann::json& j, const std::string& source) : j_(j), source_(source) {}

  std::string text(const char* key, const std::string& fallback) const {
    const nlohmann::json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) throw wrong(key, "a string", *v);
    return v->get<std::string>();
  }

  // nlohmann writes NaN and infinities as null: read back as NaN (a diverged run's last loss).
  double number(const char* key) const {
    const nlohmann::json* v = find(key);
    if (!v) return 0;
    if (v->is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!v->is_number()) throw wrong(key, "a number", *v);
    return v->get<double>();
  }

  // A whole number from 0 to `max`. Values past 2^63 arrive as unsigned and are compared as
  // such, so they are refused instead of wrapping round to negative numbers.
  template <typename T>
  T whole(const char* key, T max) const {
    const nlohmann::json* v = find(key);
    if (!v) return T{0};
    const auto limit = static_cast<std::uint64_t>(max);
    if (v->is_number_unsigned() && v->get<std::uint64_t>() <= limit)
      return static_cast<T>(v->get<std::uint64_t>());
    if (v->is_number_integer() && v->get<std::int64_t>() >= 0 &&
        static_cast<std::uint64_t>(v->get<std::int64_t>()) <= limit)
      return static_cast<T>(v->get<std::int64_t>());
    throw wrong(key, fmt::format("a whole number from 0 to {}", max), *v);
  }

 private:
  const nlohmann::json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

  Error wrong(const char* key, const std::string& expected, const nlohmann::json& found) const {
    return Error(fmt::format("{}: field \"{}\" should be {}, found {}; the run's status file is "
                             "damaged or was edited by hand",
                             source_, key, expected, json_kind(found)));
  }

  const nlohmann::json& j_;
  const std::string& source_;
};

}  // namespace

RunStatus run_status_from_json(const std::string& text, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(fmt::format("{}: not valid JSON; the run's status file is damaged", source));
  constexpr auto kMaxI64 = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMaxInt = std::numeric_limits<int>::max();
  const StatusFields f(j, source);
  RunStatus s;
  s.format = f.text("format", s.format);
  s.run_id = f.text("run_id", "");
  s.name = f.text("name", "");
  const std::string state = f.text("state", "queued");
  auto parsed = parse_run_state(state);
  if (!parsed)
    throw Error(fmt::format("{}: field \"state\" is \"{}\", not one of queued, running, paused, "
                            "stopping, done, stopped, failed, interrupted",
                            source, state));
  s.state = *parsed;
  s.pid = f.whole<long long>("pid", std::numeric_limits<int>::max());
  s.pid_start_ticks = f.whole<unsigned long long>("pid_start_ticks", kMaxI64);
  s.hostname = f.text("hostname", "");
  s.step = f.whole<std::int64_t>("step", kMaxI64);
  s.total_steps = f.whole<std::int64_t>("total_steps", kMaxI64);
  s.epoch = f.whole<int>("epoch", kMaxInt);
  s.total_epochs = f.whole<int>("total_epochs", kMaxInt);
  s.last_loss = f.number("last_loss");
  s.started_at = f.number("started_at");
  s.updated_at = f.number("updated_at");
  s.finished_at = f.number("finished_at");
  s.last_error = f.text("last_error", "");
  s.last_checkpoint = f.text("last_checkpoint", "");
  s.base_model = f.text("base_model", "");
  s.device = f.text("device", "");
  s.peak_gpu_mib = f.number("peak_gpu_mib");
  s.last_peak_gpu_mib = f.number("last_peak_gpu_mib");
  s.sampling_seconds = f.number("sampling_seconds");
  s.last_sample = f.text("last_sample", "");
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
