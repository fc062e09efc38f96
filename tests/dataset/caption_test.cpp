// Caption parsing: tags, and the file conventions (BOM, CRLF, trailing newline, extra lines,
// stray whitespace, empty tags, invalid UTF-8) that edits preserve and the audit reports.
#include "dataset/caption.h"

#include <gtest/gtest.h>

namespace lathe {
namespace {

using Tags = std::vector<std::string>;

TEST(Caption, SplitsAndTrimsTags) {
  CaptionText c = parse_caption("jinx, 1girl,blue hair ,  long braid\n");
  EXPECT_EQ(c.tags, (Tags{"jinx", "1girl", "blue hair", "long braid"}));
  EXPECT_TRUE(c.trailing_newline);
  EXPECT_FALSE(c.has_crlf);
  EXPECT_FALSE(c.has_bom);
  EXPECT_FALSE(c.multiple_lines);
  EXPECT_FALSE(c.stray_whitespace);
  EXPECT_EQ(c.empty_tags, 0);
  EXPECT_TRUE(c.valid_utf8);
  EXPECT_EQ(c.raw, "jinx, 1girl,blue hair ,  long braid\n");
}

TEST(Caption, EmptyAndBlank) {
  EXPECT_TRUE(parse_caption("").empty());
  CaptionText blank = parse_caption(" \n");
  EXPECT_TRUE(blank.empty());
  EXPECT_TRUE(blank.trailing_newline);
}

TEST(Caption, BomAndCrlf) {
  CaptionText c = parse_caption(
      "\xEF\xBB\xBF"
      "a, b\r\n");
  EXPECT_TRUE(c.has_bom);
  EXPECT_TRUE(c.has_crlf);
  EXPECT_TRUE(c.trailing_newline);
  EXPECT_FALSE(c.stray_whitespace);
  EXPECT_EQ(c.tags, (Tags{"a", "b"}));
}

TEST(Caption, EmptyTagsCounted) {
  EXPECT_EQ(parse_caption("a,,b").empty_tags, 1);
  EXPECT_EQ(parse_caption("a, b,").empty_tags, 1);
  EXPECT_EQ(parse_caption(",a").empty_tags, 1);
  EXPECT_EQ(parse_caption("a, , ,b").tags, (Tags{"a", "b"}));
  EXPECT_EQ(parse_caption("a, , ,b").empty_tags, 2);
}

TEST(Caption, ExtraLinesAreMoreTags) {
  CaptionText c = parse_caption("a, b\nc, d\n");
  EXPECT_TRUE(c.multiple_lines);
  EXPECT_EQ(c.tags, (Tags{"a", "b", "c", "d"}));
  EXPECT_EQ(c.empty_tags, 0);
  CaptionText crlf = parse_caption("a\r\n\r\nb\r\n");
  EXPECT_TRUE(crlf.multiple_lines);
  EXPECT_EQ(crlf.tags, (Tags{"a", "b"}));
}

TEST(Caption, LineBreakAfterCommaIsNoEmptyTag) {
  // The break already separates the tags; only a real ",," is an empty tag.
  EXPECT_EQ(parse_caption("a,\nb").empty_tags, 0);
  EXPECT_EQ(parse_caption("a\n, b").empty_tags, 0);
  EXPECT_EQ(parse_caption("a,\nb").tags, (Tags{"a", "b"}));
  EXPECT_EQ(parse_caption("a,,\nb").empty_tags, 1);
}

TEST(Caption, StrayWhitespace) {
  EXPECT_TRUE(parse_caption(" a, b").stray_whitespace);
  EXPECT_TRUE(parse_caption("a, b \n").stray_whitespace);
  EXPECT_TRUE(parse_caption("a, b\n\n").stray_whitespace);
  EXPECT_TRUE(parse_caption("blue  hair, b").stray_whitespace);
  EXPECT_TRUE(parse_caption("blue\thair").stray_whitespace);
  EXPECT_FALSE(parse_caption("blue hair, b\n").stray_whitespace);
}

TEST(Caption, InvalidUtf8StillSplits) {
  CaptionText c = parse_caption("caf\xE9, ok");
  EXPECT_FALSE(c.valid_utf8);
  EXPECT_EQ(c.tags.size(), 2u);
  EXPECT_TRUE(parse_caption("ジンクス, café").valid_utf8);
}

TEST(Utf8, RejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));   // U+1F600
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE3\x81"));          // cut short
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

TEST(Caption, SplitKeepsEmptyPieces) {
  auto parts = split_tags_keep_empty(" a ,, b ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "a");
  EXPECT_EQ(parts[1], "");
  EXPECT_EQ(parts[2], "b");
  EXPECT_EQ(trim_ascii("\t x \r\n"), "x");
}

}  // namespace
}  // namespace lathe
