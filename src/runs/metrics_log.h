// metrics.jsonl: one JSON object per line, appended as the run goes: "step" records (loss,
// smoothed loss, lr, it/s), "epoch" records (epoch loss, saved file), "validation" records
// (overall and per-concept loss) and "sample" records (one per sample image: its file, prompt,
// seed and the seconds it took, which are not training time). A line torn by a crash is skipped by the reader. On resume the
// log is cut back to the checkpoint's step so a resumed run's log equals an uninterrupted one's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lathe {

struct StepMetric {
  std::int64_t step = 0;
  int epoch = 0;
  double loss = 0;
  double loss_smoothed = 0;
  double lr = 0;
  double it_per_s = 0;
  double time = 0;  // unix seconds
  std::optional<double> peak_gpu_mib;  // CUDA: peak allocated memory during the step
  std::optional<double> loss_scale;    // fp16: the dynamic loss scale after the step
  bool skipped = false;                // fp16: the step overflowed and made no update
};

struct EpochMetric {
  int epoch = 0;
  std::int64_t step = 0;
  double loss = 0;   // mean training loss over the epoch
  std::string file;  // epoch file saved at its end, relative to the run dir ("" if none)
  double time = 0;
};

struct ValidationMetric {
  int epoch = 0;
  std::int64_t step = 0;
  double loss = 0;
  std::map<std::string, double> per_concept;
  double time = 0;
};

struct SampleMetric {
  std::int64_t step = 0;
  int epoch = 0;          // finished epochs when it was rendered
  int prompt_index = 0;
  std::uint64_t seed = 0;
  std::string prompt;
  std::string file;       // relative to the run dir: samples/<name>.png
  double seconds = 0;     // rendering time (not counted as training time)
  double time = 0;
};

struct RunMetrics {
  std::vector<StepMetric> steps;
  std::vector<EpochMetric> epochs;
  std::vector<ValidationMetric> validations;
  std::vector<SampleMetric> samples;
};

class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path file) : file_(std::move(file)) {}
  void append(const StepMetric& m) const;
  void append(const EpochMetric& m) const;
  void append(const ValidationMetric& m) const;
  void append(const SampleMetric& m) const;
  const std::filesystem::path& path() const { return file_; }

 private:
  void append_line(const std::string& line) const;
  std::filesystem::path file_;
};

// Reads every complete line; unknown record types and torn lines are skipped.
RunMetrics read_metrics(const std::filesystem::path& file);

// Drops records after `step` (atomic rewrite), for resuming from a checkpoint at `step`.
void truncate_metrics_after(const std::filesystem::path& file, std::int64_t step);

}  // namespace lathe
