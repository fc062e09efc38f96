// TUI tests: the real `lathe tui` inside tmux at 100x30, driven by keys, asserting on the
// captured text. Every screen, an edit + undo + redo round trip checked byte for byte on
// disk, the confirmation dialogs (Cancel focused), the help overlay, too-small terminals and
// resizing, LANG=C, quitting, and SIGHUP (a dropped SSH connection) ending the TUI cleanly.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "dataset/caption_edit.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "tmux_session.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The shell line a session runs: lathe tui with `args`, its exit code written to `exit_file`.
// HUP is ignored by the shell only, so the shell outlives a hang-up to record the code (lathe
// installs its own handler).
std::string tui_line(const std::string& args, const fs::path& exit_file,
                     const std::string& env = "LANG=C.UTF-8 LC_ALL=C.UTF-8") {
  return "trap '' HUP; env " + env + " " + shell_quote(lathe_binary().string()) + " tui " + args +
         "; echo $? > " + shell_quote(exit_file.string());
}

std::vector<fs::path> run_dirs(const fs::path& runs) {
  std::error_code ec;
  std::vector<fs::path> out;
  for (auto it = fs::directory_iterator(runs, ec); !ec && it != fs::directory_iterator(); ++it)
    if (fs::exists(it->path() / "status.json")) out.push_back(it->path());
  return out;
}

bool wait_file(const fs::path& p, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (fs::exists(p) && !read_file(p).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class TuiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tmux_available()) GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
  }
  // A copy of datasets_example/<name> in the temp dir.
  fs::path copy_dataset(const std::string& name) {
    fs::path to = tmp_.path() / name;
    fs::copy(source_dir() / "datasets_example" / name, to, fs::copy_options::recursive);
    return to;
  }
  void expect_screen(const TmuxSession& s, const std::string& text, int timeout_ms = 10000) {
    std::string last;
    EXPECT_TRUE(s.wait_for(text, timeout_ms, &last)) << "waiting for '" << text << "'; screen:\n"
                                                     << last;
  }
  TempDir tmp_;
  fs::path exit_file() const { return tmp_.path() / "exit_code"; }
};

