// Foreground progress line (see progress_line.h).
#include "runs/progress_line.h"

#include <fmt/format.h>

#include <cmath>

namespace lathe {

std::string format_progress_line(const ProgressView& v) {
  std::string eta = "-";
  if (v.it_per_s > 0 && v.total_steps >= v.step) {
    long long s = std::llround(static_cast<double>(v.total_steps - v.step) / v.it_per_s);
    eta = s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
                    : fmt::format("{}:{:02}", s / 60, s % 60);
  }
  return fmt::format("step {}/{}  epoch {}/{}  loss {:.4f} (smoothed {:.4f})  {:.2f} it/s  ETA {}",
                     v.step, v.total_steps, v.epoch, v.total_epochs, v.loss, v.loss_smoothed,
                     v.it_per_s, eta);
}

}  // namespace lathe
