// Bucket findings from the planner: under `drop` a bucket below the batch size is never
// trained and its image is named; under `partial` the same bucket only has a short last batch
// (info); with batch size 1 there is nothing to report.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "audit_test_support.h"
#include "dataset/audit_report.h"

namespace lathe::test {
namespace {

Dataset lonely_tall_image() {
  DatasetBuilder b;
  Concept& c = b.concept("1_cat");
  for (int i = 0; i < 4; ++i)
    DatasetBuilder::image(c, "square" + std::to_string(i), 512, 512, std::string("cat"));
  DatasetBuilder::image(c, "tall", 320, 704, std::string("cat"));
  return b.dataset;
}

AuditOptions batch(int b, RemainderPolicy p) {
  AuditOptions o;
  o.batch_size = b;
  o.policy = p;
  return o;
}

TEST(AuditBucketRules, DropNeverTrainsSmallBucket) {
  AuditReport r = audit(lonely_tall_image(), batch(4, RemainderPolicy::Drop));
  auto never = with_code(r, "bucket.never_trained");
  ASSERT_EQ(never.size(), 1u);
  EXPECT_EQ(never[0].severity, Severity::Warning);
  EXPECT_TRUE(has_finding(r, "bucket.never_trained", "1_cat/tall.png"));
  EXPECT_NE(never[0].message.find("bucket 320x704"), std::string::npos) << never[0].message;
  EXPECT_FALSE(r.has_errors());
}

TEST(AuditBucketRules, PartialReportsRemainderOnly) {
  AuditReport r = audit(lonely_tall_image(), batch(4, RemainderPolicy::Partial));
  EXPECT_TRUE(with_code(r, "bucket.never_trained").empty());
  auto rem = with_code(r, "bucket.remainder");
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_EQ(rem[0].severity, Severity::Info);
  EXPECT_NE(rem[0].message.find("last batch holds 1 of 4"), std::string::npos) << rem[0].message;
}

TEST(AuditBucketRules, PadReportsDuplicates) {
  AuditReport r = audit(lonely_tall_image(), batch(4, RemainderPolicy::Pad));
  auto rem = with_code(r, "bucket.remainder");
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_NE(rem[0].message.find("3 duplicates"), std::string::npos) << rem[0].message;
}

TEST(AuditBucketRules, BatchSizeOneHasNoBucketFindings) {
  AuditReport r = audit(lonely_tall_image(), batch(1, RemainderPolicy::Drop));
  for (const Finding& f : r.findings.all()) EXPECT_NE(f.code.rfind("bucket.", 0), 0u) << f.message;
  EXPECT_EQ(r.buckets.buckets.size(), 2u);
}

TEST(AuditBucketRules, BucketTooSmallForOneBatchNamesItsImages) {
  DatasetBuilder b;
  Concept& c = b.concept("1_cat");
  for (int i = 0; i < 8; ++i)
    DatasetBuilder::image(c, "square" + std::to_string(i), 512, 512, std::string("cat"));
  DatasetBuilder::image(c, "tall_a", 320, 704, std::string("cat"));
  DatasetBuilder::image(c, "tall_b", 320, 704, std::string("cat"));
  DatasetBuilder::image(c, "tall_c", 320, 704, std::string("cat"));
  AuditReport r = audit(b.dataset, batch(4, RemainderPolicy::Partial));
  auto rem = with_code(r, "bucket.remainder");
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_NE(rem[0].message.find("too few to fill one batch of 4"), std::string::npos)
      << rem[0].message;
  ASSERT_EQ(rem[0].files.size(), 3u);
  EXPECT_EQ(rem[0].files[0].filename(), "tall_a.png");
  EXPECT_EQ(rem[0].files[2].filename(), "tall_c.png");

  // The text report names them up to its example limit, the JSON report all of them.
  TextReportOptions two;
  two.max_examples = 2;
  const std::string text = format_audit_text(r, two);
  EXPECT_NE(text.find("1_cat/tall_a.png, 1_cat/tall_b.png, ... and 1 more"), std::string::npos)
      << text;
  const nlohmann::json j = nlohmann::json::parse(format_audit_json(r));
  bool found = false;
  for (const auto& f : j["findings"])
    if (f["code"] == "bucket.remainder") {
      found = true;
      EXPECT_EQ(f["files"], nlohmann::json({"1_cat/tall_a.png", "1_cat/tall_b.png",
                                            "1_cat/tall_c.png"}));
    }
  EXPECT_TRUE(found);
}

TEST(AuditBucketRules, LargeBucketRemainderListsNoImages) {
  DatasetBuilder b;
  Concept& c = b.concept("1_cat");
  for (int i = 0; i < 5; ++i)
    DatasetBuilder::image(c, "square" + std::to_string(i), 512, 512, std::string("cat"));
  AuditReport r = audit(b.dataset, batch(4, RemainderPolicy::Partial));
  auto rem = with_code(r, "bucket.remainder");
  ASSERT_EQ(rem.size(), 1u);
  EXPECT_NE(rem[0].message.find("not a multiple of batch size 4"), std::string::npos);
  EXPECT_TRUE(rem[0].files.empty());
}

}  // namespace
}  // namespace lathe::test
