// kohya's epoch order (train_util.BaseDataset.shuffle_buckets): every bucket holds each of its
// images `repeats` times in dataset order, is shuffled, and is cut into batches; then the list
// of all batches is shuffled, so consecutive steps come from different buckets. The streams
// are seeded by (seed, epoch, bucket) and (seed, epoch) under a tag of their own, apart from
// the per-sample streams the trainer seeds with (seed, epoch, batch, slot).
#include "train/data/epoch_order.h"

#include <cassert>

#include "common/seeded_rng.h"

namespace lathe {
namespace {

constexpr std::uint64_t kBucketShuffleTag = 0x6275636b65747300ull;  // "buckets"
constexpr std::uint64_t kBatchShuffleTag = 0x6261746368657300ull;   // "batches"

// The bucket's entries: each image index `repeats` times, dataset order, then shuffled.
std::vector<std::size_t> shuffled_entries(const BucketPlan& plan, const BucketSummary& bucket,
                                          SeededRng& rng) {
  std::vector<std::size_t> entries;
  entries.reserve(static_cast<std::size_t>(bucket.entries));
  for (std::size_t image : bucket.image_indices)
    entries.insert(entries.end(), static_cast<std::size_t>(plan.images[image].repeats), image);
  rng.shuffle(entries.begin(), entries.end());
  return entries;
}

// Cuts one bucket into batches under the plan's remainder policy.
void cut_batches(const BucketPlan& plan, std::size_t bucket_index,
                 const std::vector<std::size_t>& entries, std::vector<PlannedBatch>& out) {
  const std::size_t batch = static_cast<std::size_t>(plan.batch_size);
  const std::size_t n = entries.size();
  const std::size_t full = n / batch;
  auto slice = [&](std::size_t from, std::size_t to) {
    return PlannedBatch{bucket_index,
                        std::vector<std::size_t>(entries.begin() + from, entries.begin() + to)};
  };
  for (std::size_t b = 0; b < full; ++b) out.push_back(slice(b * batch, (b + 1) * batch));
  if (n == full * batch || plan.policy == RemainderPolicy::Drop) return;
  PlannedBatch last = slice(full * batch, n);
  if (plan.policy == RemainderPolicy::Pad) {
    // The entries are already shuffled, so the first ones are a random pick; they are not in
    // this batch unless the whole bucket is smaller than one batch, where it cycles.
    for (std::size_t k = 0; last.examples.size() < batch; ++k)
      last.examples.push_back(entries[k % n]);
  }
  out.push_back(std::move(last));
}

}  // namespace

std::vector<PlannedBatch> epoch_batches(const BucketPlan& plan, std::uint64_t seed,
                                        std::int64_t epoch) {
  const auto e = static_cast<std::uint64_t>(epoch);
  std::vector<PlannedBatch> batches;
  batches.reserve(static_cast<std::size_t>(plan.total_batches));
  for (std::size_t b = 0; b < plan.buckets.size(); ++b) {
    SeededRng rng(mix_seed(seed, {kBucketShuffleTag, e, b}));
    cut_batches(plan, b, shuffled_entries(plan, plan.buckets[b], rng), batches);
  }
  SeededRng rng(mix_seed(seed, {kBatchShuffleTag, e}));
  rng.shuffle(batches.begin(), batches.end());
  assert(static_cast<long long>(batches.size()) == plan.total_batches);
  return batches;
}

}  // namespace lathe
