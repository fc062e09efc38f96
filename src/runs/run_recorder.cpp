// Progress snapshots to metrics.jsonl, TensorBoard, status.json and log.txt (see run_recorder.h).
#include "runs/run_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "io/atomic_file.h"
#include "runs/sample_files.h"

namespace lathe {
namespace {

constexpr std::size_t kMaxWindow = 100;

double mean(const std::deque<double>& v, std::size_t last_n) {
  std::size_t n = std::min(last_n, v.size());
  if (n == 0) return 0;
  double sum = 0;
  for (std::size_t i = v.size() - n; i < v.size(); ++i)
    sum += v[i];  // fixed order: exact on resume
  return sum / static_cast<double>(n);
}

void push_bounded(std::deque<double>& d, double v) {
  d.push_back(v);
  if (d.size() > kMaxWindow) d.pop_front();
}

bool is_checkpoint(const std::filesystem::path& p) {
  auto first = p.begin();
  return first != p.end() && *first == "checkpoints";
}

}  // namespace

std::size_t smoothing_window(std::int64_t batches_per_epoch) {
  return static_cast<std::size_t>(std::clamp<std::int64_t>(batches_per_epoch, 10, 100));
}

RunRecorder::RunRecorder(RunPaths run, RunStatus& status, const RunLog& log, std::int64_t log_every)
    : run_(std::move(run)),
      status_(status),
      log_(log),
      log_every_(log_every),
      metrics_(run_.metrics()) {}

void RunRecorder::restart_at(std::int64_t step) {
  truncate_metrics_after(run_.metrics(), step);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(run_.dir, ec))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      truncate_events_after(entry.path(), step);
  for (const SampleFile& sample : list_samples(run_.dir))
    if (sample.step > step) std::filesystem::remove(sample.path, ec);
  losses_.clear();
  seconds_.clear();
  for (const StepMetric& s : read_metrics(run_.metrics()).steps) {
    push_bounded(losses_, s.loss);
    push_bounded(seconds_, s.it_per_s > 0 ? 1.0 / s.it_per_s : 0.0);
  }
  status_.step = step;
}

void RunRecorder::scalar(const std::string& tag, double value, std::int64_t step, double now) {
  if (!events_) events_ = std::make_unique<TensorBoardWriter>(run_.dir);
  events_->add_scalar(tag, static_cast<float>(value), step, now);
}

void RunRecorder::track_totals(const TrainProgress& p) {
  status_.step = p.step;
  if (p.total_steps > 0) status_.total_steps = p.total_steps;
  if (p.epoch > 0) status_.epoch = static_cast<int>(p.epoch);
  if (p.total_epochs > 0) status_.total_epochs = static_cast<int>(p.total_epochs);
  view_.step = p.step;
  view_.total_steps = status_.total_steps;
  view_.epoch = status_.epoch;
  view_.total_epochs = status_.total_epochs;
}

void RunRecorder::on_progress(const TrainProgress& p) {
  switch (p.kind) {
    case TrainProgress::Kind::Started:
      track_totals(p);
      status_.device = p.device;
      log_.line(fmt::format("training: {} steps, {} epochs of {} batches", p.total_steps,
                            p.total_epochs, p.batches_per_epoch));
      write_status();
      break;
    case TrainProgress::Kind::Step:
      on_step(p);
      break;
    case TrainProgress::Kind::EpochEnd:
      on_epoch_end(p);
      break;
    case TrainProgress::Kind::Validation:
      on_validation(p);
      break;
    case TrainProgress::Kind::Saved:
      on_saved(p);
      break;
    case TrainProgress::Kind::Message:
      log_.line(p.message);
      break;
    case TrainProgress::Kind::Sample:
      on_sample(p);
      break;
  }
}