TEST_F(TuiTest, DatasetEditUndoRedoRoundTrip) {
  fs::path ds = copy_dataset("clean");
  fs::path caption = ds / "10_lathecat" / "cat_01.txt";
  const std::string original = read_file(caption);
  EditOp add;
  add.kind = EditOp::Kind::Add;
  add.tag = "tui added";
  const std::string edited = *edit_caption_bytes(add, original);

  // A relative dataset path, as typed in the dataset's parent folder.
  TmuxSession s(tui_line("clean", exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  expect_screen(s, "lathecat");
  expect_screen(s, "Caption cat_01.jpg");
  s.keys({"Tab", "Tab", "a"});
  expect_screen(s, "Tag to add");
  s.type("tui added");
  s.keys({"Enter"});
  expect_screen(s, "batch #1");
  expect_screen(s, "7 tui added");
  EXPECT_EQ(read_file(caption), edited);

  s.keys({"u"});
  expect_screen(s, "undid add");
  EXPECT_TRUE(s.wait_gone("7 tui added"));
  EXPECT_EQ(read_file(caption), original);

  s.keys({"C-r"});
  expect_screen(s, "redid add");
  expect_screen(s, "7 tui added");
  EXPECT_EQ(read_file(caption), edited);

  // Remove the selected tag (the cursor is on the first tag, the activation tag), then undo.
  s.keys({"u"});
  expect_screen(s, "undid add");
  s.keys({"j", "d"});
  expect_screen(s, "remove \"cat\": 1 caption(s)");
  EXPECT_EQ(read_file(caption).find(", cat,"), std::string::npos);
  s.keys({"u"});
  expect_screen(s, "undid remove");
  EXPECT_EQ(read_file(caption), original);

  s.keys({"q"});
  ASSERT_TRUE(wait_file(exit_file(), 10000));
  EXPECT_EQ(read_file(exit_file()), "0\n");
}

TEST_F(TuiTest, TagsScreenFilterRenameWithConfirmation) {
  fs::path ds = copy_dataset("clean");
  fs::path caption = ds / "10_lathecat" / "cat_01.txt";
  const std::string original = read_file(caption);
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  s.keys({"2"});
  expect_screen(s, "Tags of the whole dataset");
  s.keys({"c"});
  expect_screen(s, "Tags of the concept lathecat");
  s.keys({"/"});
  expect_screen(s, "Show tags containing");
  s.type("orange");
  s.keys({"Enter"});
  expect_screen(s, "filter \"orange\" (1 shown)");
  expect_screen(s, "orange fur");
  s.keys({"r"});
  expect_screen(s, "Rename \"orange fur\"");
  s.keys({"C-u"});
  s.type("ginger fur");
  s.keys({"Enter"});
  expect_screen(s, "caption file(s) will change");
  expect_screen(s, "[ Cancel ]");
  // Cancel has the focus: Enter changes nothing.
  s.keys({"Enter"});
  EXPECT_TRUE(s.wait_gone("[ Cancel ]"));
  EXPECT_EQ(read_file(caption), original);
  // Again, and confirm with y.
  s.keys({"r", "C-u"});
  expect_screen(s, "Rename \"orange fur\"");
  s.type("ginger fur");
  s.keys({"Enter"});
  expect_screen(s, "[ Cancel ]");
  s.keys({"y"});
  expect_screen(s, "caption(s) changed, batch #1");
  EXPECT_NE(read_file(caption).find("ginger fur"), std::string::npos);
  s.keys({"u"});
  expect_screen(s, "undid rename");
  EXPECT_EQ(read_file(caption), original);
}

TEST_F(TuiTest, AuditGroupsBySeverityAndJumpsToTheImage) {
  fs::path ds = copy_dataset("messy");
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 4");
  s.keys({"3"});
  expect_screen(s, "ERROR (5)");  // truncated.jpg is found without --deep
  expect_screen(s, "WARNING (19)");  // 2 from the token checks, on Lathe's vocabulary
  expect_screen(s, "caption.invalid_utf8");
  expect_screen(s, "hint: re-save it as UTF-8");
  s.keys({"Enter"});
  expect_screen(s, "Caption invalid_utf8.jpg");
  // A tag finding jumps to the Tags screen filtered to the tag.
  s.keys({"3"});
  expect_screen(s, "ERROR (5)");  // truncated.jpg is found without --deep
  for (int i = 0; i < 7; ++i) s.keys({"j"});
  expect_screen(s, "lacks the activation tag 'lathecat'");
  s.keys({"Enter"});
  expect_screen(s, "filter \"lathecat\"");
}

TEST_F(TuiTest, BucketsPlanFollowsBatchSizeAndPolicy) {
  fs::path ds = copy_dataset("clean");
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  s.keys({"4"});
  expect_screen(s, "Resolution 512, batch size 1, policy partial");
  expect_screen(s, "entries");
  expect_screen(s, "512x512");
  s.keys({"b", "C-u"});
  s.type("64");
  s.keys({"Enter"});
  expect_screen(s, "batch size 64");
  expect_screen(s, "never fills a batch");
  s.keys({"p"});
  expect_screen(s, "policy drop");
  s.keys({"b", "C-u"});
  s.type("zero");
  s.keys({"Enter"});
  expect_screen(s, "batch size must be a whole number");
}

TEST_F(TuiTest, HelpOverlayListsTheScreensKeys) {
  fs::path ds = copy_dataset("clean");
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  s.keys({"?"});
  expect_screen(s, "Keys (Esc closes)");
  expect_screen(s, "Ctrl-R");
  expect_screen(s, "Everywhere");
  s.keys({"Escape"});
  EXPECT_TRUE(s.wait_gone("Keys (Esc closes)"));
  expect_screen(s, "Concepts 2");
}

TEST_F(TuiTest, TooSmallThenResized) {
  fs::path ds = copy_dataset("clean");
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file()), tmp_.path(), 70, 20);
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "terminal too small: need 80x24");
  s.resize(80, 24);
  expect_screen(s, "Concepts 2");
  s.resize(140, 40);
  expect_screen(s, "Concepts 2");
  s.resize(60, 30);
  expect_screen(s, "terminal too small: need 80x24");
}

TEST_F(TuiTest, PlainAsciiUnderLangC) {
  fs::path ds = copy_dataset("clean");
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file(), "LANG=C LC_ALL=C TERM=xterm"),
                tmp_.path(), 80, 24);
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "- Concepts 2 -");
  expect_screen(s, "- Preview ---");
  std::string screen = s.capture();
  for (unsigned char ch : screen) EXPECT_LT(ch, 0x80) << "non-ASCII output under LANG=C";
}

// The image preview's colours at each depth, read back from tmux's cell colours: truecolor
// (SGR 38;2 / 48;2) when COLORTERM says so and a direct-colour terminfo entry exists (built
// here with tic, as ncurses-term's xterm-direct would be), 256 colours (38;5 / 48;5)
// without COLORTERM, whole cells of the 8 ANSI background colours on an 8-colour terminal.
TEST_F(TuiTest, PreviewColourDepths) {
  fs::path ds = copy_dataset("clean");
  fs::path db = tmp_.path() / "terminfo";
  write_text(tmp_.path() / "lt.src",
             "lathetest-256color|test entry,\n\tuse=xterm-256color,\n"
             "lathetest-direct|test direct-colour entry,\n"
             "\tcolors#0x1000000, pairs#0x10000, RGB,\n"
             "\tsetab=\\E[%?%p1%{8}%<%t4%p1%d%e48;2;%p1%{65536}%/%d;%p1%{256}%/"
             "%{255}%&%d;%p1%{255}%&%d%;m,\n"
             "\tsetaf=\\E[%?%p1%{8}%<%t3%p1%d%e38;2;%p1%{65536}%/%d;%p1%{256}%/"
             "%{255}%&%d;%p1%{255}%&%d%;m,\n"
             "\tuse=xterm-256color,\n");
  auto tic = run_command("tic -x -o " + shell_quote(db.string()) + " " +
                         shell_quote((tmp_.path() / "lt.src").string()));
  ASSERT_EQ(tic.exit_code, 0) << tic.output;
  struct Case {
    std::string env, expect, reject;
  } cases[] = {
      {"TERMINFO=" + db.string() + " TERM=lathetest-256color COLORTERM=truecolor", "48;2;",
       "48;5;"},
      {"TERMINFO=" + db.string() + " TERM=lathetest-256color COLORTERM=", "48;5;", "48;2;"},
      {"TERM=xterm COLORTERM=", "\x1b[44m", "48;5;"},
  };
  for (const auto& c : cases) {
    TmuxSession s(tui_line(shell_quote(ds.string()), exit_file(), "LANG=C.UTF-8 " + c.env),
                  tmp_.path());
    ASSERT_TRUE(s.started()) << s.start_error();
    expect_screen(s, "Preview");
    std::string colours;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      colours = s.capture_colours();
    } while (colours.find(c.expect) == std::string::npos && std::chrono::steady_clock::now() < end);
    EXPECT_NE(colours.find(c.expect), std::string::npos) << c.env;
    EXPECT_EQ(colours.find(c.reject), std::string::npos) << c.env;
  }
}

