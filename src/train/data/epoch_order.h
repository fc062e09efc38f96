// The order of one epoch: kohya's scheme (each image appears `repeats` times in its bucket;
// buckets are shuffled inside; the remainder policy trims, pads or keeps the last batch of each
// bucket; then the list of batches is shuffled), computed from (seed, epoch) alone. A run's
// data position is therefore just (epoch, batch index): resuming recomputes the same order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dataset/bucket_plan.h"

namespace lathe {

struct PlannedBatch {
  std::size_t bucket = 0;             // into BucketPlan::buckets
  std::vector<std::size_t> examples;  // into BucketPlan::images / TrainingSet::train
};

// Every batch of epoch `epoch` (0-based) in training order. The number of batches equals
// plan.total_batches. Pad fills a bucket's last batch with entries drawn from the same bucket;
// drop leaves out the last entries % batch_size after the shuffle.
std::vector<PlannedBatch> epoch_batches(const BucketPlan& plan, std::uint64_t seed,
                                        std::int64_t epoch);

}  // namespace lathe
