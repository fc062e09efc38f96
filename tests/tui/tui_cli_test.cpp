// `lathe tui` as a command: --keys prints the binding tables, a non-terminal gets a clear
// error (exit 1) instead of a garbled screen, and `lathe` with no arguments opens the TUI on
// the current folder.
#include <gtest/gtest.h>

#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "tmux_session.h"
#include "tui/tui_main.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

TEST(TuiCommand, KeysPrintsTheBindingTables) {
  auto r = run_lathe("tui --keys");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, tui::key_list_text());
  EXPECT_NE(r.output.find("Run page"), std::string::npos);
}

TEST(TuiCommand, RefusesAnythingButATerminal) {
  auto r = run_lathe("tui </dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("needs a terminal"), std::string::npos) << r.output;
  auto usage = run_lathe("tui a b");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
}

TEST(TuiCommand, NoArgumentsOpensTheCurrentFolder) {
  if (!tmux_available()) GTEST_SKIP() << "tmux is not installed";
  TempDir tmp;
  fs::copy(source_dir() / "datasets_example" / "clean", tmp.path() / "clean",
           fs::copy_options::recursive);
  TmuxSession s("LANG=C.UTF-8 " + shell_quote(lathe_binary().string()), tmp.path() / "clean");
  ASSERT_TRUE(s.started()) << s.start_error();
  std::string last;
  EXPECT_TRUE(s.wait_for("Concepts 2", 10000, &last)) << last;
  EXPECT_TRUE(s.wait_for("lathebot", 10000, &last)) << last;
}

}  // namespace
}  // namespace lathe::test
