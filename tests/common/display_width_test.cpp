// Display width of UTF-8 text and cutting it to columns (common/display_width.h): wide CJK
// characters take two cells, combining marks none, broken bytes one; a cut never splits a
// character and keeps the result inside the width, ellipsis included.
#include "common/display_width.h"

#include <gtest/gtest.h>

using namespace lathe;

TEST(DisplayWidth, CountsTerminalCells) {
  EXPECT_EQ(display_width(""), 0);
  EXPECT_EQ(display_width("demo-r8"), 7);
  EXPECT_EQ(display_width("猫の絵"), 6);           // CJK and kana: 2 each
  EXPECT_EQ(display_width("café"), 4);             // precomposed é
  EXPECT_EQ(display_width("cafe\u0301"), 4);       // e + combining acute
  EXPECT_EQ(display_width("Ωmega"), 5);
  EXPECT_EQ(display_width("ｆｕｌｌ"), 8);         // fullwidth Latin
  EXPECT_EQ(display_width("\U0001F408"), 2);       // emoji
  EXPECT_EQ(display_width("a\xff" "b"), 3);        // a stray byte takes one cell
  EXPECT_EQ(display_width("\xe7\x8c"), 2);         // a character cut short: two stray bytes
  EXPECT_EQ(display_width("x\u200By"), 2);         // zero-width space
}

TEST(DisplayWidth, DecodesOnlyWellFormedUtf8) {
  EXPECT_TRUE(next_utf8_char("\xe7\x8c\xab", 0).valid);
  EXPECT_EQ(next_utf8_char("\xe7\x8c\xab", 0).code_point, U'猫');
  EXPECT_EQ(next_utf8_char("\xe7\x8c\xab", 0).length, 3u);
  EXPECT_FALSE(next_utf8_char("\xc0\xaf", 0).valid);          // overlong '/'
  EXPECT_FALSE(next_utf8_char("\xed\xa0\x80", 0).valid);      // a surrogate
  EXPECT_FALSE(next_utf8_char("\xf4\x90\x80\x80", 0).valid);  // past U+10FFFF
  EXPECT_EQ(next_utf8_char("\x80", 0).length, 1u);
}

TEST(DisplayWidth, TruncatesBetweenCharactersWithinTheWidth) {
  EXPECT_EQ(truncate_to_width("short", 10, "…"), "short");
  EXPECT_EQ(truncate_to_width("abcdefghij", 5, "…"), "abcd…");
  EXPECT_EQ(truncate_to_width("abcdefghij", 5, "~"), "abcd~");
  // Four cells of room before the ellipsis: two CJK characters, never one and a half.
  EXPECT_EQ(truncate_to_width("猫の絵です", 5, "…"), "猫の…");
  EXPECT_EQ(truncate_to_width("猫の絵です", 6, "…"), "猫の…");  // 5 cells; padding adds one
  EXPECT_EQ(truncate_to_width("abc", 0, "…"), "");
  for (int w = 1; w <= 12; ++w)
    EXPECT_LE(display_width(truncate_to_width("猫a猫b猫c猫d", w, "…")), w) << w;
}

TEST(DisplayWidth, PadsToExactlyTheWidth) {
  EXPECT_EQ(pad_to_width("ab", 4, "…"), "ab  ");
  EXPECT_EQ(pad_to_width("ab", 4, "…", true), "  ab");
  EXPECT_EQ(pad_to_width("猫", 4, "…"), "猫  ");
  EXPECT_EQ(pad_to_width("猫の絵です", 6, "…"), "猫の… ");
  for (int w = 1; w <= 12; ++w)
    EXPECT_EQ(display_width(pad_to_width("猫a猫b猫c猫d", w, "…")), w) << w;
}
