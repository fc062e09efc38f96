// Best-epoch ranking (see best_epoch.h).
#include "runs/best_epoch.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace lathe {
namespace {

std::int64_t infer_steps_per_epoch(const RunMetrics& m) {
  if (m.epochs.size() >= 2) {
    auto span = m.epochs.back().step - m.epochs.front().step;
    return std::max<std::int64_t>(1, span / static_cast<std::int64_t>(m.epochs.size() - 1));
  }
  if (m.epochs.size() == 1) return std::max<std::int64_t>(1, m.epochs[0].step);
  return std::max<std::int64_t>(1, m.steps.empty() ? 1 : m.steps.back().step);
}

// Mean raw training loss of the steps within half an epoch either side of `step`: the weights
// saved at `step` are between those the steps before and after it saw.
std::pair<double, int> smoothed_loss_at(const std::vector<StepMetric>& steps, std::int64_t step,
                                        std::int64_t half_window) {
  double sum = 0;
  int n = 0;
  for (const auto& s : steps) {
    if (s.step > step - half_window && s.step <= step + half_window && std::isfinite(s.loss)) {
      sum += s.loss;
      ++n;
    }
  }
  return {n ? sum / n : NAN, n};
}

// Validations score the epoch whose end they share a step with; those elsewhere (before the
// first step, every N steps) do not describe a saved epoch's weights. Without epoch records
// yet, the last validation of each epoch after step 0 stands in.
std::vector<EpochScore> scores_from_validation(const RunMetrics& m) {
  std::map<std::int64_t, int> epoch_ending_at;
  for (const auto& e : m.epochs) epoch_ending_at[e.step] = e.epoch;
  std::map<int, EpochScore> by_epoch;
  for (const auto& v : m.validations) {
    if (v.step == 0) continue;
    auto end = epoch_ending_at.find(v.step);
    if (!epoch_ending_at.empty() && end == epoch_ending_at.end()) continue;
    EpochScore s;
    s.epoch = end == epoch_ending_at.end() ? v.epoch : end->second;
    s.step = v.step;
    s.score = v.loss;
    s.samples = 1;
    by_epoch[v.epoch] = s;
  }
  for (const auto& e : m.epochs)
    if (by_epoch.count(e.epoch)) by_epoch[e.epoch].file = e.file;
  std::vector<EpochScore> out;
  for (auto& [epoch, s] : by_epoch) out.push_back(s);
  return out;
}

std::vector<EpochScore> scores_from_training(const RunMetrics& m, std::int64_t steps_per_epoch) {
  std::vector<EpochScore> out;
  for (const auto& e : m.epochs) {
    auto [loss, n] = smoothed_loss_at(m.steps, e.step, std::max<std::int64_t>(1, steps_per_epoch / 2));
    if (n == 0) loss = e.loss, n = 1;
    out.push_back({e.epoch, e.step, e.file, loss, n, false, 0});
  }
  return out;
}

void mark_local_minima(std::vector<EpochScore>& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool below_prev = i == 0 || s[i].score < s[i - 1].score;
    bool below_next = i + 1 == s.size() || s[i].score <= s[i + 1].score;
    s[i].local_minimum = s.size() > 1 && below_prev && below_next;
  }
}

// Least-squares slope of the last few scores per epoch, relative to their mean.
LossTrend trend_of(const std::vector<EpochScore>& s) {
  if (s.size() < 3) return LossTrend::Unknown;
  std::size_t n = std::min<std::size_t>(4, s.size());
  double mx = 0, my = 0;
  for (std::size_t i = s.size() - n; i < s.size(); ++i) mx += s[i].epoch, my += s[i].score;
  mx /= n;
  my /= n;
  double num = 0, den = 0;
  for (std::size_t i = s.size() - n; i < s.size(); ++i) {
    num += (s[i].epoch - mx) * (s[i].score - my);
    den += (s[i].epoch - mx) * (s[i].epoch - mx);
  }
  if (den == 0 || my == 0) return LossTrend::Unknown;
  double relative = (num / den) / std::fabs(my);
  if (relative < -0.01) return LossTrend::Falling;
  if (relative > 0.01) return LossTrend::Rising;
  return LossTrend::Flat;
}

std::string advice_for(LossTrend trend, const std::vector<EpochScore>& ranked,
                       const std::vector<EpochScore>& by_epoch) {
  if (ranked.empty()) return "no epoch has been saved yet";
  const EpochScore& best = ranked.front();
  const int last = by_epoch.back().epoch;
  switch (trend) {
    case LossTrend::Falling:
      return best.epoch == last
                 ? "the loss is still falling at the last epoch: more epochs may help"
                 : fmt::format("the loss is falling again after epoch {}; more epochs may help",
                               best.epoch);
    case LossTrend::Rising:
      return fmt::format("the loss is rising over the last epochs (overfitting): pick epoch {} "
                         "or earlier rather than the last",
                         best.epoch);
    case LossTrend::Flat:
      return fmt::format("the loss has flattened: epoch {} is the best; later epochs add little",
                         best.epoch);
    case LossTrend::Unknown:
      break;
  }
  return fmt::format("too few epochs to see a trend; epoch {} is the best so far", best.epoch);
}

}  // namespace

const char* loss_trend_name(LossTrend t) {
  switch (t) {
    case LossTrend::Falling: return "falling";
    case LossTrend::Flat: return "flat";
    case LossTrend::Rising: return "rising";
    case LossTrend::Unknown: break;
  }
  return "unknown";
}

BestEpochReport rank_epochs(const RunMetrics& metrics, std::int64_t steps_per_epoch) {
  BestEpochReport r;
  if (steps_per_epoch <= 0) steps_per_epoch = infer_steps_per_epoch(metrics);
  r.by_epoch = scores_from_validation(metrics);
  if (!r.by_epoch.empty()) {
    r.basis = "validation loss";
  } else {
    r.basis = "smoothed training loss";
    r.by_epoch = scores_from_training(metrics, steps_per_epoch);
  }
  r.by_epoch.erase(std::remove_if(r.by_epoch.begin(), r.by_epoch.end(),
                                  [](const EpochScore& s) { return !std::isfinite(s.score); }),
                   r.by_epoch.end());
  mark_local_minima(r.by_epoch);
  r.ranked = r.by_epoch;
  std::stable_sort(r.ranked.begin(), r.ranked.end(),
                   [](const EpochScore& a, const EpochScore& b) { return a.score < b.score; });
  for (std::size_t i = 0; i < r.ranked.size(); ++i) {
    r.ranked[i].rank = static_cast<int>(i) + 1;
    for (auto& e : r.by_epoch)
      if (e.epoch == r.ranked[i].epoch) e.rank = r.ranked[i].rank;
  }
  r.trend = trend_of(r.by_epoch);
  r.advice = advice_for(r.trend, r.ranked, r.by_epoch);
  return r;
}

}  // namespace lathe
