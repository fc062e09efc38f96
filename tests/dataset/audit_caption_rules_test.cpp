// Caption rules on in-memory datasets: each problem gives its code on the right file, with the
// right severity, and a clean caption gives none.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "temp_dir.h"

namespace lathe::test {
namespace {

AuditReport audit_one(const std::string& caption_bytes) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, caption_bytes);
  DatasetBuilder::image(c, "b", 512, 512, std::string("cat, grass\n"));
  return audit(b.dataset);
}

TEST(AuditCaptionRules, CleanCaptionHasNoCaptionFindings) {
  AuditReport r = audit_one("cat, red ball\n");
  for (const Finding& f : r.findings.all()) EXPECT_NE(f.code.rfind("caption.", 0), 0u) << f.message;
}

TEST(AuditCaptionRules, ImageWithoutCaptionIsWarning) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "nocap", 512, 512, std::nullopt);
  AuditReport r = audit(b.dataset);
  auto f = with_code(r, "caption.missing");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_EQ(f[0].concept, "cat");
  EXPECT_NE(f[0].message.find("10_cat/nocap.png"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].message.find("nocap.txt"), std::string::npos);
}

TEST(AuditCaptionRules, CaptionWithoutImageBothForms) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  DatasetBuilder::image(c, "a", 512, 512, std::string("cat"));
  c.orphan_captions.push_back(c.path / "lonely.txt");
  Item orphan;
  orphan.caption_path = c.path / "other.txt";
  orphan.caption = parse_caption("cat");
  c.items.push_back(orphan);
  AuditReport r = audit(b.dataset);
  EXPECT_TRUE(has_finding(r, "caption.orphan", "10_cat/lonely.txt"));
  EXPECT_TRUE(has_finding(r, "caption.orphan", "10_cat/other.txt"));
  EXPECT_EQ(r.concepts[0].images, 1u);
}

TEST(AuditCaptionRules, EmptyCaptionZeroBytesAndBlank) {
  EXPECT_EQ(with_code(audit_one(""), "caption.empty").size(), 1u);
  auto blank = with_code(audit_one("  \n"), "caption.empty");
  ASSERT_EQ(blank.size(), 1u);
  EXPECT_EQ(blank[0].severity, Severity::Warning);
  EXPECT_NE(with_code(audit_one(""), "caption.empty")[0].message.find("0 bytes"),
            std::string::npos);
}

TEST(AuditCaptionRules, InvalidUtf8IsError) {
  auto f = with_code(audit_one("cat, caf\xE9\n"), "caption.invalid_utf8");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_TRUE(has_finding(audit_one("cat, caf\xE9"), "caption.invalid_utf8", "10_cat/a.txt"));
}

TEST(AuditCaptionRules, UnreadableCaptionIsError) {
  DatasetBuilder b;
  Concept& c = b.concept("10_cat");
  Item& it = DatasetBuilder::image(c, "a", 512, 512, std::string("cat"));
  it.caption.reset();
  it.caption_problem = "cannot read: Permission denied";
  AuditReport r = audit(b.dataset);
  auto f = with_code(r, "caption.unreadable");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_NE(f[0].message.find("Permission denied"), std::string::npos);
}

TEST(AuditCaptionRules, FileConventions) {
  EXPECT_EQ(with_code(audit_one("\xEF\xBB\xBF" "cat, ball"), "caption.bom").size(), 1u);
  EXPECT_EQ(with_code(audit_one("cat, ball\r\n"), "caption.crlf").size(), 1u);
  EXPECT_EQ(with_code(audit_one("cat,  ball "), "caption.whitespace").size(), 1u);
  EXPECT_EQ(with_code(audit_one("cat, ball\nsecond line"), "caption.multiple_lines").size(), 1u);
  EXPECT_EQ(with_code(audit_one("cat, ball\n"), "caption.whitespace").size(), 0u);
  EXPECT_EQ(with_code(audit_one("cat, ball\n"), "caption.crlf").size(), 0u);
}

TEST(AuditCaptionRules, EmptyTags) {
  auto f = with_code(audit_one("cat,,ball,"), "caption.empty_tag");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].message.find("2 empty tags"), std::string::npos) << f[0].message;
}

TEST(AuditCaptionRules, DuplicateTagExactAndSpellingVariant) {
  auto exact = with_code(audit_one("cat, ball, ball"), "caption.duplicate_tag");
  ASSERT_EQ(exact.size(), 1u);
  EXPECT_NE(exact[0].message.find("'ball' twice"), std::string::npos);
  auto variant = with_code(audit_one("cat, blue_hair, Blue Hair"), "caption.duplicate_tag");
  ASSERT_EQ(variant.size(), 1u);
  EXPECT_NE(variant[0].message.find("'blue_hair' and 'Blue Hair'"), std::string::npos);
  EXPECT_TRUE(with_code(audit_one("cat, ball, bat"), "caption.duplicate_tag").empty());
}

TEST(AuditCaptionRules, NulBytesAreAnErrorNamingTheOffset) {
  AuditReport r = audit_one(std::string("cat, red\0ball, gr\0ass\n", 22));
  auto f = with_code(r, "caption.nul_byte");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_TRUE(has_finding(r, "caption.nul_byte", "10_cat/a.txt"));
  EXPECT_NE(f[0].message.find("2 NUL bytes (the first at byte offset 8)"), std::string::npos)
      << f[0].message;
  // The message names the offset; the NUL byte itself is never part of it.
  EXPECT_EQ(f[0].message.find('\0'), std::string::npos);
  EXPECT_TRUE(with_code(audit_one("cat, red ball\n"), "caption.nul_byte").empty());
}

TEST(AuditCaptionRules, OversizedCaptionHintSaysItIsNoCaption) {
  TempDir dir;
  DatasetBuilder b;
  b.dataset.root = dir.path();
  Concept& c = b.concept("10_cat");
  Item& big = DatasetBuilder::image(c, "big", 512, 512, std::string("cat"));
  big.caption.reset();
  big.caption_problem = "caption file is 1.5 MiB; Lathe reads captions up to 1024 KiB";
  write_text(*big.caption_path, std::string(kMaxCaptionBytes + 100, 'x'));
  Item& locked = DatasetBuilder::image(c, "locked", 512, 512, std::string("cat"));
  locked.caption.reset();
  locked.caption_problem = "cannot read: Permission denied";
  write_text(*locked.caption_path, "cat");
  AuditReport r = audit(b.dataset);
  auto f = with_code(r, "caption.unreadable");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NE(f[0].hint.find("too large to be a caption"), std::string::npos) << f[0].hint;
  EXPECT_EQ(f[0].hint.find("permission"), std::string::npos) << f[0].hint;
  EXPECT_NE(f[1].hint.find("permissions"), std::string::npos) << f[1].hint;
}

}  // namespace
}  // namespace lathe::test
