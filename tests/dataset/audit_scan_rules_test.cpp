// Scan-level findings: problems the scan recorded (permission denied, symlink loops) become
// errors naming the folder, a concept without images a warning, a dataset without images an
// error.
#include <gtest/gtest.h>

#include "audit_test_support.h"

namespace lathe::test {
namespace {

TEST(AuditScanRules, ScanProblemsAreErrors) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("cat"));
  c.scan_problems.push_back("10_cat/private: permission denied; its images are skipped");
  b.dataset.scan_problems.push_back("loop: symlink loop");
  AuditReport r = audit(b.dataset);
  auto f = with_code(r, "scan.problem");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_TRUE(r.has_errors());
}

TEST(AuditScanRules, EmptyConceptAndEmptyDataset) {
  DatasetBuilder b;
  b.concept("1_nothing");
  AuditReport r = audit(b.dataset);
  EXPECT_EQ(with_code(r, "concept.empty").size(), 1u);
  auto empty = with_code(r, "dataset.empty");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].severity, Severity::Error);

  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("cat"));
  AuditReport r2 = audit(b.dataset);
  EXPECT_EQ(with_code(r2, "concept.empty").size(), 1u);
  EXPECT_TRUE(with_code(r2, "dataset.empty").empty());
}

}  // namespace
}  // namespace lathe::test
