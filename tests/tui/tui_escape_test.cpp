// The TUI draws strings from files escaped (#14): a caption whose tags carry an OSC title
// sequence, ESC [2J and the 8-bit CSI shows them as \e]0;... text in the tmux pane instead of
// sending them to the terminal (or as ncurses' ^[ forms, which still hide the C1 ones).
#include <gtest/gtest.h>

#include "dataset/image_fixtures.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "tmux_session.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

TEST(TuiEscape, CaptionTagsAreDrawnEscaped) {
  if (!tmux_available()) GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
  TempDir tmp;
  const fs::path ds = tmp / "evil";
  const fs::path base = ds / "10_evil" / "img";
  fs::create_directories(base.parent_path());
  write_text(base.string() + ".png", encode_image(".png", 8, 8));
  write_text(base.string() + ".txt",
             "\x1b]0;pwned\x07title, solo, \x1b[2Jx, \xC2\x9B" "2Jcsi, caf\xE9\n");
  const fs::path exit_file = tmp / "exit_code";
  TmuxSession s("env LANG=C.UTF-8 LC_ALL=C.UTF-8 " + shell_quote(lathe_binary().string()) +
                    " tui " + shell_quote(ds.string()) + "; echo $? > " +
                    shell_quote(exit_file.string()),
                tmp.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  for (const std::string text : {"\\e]0;pwned\\x07title", "\\e[2Jx", "\\u{9b}2Jcsi", "caf\\xe9"}) {
    std::string last;
    EXPECT_TRUE(s.wait_for(text, 10000, &last)) << "waiting for '" << text << "'; screen:\n"
                                                << last;
  }
  EXPECT_TRUE(s.wait_for("Concepts 1"));  // the screen was not cleared under the TUI
  s.keys({"q"});
}

}  // namespace
}  // namespace lathe::test
