// terminal_safe: every byte a terminal acts on comes out escaped, printable text unchanged.
#include "common/terminal_text.h"

#include <gtest/gtest.h>

#include <string>

namespace lathe {
namespace {

using namespace std::string_literals;

bool has_control_byte(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

TEST(TerminalSafe, KeepsPrintableAsciiAndUtf8) {
  EXPECT_EQ(terminal_safe("1girl, solo, long hair"), "1girl, solo, long hair");
  EXPECT_EQ(terminal_safe("kaguya \\(hime\\)"), "kaguya \\(hime\\)");
  EXPECT_EQ(terminal_safe("café, 東方, 😀, ü"), "café, 東方, 😀, ü");
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, EscapesC0ControlsByName) {
  EXPECT_EQ(terminal_safe("\x1b[2J"), "\\e[2J");
  EXPECT_EQ(terminal_safe("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(terminal_safe("x\x07y\x08z"), "x\\x07y\\x08z");
  EXPECT_EQ(terminal_safe("nul\0byte"s), "nul\\0byte");
}

TEST(TerminalSafe, EscapesOscTitleSequenceAndDel) {
  const std::string osc = "\x1b]0;pwned\x07";
  EXPECT_EQ(terminal_safe(osc), "\\e]0;pwned\\x07");
  EXPECT_EQ(terminal_safe("a\x7f" "b"), "a\\x7fb");
}

TEST(TerminalSafe, EscapesC1ControlsAsCodePoints) {
  // U+009B is the 8-bit CSI: "\u009b2J" clears the screen on terminals that honour C1.
  EXPECT_EQ(terminal_safe("\xC2\x9B" "2J"), "\\u{9b}2J");
  EXPECT_EQ(terminal_safe("\xC2\x80\xC2\x9F"), "\\u{80}\\u{9f}");
  // U+00A0 (no-break space) is just past the C1 range and stays.
  EXPECT_EQ(terminal_safe("\xC2\xA0"), "\xC2\xA0");
}

TEST(TerminalSafe, EscapesBidiOverridesAndLineSeparators) {
  EXPECT_EQ(terminal_safe("abc\xE2\x80\xAE" "def"), "abc\\u{202e}def");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(terminal_safe("a\xE2\x80\xA8" "b"), "a\\u{2028}b");          // LINE SEPARATOR
  EXPECT_EQ(terminal_safe("\xE2\x81\xA6x"), "\\u{2066}x");               // LEFT-TO-RIGHT ISOLATE
}

TEST(TerminalSafe, EscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(terminal_safe("caf\xE9"), "caf\\xe9");                 // Latin-1 é
  EXPECT_EQ(terminal_safe("\xC0\x9B"), "\\xc0\\x9b");              // overlong ESC
  EXPECT_EQ(terminal_safe("\xED\xA0\x80"), "\\xed\\xa0\\x80");     // surrogate
  EXPECT_EQ(terminal_safe("ok\xE6\x9D"), "ok\\xe6\\x9d");          // cut-short character
  EXPECT_EQ(terminal_safe("\x9B" "2J"), "\\x9b2J");                // bare 8-bit CSI byte
}

TEST(TerminalSafe, LinesKeepTheirBreaksOnly) {
  EXPECT_EQ(terminal_safe_lines("step 1\nbad \x1b[2Jfile.png\r\n\n"),
            "step 1\nbad \\e[2Jfile.png\\r\n\n");
  EXPECT_EQ(terminal_safe_lines("no break"), "no break");
  EXPECT_EQ(terminal_safe_lines(""), "");
}

TEST(TerminalSafe, NoControlByteSurvivesAnyInput) {
  // Every byte value, alone and after a lead byte: nothing a terminal acts on comes out raw.
  for (int a = 0; a < 256; ++a) {
    for (int b : {0x1b, 0x80, 0x9b, 0xbf, 0x41}) {
      std::string in{static_cast<char>(a), static_cast<char>(b)};
      std::string out = terminal_safe(in);
      EXPECT_FALSE(has_control_byte(out)) << a << " " << b;
      EXPECT_EQ(out.find("\xC2\x9B"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace lathe
