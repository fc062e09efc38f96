// Epoch order: as many batches as the bucket plan counts under each remainder policy, every
// batch from one bucket, partial trains every entry exactly once, drop and pad leave out or add
// exactly the plan's numbers, and the order is a function of (seed, epoch) alone.
#include <gtest/gtest.h>

#include <map>

#include "data_fixtures.h"
#include "train/data/epoch_order.h"

namespace lathe {
namespace {

using test::sized_item;

// Three buckets at 512: square (5 images), landscape (3), portrait (1); repeats 3 and 2;
// plus a regularization concept.
Dataset mixed_dataset(bool with_regularization) {
  Dataset ds;
  Concept a;
  a.folder_name = "3_a";
  a.repeats = 3;
  for (int i = 0; i < 5; ++i) a.items.push_back(sized_item("a" + std::to_string(i), 512, 512));
  for (int i = 0; i < 3; ++i) a.items.push_back(sized_item("w" + std::to_string(i), 768, 512));
  Concept b;
  b.folder_name = "2_b";
  b.repeats = 2;
  b.items.push_back(sized_item("p0", 512, 768));
  b.items.push_back(sized_item("b1", 512, 512));
  ds.concepts = {a, b};
  if (with_regularization) {
    Concept r;
    r.folder_name = "1_reg";
    r.is_regularization = true;
    for (int i = 0; i < 4; ++i) r.items.push_back(sized_item("r" + std::to_string(i), 512, 512));
    ds.concepts.push_back(r);
  }
  return ds;
}

BucketPlan plan_for(RemainderPolicy policy, int batch, bool reg = false) {
  BucketSettings s;  // 512 x 512, kohya's defaults
  return plan_buckets(mixed_dataset(reg), s, batch, policy);
}

// How many times each image appears in an epoch.
std::map<std::size_t, long long> counts_of(const std::vector<PlannedBatch>& batches) {
  std::map<std::size_t, long long> counts;
  for (const auto& b : batches)
    for (std::size_t e : b.examples) counts[e] += 1;
  return counts;
}

void expect_batches_are_bucket_pure(const BucketPlan& plan,
                                    const std::vector<PlannedBatch>& batches) {
  for (const auto& b : batches) {
    ASSERT_LT(b.bucket, plan.buckets.size());
    ASSERT_FALSE(b.examples.empty());
    ASSERT_LE(b.examples.size(), static_cast<std::size_t>(plan.batch_size));
    for (std::size_t e : b.examples) EXPECT_EQ(plan.images.at(e).bucket_index, b.bucket);
  }
}

class EpochOrderPolicies : public ::testing::TestWithParam<std::tuple<RemainderPolicy, int>> {};

TEST_P(EpochOrderPolicies, CountsMatchThePlan) {
  const auto [policy, batch] = GetParam();
  for (bool reg : {false, true}) {
    const BucketPlan plan = plan_for(policy, batch, reg);
    ASSERT_GT(plan.buckets.size(), 1u);
    for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
      const auto batches = epoch_batches(plan, 1234, epoch);
      ASSERT_EQ(static_cast<long long>(batches.size()), plan.total_batches);
      expect_batches_are_bucket_pure(plan, batches);
      long long entries = 0;
      std::map<std::size_t, long long> short_batches;  // bucket -> batches below B
      for (const auto& b : batches) {
        entries += static_cast<long long>(b.examples.size());
        if (b.examples.size() < static_cast<std::size_t>(batch)) short_batches[b.bucket] += 1;
      }
      const auto counts = counts_of(batches);
      switch (policy) {
        case RemainderPolicy::Partial:
          EXPECT_EQ(entries, plan.total_entries);
          for (std::size_t i = 0; i < plan.images.size(); ++i)
            EXPECT_EQ(counts.count(i) ? counts.at(i) : 0, plan.images[i].repeats) << i;
          for (const auto& [bucket, n] : short_batches) EXPECT_EQ(n, 1) << bucket;
          break;
        case RemainderPolicy::Drop:
          EXPECT_EQ(entries, plan.total_entries - plan.total_dropped);
          EXPECT_TRUE(short_batches.empty());
          for (std::size_t i = 0; i < plan.images.size(); ++i)
            EXPECT_LE(counts.count(i) ? counts.at(i) : 0, plan.images[i].repeats) << i;
          break;
        case RemainderPolicy::Pad:
          EXPECT_EQ(entries, plan.total_entries + plan.total_padded);
          EXPECT_TRUE(short_batches.empty());
          for (std::size_t i = 0; i < plan.images.size(); ++i)
            EXPECT_GE(counts.count(i) ? counts.at(i) : 0, plan.images[i].repeats) << i;
          break;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, EpochOrderPolicies,
                         ::testing::Combine(::testing::Values(RemainderPolicy::Partial,
                                                              RemainderPolicy::Drop,
                                                              RemainderPolicy::Pad),
                                            ::testing::Values(1, 2, 3, 4, 7, 16)));

TEST(DataEpochOrder, DropNeverTrainsABucketSmallerThanABatch) {
  // The portrait bucket holds 1 image x 2 repeats: with batch 4 drop never trains it.
  const BucketPlan plan = plan_for(RemainderPolicy::Drop, 4);
  const auto counts = counts_of(epoch_batches(plan, 7, 0));
  for (std::size_t i = 0; i < plan.images.size(); ++i)
    if (plan.images[i].width == 512 && plan.images[i].height == 768) EXPECT_EQ(counts.count(i), 0u);
}

TEST(DataEpochOrder, PadFillsABucketSmallerThanABatchByCycling) {
  const BucketPlan plan = plan_for(RemainderPolicy::Pad, 4);
  for (const auto& b : epoch_batches(plan, 7, 0))
    if (plan.buckets[b.bucket].size == BucketSize{512, 768}) {
      ASSERT_EQ(b.examples.size(), 4u);
      for (std::size_t e : b.examples) EXPECT_EQ(plan.images[e].height, 768);
    }
}

TEST(DataEpochOrder, SameSeedAndEpochGiveTheSameOrder) {
  const BucketPlan plan = plan_for(RemainderPolicy::Partial, 2, true);
  const auto first = epoch_batches(plan, 99, 4);
  const auto again = epoch_batches(plan, 99, 4);
  ASSERT_EQ(first.size(), again.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].bucket, again[i].bucket);
    EXPECT_EQ(first[i].examples, again[i].examples);
  }
}

bool same_order(const std::vector<PlannedBatch>& a, const std::vector<PlannedBatch>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].bucket != b[i].bucket || a[i].examples != b[i].examples) return false;
  return true;
}

