// Image rules on in-memory datasets: header problems map to zero_byte / corrupt / unreadable
// errors, a --deep decode failure to corrupt, a renamed format to a warning, and an image
// below the smallest bucket to too_small with the enlargement kohya would apply.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "dataset/image_fixtures.h"

namespace lathe::test {
namespace {

struct OneImage {
  DatasetBuilder b;
  Item* item;
  OneImage(int w = 512, int h = 512) {
    Concept& c = b.concept("10_cat");
    item = &DatasetBuilder::image(c, "x", w, h, std::string("cat"));
  }
  void broken(std::uint64_t size, const std::string& problem) {
    item->image.ok = false;
    item->image.width = item->image.height = 0;
    item->image.file_size = size;
    item->image.problem = problem;
  }
};

TEST(AuditImageRules, HealthyImageHasNoImageFindings) {
  OneImage t;
  AuditReport r = audit(t.b.dataset);
  for (const Finding& f : r.findings.all()) EXPECT_NE(f.code.rfind("image.", 0), 0u) << f.message;
}

TEST(AuditImageRules, ZeroByte) {
  OneImage t;
  t.broken(0, "zero-byte file");
  AuditReport r = audit(t.b.dataset);
  auto f = with_code(r, "image.zero_byte");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_NE(f[0].message.find("10_cat/x.png"), std::string::npos);
  EXPECT_TRUE(r.has_errors());
}

TEST(AuditImageRules, TruncatedOrCorruptHeader) {
  OneImage t;
  t.broken(40, "truncated PNG header: the file ends before the IHDR chunk");
  EXPECT_EQ(with_code(audit(t.b.dataset), "image.corrupt").size(), 1u);
  OneImage u;
  u.broken(400, "corrupt JPEG: scan data before any frame header");
  EXPECT_EQ(with_code(audit(u.b.dataset), "image.corrupt").size(), 1u);
}

TEST(AuditImageRules, UnreadableOrUnknownFormat) {
  OneImage t;
  t.broken(400, "cannot read: Permission denied");
  auto f = with_code(audit(t.b.dataset), "image.unreadable");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].message.find("Permission denied"), std::string::npos);
}

TEST(AuditImageRules, DeepDecodeFailureIsCorrupt) {
  OneImage t;
  t.item->deep_problem = "truncated JPEG: no end-of-image marker";
  auto f = with_code(audit(t.b.dataset), "image.corrupt");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_NE(f[0].message.find("does not decode"), std::string::npos);
}

TEST(AuditImageRules, ExtensionMismatchIsWarning) {
  OneImage t;
  t.item->image.extension_mismatch = true;
  t.item->image.problem = "the extension says PNG but the content is JPEG; rename it to x.jpg";
  auto f = with_code(audit(t.b.dataset), "image.extension_mismatch");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
}

TEST(AuditImageRules, TooSmallForTheSmallestBucket) {
  OneImage small(128, 96);
  auto f = with_code(audit(small.b.dataset), "image.too_small");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Warning);
  EXPECT_NE(f[0].message.find("128x96"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].message.find("enlarged"), std::string::npos) << f[0].message;
  OneImage big(640, 512);
  EXPECT_TRUE(with_code(audit(big.b.dataset), "image.too_small").empty());
  // At a lower resolution the same small image fits.
  AuditOptions o;
  o.buckets.width = o.buckets.height = 128;
  o.buckets.min_bucket_reso = 64;
  o.buckets.max_bucket_reso = 256;
  EXPECT_TRUE(with_code(audit(small.b.dataset, o), "image.too_small").empty());
}

TEST(AuditImageRules, ExifOrientationIsListedWithKohyaDifference) {
  OneImage t(600, 400);  // displayed size (the header reader applied orientation 6)
  t.item->image.exif_orientation = 6;
  AuditReport r = audit(t.b.dataset);
  auto f = with_code(r, "image.exif_orientation");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Info);
  EXPECT_NE(f[0].message.find("stored 400x600 with EXIF orientation 6"), std::string::npos)
      << f[0].message;
  EXPECT_NE(f[0].message.find("600x400"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].hint.find("Lathe buckets and trains it upright"), std::string::npos) << f[0].hint;
  EXPECT_NE(f[0].hint.find("kohya buckets and trains it as stored, sideways"), std::string::npos)
      << f[0].hint;
  OneImage upright;
  EXPECT_TRUE(with_code(audit(upright.b.dataset), "image.exif_orientation").empty());
}

TEST(AuditImageRules, PlainAuditFindsTruncatedFilesOnDisk) {
  // No --deep: the scan's end-of-file check is enough for a file cut short.
  TempDir root;
  write_image(root / "1_cat" / "good.jpg", 64, 64);
  write_text(root / "1_cat" / "good.txt", "cat");
  const std::string jpeg = encode_image(".jpg", 64, 64);
  write_text(root / "1_cat" / "cut.jpg", jpeg.substr(0, jpeg.size() * 2 / 3));
  write_text(root / "1_cat" / "cut.txt", "cat");
  const std::string png = encode_image(".png", 64, 64);
  write_text(root / "1_cat" / "cutp.png", png.substr(0, png.size() - 20));
  write_text(root / "1_cat" / "cutp.txt", "cat");
  AuditReport r = audit(scan_dataset(root.path(), {}));
  EXPECT_TRUE(has_finding(r, "image.corrupt", "1_cat/cut.jpg"));
  EXPECT_TRUE(has_finding(r, "image.corrupt", "1_cat/cutp.png"));
  EXPECT_FALSE(has_finding(r, "image.corrupt", "1_cat/good.jpg"));
  for (const Finding& f : with_code(r, "image.corrupt"))
    EXPECT_NE(f.message.find("truncated"), std::string::npos) << f.message;
}

}  // namespace
}  // namespace lathe::test