TEST_F(TuiTest, HangUpEndsTheTuiCleanly) {
  fs::path ds = copy_dataset("clean");
  TmuxSession s(tui_line(shell_quote(ds.string()), exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  s.hang_up();
  ASSERT_TRUE(wait_file(exit_file(), 10000)) << "lathe tui did not exit after SIGHUP";
  EXPECT_EQ(read_file(exit_file()), "0\n");
}

TEST_F(TuiTest, RunsScreenWithoutRuns) {
  fs::path ds = copy_dataset("clean");
  TmuxSession s(
      tui_line(shell_quote(ds.string()) + " --runs " + shell_quote((tmp_.path() / "runs").string()),
               exit_file()),
      tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  s.keys({"5"});
  expect_screen(s, "No runs yet in");
  s.keys({"6"});
  expect_screen(s, "Profiles");
}

}  // namespace
}  // namespace lathe::test

namespace lathe::test {
namespace {

// A tiny run (the demo profile: random SD 1.5-shaped weights, one epoch) started from the
// Launch screen, paused and resumed from its page, watched to its end; meanwhile a second
// TUI watching the runs folder is hung up, which must leave the run alone.
TEST_F(TuiTest, LaunchATinyRunAndWatchItToTheEnd) {
  fs::create_directories(tmp_.path() / "profiles");
  fs::copy(source_dir() / "profiles" / "demo.toml", tmp_.path() / "profiles" / "demo.toml");
  fs::create_directories(tmp_.path() / "datasets_example");
  copy_dataset("clean");
  fs::rename(tmp_.path() / "clean", tmp_.path() / "datasets_example" / "clean");

  TmuxSession s(tui_line("datasets_example/clean", exit_file()), tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "Concepts 2");
  s.keys({"6"});
  expect_screen(s, ">demo.toml");
  s.keys({"Enter"});
  expect_screen(s, "profile is valid");
  s.keys({"j", "j", "Enter"});
  expect_screen(s, "Edit training.epochs");
  s.keys({"C-u"});
  s.type("1");
  s.keys({"Enter"});
  expect_screen(s, "training.epochs      1  *");
  s.keys({"S"});
  expect_screen(s, "Run 20");
  expect_screen(s, "running", 60000);

  fs::path runs = tmp_.path() / "runs";
  ASSERT_EQ(run_dirs(runs).size(), 1u);
  fs::path run_dir = run_dirs(runs).front();

  // A second TUI on the runs folder sees the run, then its terminal hangs up.
  fs::path exit2 = tmp_.path() / "exit_code_2";
  {
    TmuxSession watcher(tui_line(shell_quote(runs.string()), exit2), tmp_.path());
    ASSERT_TRUE(watcher.started()) << watcher.start_error();
    expect_screen(watcher, run_dir.filename().string());
    watcher.hang_up();
    ASSERT_TRUE(wait_file(exit2, 10000));
    EXPECT_EQ(read_file(exit2), "0\n");
  }

  s.keys({"p"});
  expect_screen(s, "ok pause");
  // A pause lands at the next step boundary; on a loaded 2-core machine (ctest -j2 beside the
  // heaviest trainer tests) one step of the tiny run can take well over 20 s.
  expect_screen(s, "paused", 120000);
  s.keys({"r"});
  expect_screen(s, "ok resume");
  expect_screen(s, " done ", 240000);
  expect_screen(s, "Epochs, ranked by");
  expect_screen(s, "epochs/demo-e0001.safetensors");
  EXPECT_NE(read_file(run_dir / "status.json").find("\"done\""), std::string::npos);

  // Back on the Runs list: the run, its state and a loss sparkline.
  s.keys({"q"});
  expect_screen(s, "loss curve");
  expect_screen(s, run_dir.filename().string());
  s.keys({"q"});
  ASSERT_TRUE(wait_file(exit_file(), 10000));
  EXPECT_EQ(read_file(exit_file()), "0\n");
}

}  // namespace
}  // namespace lathe::test
