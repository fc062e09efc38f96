// Picking the best epoch of a run: rank its saved epochs by validation loss when the run has
// it, otherwise by the training loss smoothed around each save (raw training loss is dominated
// by the random timestep, so a single step's loss says little). Marks local minima and says
// whether the curve is still falling (train longer) or rising (overfitting: pick earlier).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runs/metrics_log.h"

namespace lathe {

enum class LossTrend { Unknown, Falling, Flat, Rising };
const char* loss_trend_name(LossTrend t);

struct EpochScore {
  int epoch = 0;
  std::int64_t step = 0;
  std::string file;  // relative to the run dir; empty when that epoch was not saved
  double score = 0;  // the loss the ranking uses (lower is better)
  int samples = 0;   // how many loss values the score averages
  bool local_minimum = false;
  int rank = 0;      // 1 = best
};

struct BestEpochReport {
  std::string basis;                // "validation loss" or "smoothed training loss"
  std::vector<EpochScore> by_epoch; // in epoch order
  std::vector<EpochScore> ranked;   // best first
  LossTrend trend = LossTrend::Unknown;
  std::string advice;               // one or two sentences for the user
};

// `steps_per_epoch` sets the smoothing window (0: inferred from the epoch records).
BestEpochReport rank_epochs(const RunMetrics& metrics, std::int64_t steps_per_epoch = 0);

}  // namespace lathe
