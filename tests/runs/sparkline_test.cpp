// Sparklines: block levels from min to max, averaging down to the width, non-finite gaps,
// a shared scale, the ASCII fallback, and choosing the glyphs from the locale.
#include "runs/sparkline.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>

using namespace lathe;

TEST(Sparkline, RisingValuesUseEveryLevel) {
  EXPECT_EQ(render_sparkline({0, 1, 2, 3, 4, 5, 6, 7}, 8, SparkGlyphs::Unicode), "▁▂▃▄▅▆▇█");
  EXPECT_EQ(render_sparkline({7, 0}, 8, SparkGlyphs::Ascii), "#_");
}

TEST(Sparkline, AveragesDownToTheWidth) {
  EXPECT_EQ(resample_mean({1, 3, 5, 7}, 2), (std::vector<double>{2, 6}));
  EXPECT_EQ(render_sparkline({0, 0, 0, 0, 10, 10, 10, 10}, 2, SparkGlyphs::Unicode), "▁█");
  EXPECT_EQ(render_sparkline({1, 2, 3}, 0, SparkGlyphs::Unicode), "");
  EXPECT_EQ(render_sparkline({}, 10, SparkGlyphs::Unicode), "");
}

TEST(Sparkline, FlatAndNonFiniteValues) {
  EXPECT_EQ(render_sparkline({2, 2, 2}, 10, SparkGlyphs::Unicode), "▄▄▄");
  EXPECT_EQ(render_sparkline({0, NAN, 1}, 10, SparkGlyphs::Ascii), "_ #");
}

TEST(Sparkline, SharedScale) {
  // On a 0..10 scale a curve from 0 to 5 reaches only half way.
  EXPECT_EQ(render_sparkline({0, 5}, 10, SparkGlyphs::Unicode, std::make_pair(0.0, 10.0)), "▁▅");
}

TEST(Sparkline, GlyphsFollowTheLocale) {
  const char* saved[3] = {getenv("LC_ALL"), getenv("LC_CTYPE"), getenv("LANG")};
  std::string keep[3];
  for (int i = 0; i < 3; ++i) keep[i] = saved[i] ? saved[i] : "";
  ::unsetenv("LC_ALL");
  ::unsetenv("LC_CTYPE");
  ::setenv("LANG", "en_US.UTF-8", 1);
  EXPECT_EQ(sparkline_glyphs_for_locale(), SparkGlyphs::Unicode);
  ::setenv("LC_ALL", "C", 1);  // LC_ALL wins over LANG
  EXPECT_EQ(sparkline_glyphs_for_locale(), SparkGlyphs::Ascii);
  ::unsetenv("LC_ALL");
  ::unsetenv("LANG");
  EXPECT_EQ(sparkline_glyphs_for_locale(), SparkGlyphs::Ascii);
  const char* names[3] = {"LC_ALL", "LC_CTYPE", "LANG"};
  for (int i = 0; i < 3; ++i)
    if (saved[i]) ::setenv(names[i], keep[i].c_str(), 1);
}
