// kohya's class-token trap: a `10_jinx girl` folder whose captions lack "jinx"/"girl" is
// reported; captions that carry the tokens, folders without a repeats prefix, and words
// joined by underscores are not.
#include <gtest/gtest.h>

#include "audit_test_support.h"

namespace lathe::test {
namespace {

TEST(AuditClassTokens, CaptionsLackingFolderTokens) {
  DatasetBuilder b;
  Concept& c = b.concept("10_jinx girl");
  DatasetBuilder::image(c, "a", 512, 512, std::string("jinx, blue hair"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("jinx, 1girl"));
  DatasetBuilder::image(c, "c", 512, 512, std::nullopt);
  AuditReport r = audit(b.dataset);
  auto f = with_code(r, "concept.class_tokens");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_NE(f[0].message.find("2 of 2 captions lack 'girl'"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].message.find("only the 1 image without a caption file gets it"),
            std::string::npos)
      << f[0].message;
}

TEST(AuditClassTokens, CaptionsCarryingTokensAreFine) {
  DatasetBuilder b;
  Concept& c = b.concept("10_jinx girl");
  DatasetBuilder::image(c, "a", 512, 512, std::string("jinx girl, blue hair"));
  DatasetBuilder::image(c, "b", 512, 512, std::string("jinx, girl, smile"));
  DatasetBuilder::image(c, "c", 512, 512, std::string("jinx_girl"));
  EXPECT_TRUE(with_code(audit(b.dataset), "concept.class_tokens").empty());
}

TEST(AuditClassTokens, OnlyKohyaNamedFolders) {
  DatasetBuilder b;
  Concept& c = b.concept("jinx girl");  // no repeats prefix: not a kohya class-token folder
  DatasetBuilder::image(c, "a", 512, 512, std::string("blue hair"));
  EXPECT_TRUE(with_code(audit(b.dataset), "concept.class_tokens").empty());
}

TEST(AuditClassTokens, NoUncaptionedImagesMeansNeverUsed) {
  DatasetBuilder b;
  Concept& c = b.concept("5_lathebot");
  DatasetBuilder::image(c, "a", 512, 512, std::string("robot, metal"));
  auto f = with_code(audit(b.dataset), "concept.class_tokens");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].message.find("never used"), std::string::npos) << f[0].message;
}

}  // namespace
}  // namespace lathe::test
