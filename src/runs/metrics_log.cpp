// metrics.jsonl append, read and truncate (see metrics_log.h for the schema).
#include "runs/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/atomic_file.h"

namespace lathe {

using nlohmann::json;

void MetricsLog::append_line(const std::string& line) const {
  // O_APPEND + one write per record: readers never see half of a record from a live writer.
  int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error(fmt::format("cannot append to {}: {}", file_.string(), std::strerror(errno)));
  std::string data = line + "\n";
  ssize_t n = ::write(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size()))
    throw Error(fmt::format("cannot append to {}: {}", file_.string(),
                            n < 0 ? std::strerror(err) : "short write (disk full?)"));
}

void MetricsLog::append(const StepMetric& m) const {
  json j{{"type", "step"}, {"step", m.step}, {"epoch", m.epoch}, {"loss", m.loss},
         {"loss_smoothed", m.loss_smoothed}, {"lr", m.lr}, {"it_per_s", m.it_per_s},
         {"time", m.time}};
  if (m.peak_gpu_mib) j["peak_gpu_mib"] = *m.peak_gpu_mib;
  if (m.loss_scale) j["loss_scale"] = *m.loss_scale;
  if (m.skipped) j["skipped"] = true;
  append_line(j.dump());
}

void MetricsLog::append(const EpochMetric& m) const {
  append_line(json{{"type", "epoch"}, {"epoch", m.epoch}, {"step", m.step}, {"loss", m.loss},
                   {"file", m.file}, {"time", m.time}}
                  .dump());
}

void MetricsLog::append(const ValidationMetric& m) const {
  append_line(json{{"type", "validation"}, {"epoch", m.epoch}, {"step", m.step}, {"loss", m.loss},
                   {"per_concept", m.per_concept}, {"time", m.time}}
                  .dump());
}

void MetricsLog::append(const SampleMetric& m) const {
  append_line(json{{"type", "sample"}, {"step", m.step}, {"epoch", m.epoch}, {"prompt_index", m.prompt_index},
                   {"seed", m.seed}, {"prompt", m.prompt}, {"file", m.file}, {"seconds", m.seconds},
                   {"time", m.time}}
                  .dump(-1, ' ', false, json::error_handler_t::replace));
}

namespace {

void add_record(const json& j, RunMetrics& out) {
  const std::string type = j.value("type", "");
  if (type == "step") {
    StepMetric m{j.value("step", std::int64_t{0}), j.value("epoch", 0),
                 j.value("loss", 0.0), j.value("loss_smoothed", 0.0), j.value("lr", 0.0),
                 j.value("it_per_s", 0.0), j.value("time", 0.0)};
    if (j.contains("peak_gpu_mib") && j["peak_gpu_mib"].is_number()) m.peak_gpu_mib = j["peak_gpu_mib"].get<double>();
    if (j.contains("loss_scale") && j["loss_scale"].is_number()) m.loss_scale = j["loss_scale"].get<double>();
    m.skipped = j.value("skipped", false);
    out.steps.push_back(m);
  } else if (type == "epoch") {
    out.epochs.push_back({j.value("epoch", 0), j.value("step", std::int64_t{0}),
                          j.value("loss", 0.0), j.value("file", ""), j.value("time", 0.0)});
  } else if (type == "validation") {
    ValidationMetric v{j.value("epoch", 0), j.value("step", std::int64_t{0}),
                       j.value("loss", 0.0), {}, j.value("time", 0.0)};
    if (j.contains("per_concept") && j["per_concept"].is_object())
      for (auto& [k, val] : j["per_concept"].items())
        if (val.is_number()) v.per_concept[k] = val.get<double>();
    out.validations.push_back(v);
  } else if (type == "sample") {
    out.samples.push_back({j.value("step", std::int64_t{0}), j.value("epoch", 0), j.value("prompt_index", 0),
                           j.value("seed", std::uint64_t{0}), j.value("prompt", ""), j.value("file", ""),
                           j.value("seconds", 0.0), j.value("time", 0.0)});
  }
}

}  // namespace

RunMetrics read_metrics(const std::filesystem::path& file) {
  RunMetrics out;
  if (!std::filesystem::exists(file)) return out;
  std::istringstream in(read_file(file));
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;  // a torn last line
    try {
      add_record(j, out);
    } catch (const json::exception&) {
      // A record with a mistyped field is skipped like a torn one; the rest stays readable.
    }
  }
  return out;
}

void truncate_metrics_after(const std::filesystem::path& file, std::int64_t step) {
  if (!std::filesystem::exists(file)) return;
  std::istringstream in(read_file(file));
  std::string kept, line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.value("step", std::int64_t{0}) > step) continue;
    kept += line + "\n";
  }
  write_file_atomic(file, kept);
}

}  // namespace lathe
