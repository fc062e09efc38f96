// Text cut to columns in UTF-8 (tags in any script must never spill out of their pane), and
// the list cursor every table scrolls with.
#include "tui/text_fit.h"

#include <gtest/gtest.h>

#include <clocale>

#include "tui/binding.h"
#include "tui/list_cursor.h"

namespace lathe::tui {
namespace {

class TextFit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::setlocale(LC_ALL, "C.UTF-8")) GTEST_SKIP() << "no C.UTF-8 locale";
  }
  void TearDown() override { std::setlocale(LC_ALL, "C"); }
};

TEST_F(TextFit, WidthCountsColumnsNotBytes) {
  EXPECT_EQ(display_width("cat"), 3);
  EXPECT_EQ(display_width("café"), 4);
  EXPECT_EQ(display_width("猫耳"), 4);  // wide characters take two columns
  EXPECT_EQ(display_width(""), 0);
}

TEST_F(TextFit, CutsOnCharacterBoundaries) {
  EXPECT_EQ(fit_text("orange fur", 20), "orange fur");
  EXPECT_EQ(fit_text("orange fur", 6, "~"), "orang~");
  EXPECT_EQ(fit_text("cafécafé", 5, "\u2026"), "café\u2026");
  EXPECT_EQ(fit_text("猫耳猫耳", 5, "~"), "猫耳~");  // never half a wide character
  EXPECT_EQ(fit_text("abc", 0), "");
  EXPECT_EQ(pad_text("ab", 4), "ab  ");
  EXPECT_EQ(display_width(pad_text("猫耳猫耳猫", 7, "~")), 7);
}

TEST_F(TextFit, WrapsAtSpaces) {
  auto lines = wrap_text("remove the repeated tag; it only doubles", 16);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "remove the");
  EXPECT_EQ(lines[1], "repeated tag; it");
  EXPECT_EQ(lines[2], "only doubles");
  for (auto& l : wrap_text("averyveryverylongword here", 8)) EXPECT_LE(display_width(l), 8);
}

TEST(ListCursor, MovesClampsAndScrolls) {
  ListCursor c;
  EXPECT_TRUE(c.move(kActDown, 10, 4));
  EXPECT_EQ(c.selected, 1);
  EXPECT_TRUE(c.move(kActBottom, 10, 4));
  EXPECT_EQ(c.selected, 9);
  EXPECT_EQ(c.top, 6);  // the selection stays in view
  c.move(kActPageUp, 10, 4);
  EXPECT_EQ(c.selected, 6);
  c.move(kActTop, 10, 4);
  EXPECT_EQ(c.selected, 0);
  EXPECT_EQ(c.top, 0);
  c.move(kActUp, 10, 4);
  EXPECT_EQ(c.selected, 0);
  EXPECT_FALSE(c.move(999, 10, 4));
  c.set(9, 10, 4);
  c.clamp(3, 4);  // the list shrank
  EXPECT_EQ(c.selected, 2);
  EXPECT_EQ(c.top, 0);
  c.clamp(0, 4);
  EXPECT_EQ(c.selected, 0);
}

}  // namespace
}  // namespace lathe::tui
