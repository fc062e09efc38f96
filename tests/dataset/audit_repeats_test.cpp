// Repeats balance: images x repeats per concept, the imbalance ratio and flag, suggested
// repeats that raise the smaller concepts, and regularization concepts kept out of it.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "dataset/repeats_balance.h"

namespace lathe::test {
namespace {

Dataset with_counts(int cat_images, const std::string& cat_folder, int bot_images,
                    const std::string& bot_folder) {
  DatasetBuilder b;
  Concept& cat = b.concept(cat_folder);
  for (int i = 0; i < cat_images; ++i)
    DatasetBuilder::image(cat, "c" + std::to_string(i), 512, 512, std::string("lathecat"));
  Concept& bot = b.concept(bot_folder);
  for (int i = 0; i < bot_images; ++i)
    DatasetBuilder::image(bot, "b" + std::to_string(i), 512, 512, std::string("lathebot"));
  return b.dataset;
}

TEST(RepeatsBalance, BalancedDatasetIsNotFlagged) {
  RepeatsBalance b = compute_repeats_balance(with_counts(6, "10_cat", 10, "6_bot"), 1.5);
  ASSERT_EQ(b.concepts.size(), 2u);
  EXPECT_EQ(b.concepts[0].per_epoch, 60u);
  EXPECT_EQ(b.concepts[1].per_epoch, 60u);
  EXPECT_DOUBLE_EQ(b.ratio, 1.0);
  EXPECT_FALSE(b.imbalanced);
  EXPECT_DOUBLE_EQ(b.concepts[0].share, 50.0);
  EXPECT_EQ(b.concepts[1].suggested_repeats, 6);
  EXPECT_TRUE(with_code(audit(with_counts(6, "10_cat", 10, "6_bot")), "repeats.imbalance").empty());
}

TEST(RepeatsBalance, ImbalanceSuggestsRepeats) {
  Dataset d = with_counts(20, "10_cat", 4, "2_bot");  // 200 vs 8
  RepeatsBalance b = compute_repeats_balance(d, 1.5);
  EXPECT_TRUE(b.imbalanced);
  EXPECT_DOUBLE_EQ(b.ratio, 25.0);
  EXPECT_EQ(b.concepts[0].suggested_repeats, 10);  // the largest keeps its repeats
  EXPECT_EQ(b.concepts[1].suggested_repeats, 50);  // 4 x 50 = 200
  EXPECT_EQ(b.concepts[1].suggested_per_epoch, 200u);
  auto f = with_code(audit(d), "repeats.imbalance");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_NE(f[0].message.find("25.0x"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].hint.find("'bot' 2 -> 50"), std::string::npos) << f[0].hint;
}

TEST(RepeatsBalance, RegularizationIsLeftOut) {
  Dataset d = with_counts(20, "10_cat", 4, "1_reg");
  d.concepts[1].is_regularization = true;
  RepeatsBalance b = compute_repeats_balance(d, 1.5);
  EXPECT_FALSE(b.imbalanced);
  EXPECT_EQ(b.per_epoch_total, 200u);
  EXPECT_TRUE(b.concepts[1].regularization);
}

TEST(RepeatsBalance, ThresholdIsConfigurable) {
  Dataset d = with_counts(10, "2_cat", 10, "1_bot");  // 20 vs 10: ratio 2
  EXPECT_TRUE(compute_repeats_balance(d, 1.5).imbalanced);
  EXPECT_FALSE(compute_repeats_balance(d, 2.0).imbalanced);
}

}  // namespace
}  // namespace lathe::test