TEST(DataEpochOrder, EpochsAndSeedsDiffer) {
  const BucketPlan plan = plan_for(RemainderPolicy::Partial, 2, true);
  const auto e0 = epoch_batches(plan, 99, 0);
  EXPECT_FALSE(same_order(e0, epoch_batches(plan, 99, 1)));
  EXPECT_FALSE(same_order(e0, epoch_batches(plan, 98, 0)));
}

TEST(DataEpochOrder, BatchesFromDifferentBucketsAreInterleaved) {
  // kohya shuffles the list of batches: the first bucket's batches do not all come first.
  const BucketPlan plan = plan_for(RemainderPolicy::Partial, 1);
  const auto batches = epoch_batches(plan, 5, 0);
  std::size_t changes = 0;
  for (std::size_t i = 1; i < batches.size(); ++i)
    changes += batches[i].bucket != batches[i - 1].bucket;
  EXPECT_GT(changes, plan.buckets.size());
}

TEST(DataEpochOrder, EmptyPlanGivesNoBatches) {
  BucketPlan plan = plan_buckets(Dataset{}, BucketSettings{}, 2, RemainderPolicy::Pad);
  EXPECT_TRUE(epoch_batches(plan, 1, 0).empty());
}

}  // namespace
}  // namespace lathe
