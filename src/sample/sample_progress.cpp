// The sample progress line (see sample_progress.h).
#include "sample/sample_progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace lathe {

std::string format_sample_progress(const SampleProgress& p, double elapsed_s, int bar_width) {
  const double fraction = p.total_steps > 0 ? std::clamp(double(p.done_steps) / double(p.total_steps), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(std::floor(fraction * bar_width));
  std::string bar = std::string(filled, '#') + std::string(bar_width - filled, '.');
  std::string rate = "- it/s", eta = "-";
  if (p.done_steps > 0 && elapsed_s > 0) {
    const double per_s = double(p.done_steps) / elapsed_s;
    rate = per_s >= 1 ? fmt::format("{:.2f} it/s", per_s) : fmt::format("{:.2f} s/it", 1 / per_s);
    const long long s = std::llround(double(std::max<int64_t>(0, p.total_steps - p.done_steps)) / per_s);
    eta = s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
                    : fmt::format("{}:{:02}", s / 60, s % 60);
  }
  return fmt::format("image {}/{}  step {}/{}  [{}]  {}  ETA {}", std::min(p.image + 1, p.images), p.images, p.step,
                     p.steps, bar, rate, eta);
}

}  // namespace lathe
