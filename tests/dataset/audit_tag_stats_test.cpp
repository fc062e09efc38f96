// Tag statistics and the tag rules: counts per concept and overall (a tag twice in a caption
// counts once), spelling-insensitive keys, near-duplicate spellings across the dataset, prune
// candidates at the threshold, and singletons.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "dataset/tag_stats.h"

namespace lathe::test {
namespace {

Dataset two_concepts() {
  DatasetBuilder b;
  Concept& cat = b.concept("10_cat");
  DatasetBuilder::image(cat, "a", 512, 512, std::string("lathecat, blue_hair, ball, ball"));
  DatasetBuilder::image(cat, "b", 512, 512, std::string("lathecat, blue hair, ball"));
  DatasetBuilder::image(cat, "c", 512, 512, std::string("lathecat, Blue Hair, ball"));
  DatasetBuilder::image(cat, "d", 512, 512, std::string("lathecat, ball, rareword"));
  DatasetBuilder::image(cat, "e", 512, 512, std::string("lathecat, ball, sky"));
  DatasetBuilder::image(cat, "f", 512, 512, std::nullopt);
  Concept& bot = b.concept("6_bot");
  DatasetBuilder::image(bot, "a", 512, 512, std::string("lathebot, sky"));
  DatasetBuilder::image(bot, "b", 512, 512, std::string("lathebot, metal"));
  return b.dataset;
}

TEST(TagStats, CountsImagesNotOccurrences) {
  TagStats s = compute_tag_stats(two_concepts());
  ASSERT_EQ(s.concepts.size(), 2u);
  EXPECT_EQ(s.concepts[0].images, 5u);  // the image without caption is not counted
  const TagCount* ball = s.concepts[0].find("ball");
  ASSERT_NE(ball, nullptr);
  EXPECT_EQ(ball->images, 5u);
  EXPECT_DOUBLE_EQ(ball->percent, 100.0);
  EXPECT_EQ(s.overall.images, 7u);
  const TagCount* sky = s.overall.find("sky");
  ASSERT_NE(sky, nullptr);
  EXPECT_EQ(sky->images, 2u);
  EXPECT_NEAR(sky->percent, 100.0 * 2 / 7, 1e-9);
  EXPECT_EQ(s.overall.find("nothing"), nullptr);
  // Sorted by frequency, ties by tag.
  EXPECT_EQ(s.concepts[0].tags[0].tag, "ball");
  EXPECT_EQ(s.concepts[0].tags[1].tag, "lathecat");
}

TEST(TagStats, TagKey) {
  EXPECT_EQ(tag_key("Blue_Hair"), "blue hair");
  EXPECT_EQ(tag_key("blue  hair "), "blue hair");
  EXPECT_EQ(tag_key("_x_"), "x");
  EXPECT_NE(tag_key("blue-hair"), tag_key("blue hair"));
}

TEST(AuditTagRules, NearDuplicateSpellings) {
  AuditReport r = audit(two_concepts());
  auto f = with_code(r, "tags.near_duplicate");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_NE(f[0].message.find("3 ways"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].message.find("'blue_hair'"), std::string::npos);
  EXPECT_NE(f[0].message.find("'Blue Hair'"), std::string::npos);
}

TEST(AuditTagRules, PruneCandidatesAtThreshold) {
  AuditReport r = audit(two_concepts());
  auto f = with_code(r, "tags.prune_candidate");
  ASSERT_EQ(f.size(), 1u);  // "ball" on 5/5; the activation tag is never a candidate
  EXPECT_NE(f[0].message.find("'ball'"), std::string::npos);
  EXPECT_EQ(f[0].concept, "cat");
  // At 20% every tag of the 5-caption concept qualifies (each is on at least 1 of 5); the
  // 2-caption concept stays out: too few captions to judge.
  AuditOptions o;
  o.prune_threshold = 20.0;
  auto low = with_code(audit(two_concepts(), o), "tags.prune_candidate");
  EXPECT_EQ(low.size(), 6u);  // ball, blue_hair, blue hair, Blue Hair, rareword, sky
  for (const Finding& x : low) EXPECT_EQ(x.concept, "cat");
}

TEST(AuditTagRules, Singletons) {
  AuditReport r = audit(two_concepts());
  auto f = with_code(r, "tags.singleton");
  // blue_hair, blue hair, Blue Hair, rareword, metal: each on exactly one image.
  EXPECT_EQ(f.size(), 5u);
  EXPECT_TRUE(has_finding(r, "tags.singleton", "10_cat/d.txt"));
  EXPECT_TRUE(has_finding(r, "tags.singleton", "6_bot/b.txt"));
}

}  // namespace
}  // namespace lathe::test