void RunRecorder::on_step(const TrainProgress& p) {
  track_totals(p);
  const double now = unix_now();
  push_bounded(losses_, p.loss);
  push_bounded(seconds_, p.seconds);
  const std::size_t window = smoothing_window(p.batches_per_epoch);
  StepMetric m;
  m.step = p.step;
  m.epoch = static_cast<int>(p.epoch);
  m.loss = p.loss;
  m.loss_smoothed = mean(losses_, window);
  m.lr = p.lr;
  double sec = mean(seconds_, window);
  m.it_per_s = sec > 0 ? 1.0 / sec : 0.0;
  m.time = now;
  if (p.peak_memory_bytes) m.peak_gpu_mib = static_cast<double>(*p.peak_memory_bytes) / (1 << 20);
  m.loss_scale = p.loss_scale;
  m.skipped = p.skipped;
  metrics_.append(m);
  scalar("loss/train", m.loss, m.step, now);
  scalar("loss/train_smoothed", m.loss_smoothed, m.step, now);
  scalar("lr/unet", m.lr, m.step, now);
  scalar("speed/it_per_s", m.it_per_s, m.step, now);
  status_.last_loss = p.loss;
  if (m.peak_gpu_mib) {
    status_.last_peak_gpu_mib = *m.peak_gpu_mib;
    status_.peak_gpu_mib = std::max(status_.peak_gpu_mib, *m.peak_gpu_mib);
    scalar("memory/peak_gpu_mib", *m.peak_gpu_mib, m.step, now);
  }
  if (m.loss_scale) scalar("loss_scale", *m.loss_scale, m.step, now);
  view_.loss = m.loss;
  view_.loss_smoothed = m.loss_smoothed;
  view_.it_per_s = m.it_per_s;
  if (log_every_ > 0 && (p.step % log_every_ == 0 || p.step == status_.total_steps))
    log_.line(
        fmt::format("step {}/{} epoch {}/{} loss {:.5f} smoothed {:.5f} lr {:.3g} {:.2f} it/s",
                    p.step, status_.total_steps, p.epoch, status_.total_epochs, m.loss,
                    m.loss_smoothed, m.lr, m.it_per_s));
  if (now - last_status_write_ >= 1.0) write_status();
}

void RunRecorder::on_epoch_end(const TrainProgress& p) {
  track_totals(p);
  const double now = unix_now();
  EpochMetric m;
  m.epoch = static_cast<int>(p.epoch);
  m.step = p.step;
  m.loss = p.epoch_loss.value_or(NAN);
  m.file = p.saved_file.generic_string();
  m.time = now;
  metrics_.append(m);
  if (p.epoch_loss) scalar("loss/epoch", *p.epoch_loss, p.step, now);
  log_.line(fmt::format("epoch {}/{} done at step {}: mean loss {:.5f}{}", p.epoch,
                        status_.total_epochs, p.step, m.loss,
                        m.file.empty() ? "" : ", saved " + m.file));
  write_status();
}

void RunRecorder::on_validation(const TrainProgress& p) {
  const double now = unix_now();
  ValidationMetric m;
  m.epoch = static_cast<int>(p.epoch);
  m.step = p.step;
  m.loss = p.validation_loss.value_or(NAN);
  m.per_concept = p.validation_per_concept;
  m.time = now;
  metrics_.append(m);
  if (p.validation_loss) scalar("loss/validation", *p.validation_loss, p.step, now);
  std::string concepts;
  for (const auto& [name, loss] : p.validation_per_concept) {
    scalar("loss/validation/" + name, loss, p.step, now);
    concepts += fmt::format(", {} {:.5f}", name, loss);
  }
  log_.line(fmt::format("validation at step {} (epoch {}): loss {:.5f}{}", p.step, p.epoch, m.loss,
                        concepts));
}

void RunRecorder::on_saved(const TrainProgress& p) {
  if (is_checkpoint(p.saved_file)) {
    auto it = p.saved_file.begin();
    ++it;
    if (it != p.saved_file.end()) status_.last_checkpoint = it->string();
  }
  log_.line(fmt::format("saved {} (step {})", p.saved_file.generic_string(), p.step));
  write_status();
}

void RunRecorder::on_sample(const TrainProgress& p) {
  if (!p.sample) return;
  const SampleImage& image = *p.sample;
  const double now = unix_now();
  const std::filesystem::path relative =
      std::filesystem::path("samples") /
      format_sample_name(p.step, static_cast<int>(image.epochs_done), image.prompt_index, image.seed);
  std::filesystem::create_directories(run_.samples());
  write_file_atomic(run_.dir / relative, image.png);
  SampleMetric m;
  m.step = p.step;
  m.epoch = static_cast<int>(image.epochs_done);
  m.prompt_index = image.prompt_index;
  m.seed = image.seed;
  m.prompt = image.prompt;
  m.file = relative.generic_string();
  m.seconds = p.seconds;
  m.time = now;
  metrics_.append(m);
  if (!events_) events_ = std::make_unique<TensorBoardWriter>(run_.dir);
  events_->add_image(fmt::format("samples/prompt{:02}", image.prompt_index), image.png,
                     static_cast<int>(image.width), static_cast<int>(image.height), p.step, now);
  status_.sampling_seconds += p.seconds;
  status_.last_sample = m.file;
  log_.line(fmt::format("sample {} ({}x{}, seed {}) in {:.1f} s", m.file, image.width, image.height, image.seed,
                        p.seconds));
  write_status();
}

void RunRecorder::set_state(RunState state) {
  status_.state = state;
  write_status();
}

void RunRecorder::write_status() {
  status_.updated_at = unix_now();
  write_run_status(run_.status(), status_);
  last_status_write_ = status_.updated_at;
}

}  // namespace lathe
