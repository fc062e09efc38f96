// The TUI's sample images, driven in tmux: a run folder made here (status.json, a few loss
// records, sample PNGs drawn with OpenCV, no training) shows its newest samples on the run
// page; `i` opens the samples view, whose keys move through epochs and prompts; the selected
// image is the one drawn (each sample is one flat colour, read back from tmux's cell colours);
// an image the trainer adds later is followed; the help overlay lists the keys.
#include <gtest/gtest.h>

#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <thread>
#include <vector>

#include "run_command.h"
#include "runs/metrics_log.h"
#include "runs/run_status.h"
#include "runs/sample_files.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "tmux_session.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

// Flat colours (OpenCV's BGR order) with their xterm 256-colour cube index (pure colours map
// exactly): a 256-colour terminal draws each image cell as a half block in that colour.
struct Flat {
  cv::Scalar bgr;
  int index;
};
const Flat kRed{{0, 0, 255}, 196}, kGreen{{0, 255, 0}, 46}, kYellow{{0, 255, 255}, 226},
    kBlue{{255, 0, 0}, 21}, kMagenta{{255, 0, 255}, 201};

// A sample PNG, written under a temporary name and renamed in, as the trainer does.
void write_sample(const fs::path& run, std::int64_t step, int epoch, int prompt, const Flat& colour) {
  fs::create_directories(run / "samples");
  const fs::path tmp = run / "samples" / ".incoming.png";
  ASSERT_TRUE(cv::imwrite(tmp.string(), cv::Mat(64, 64, CV_8UC3, colour.bgr)));
  fs::rename(tmp, run / "samples" / format_sample_name(step, epoch, prompt, 1000 + prompt));
}

fs::path make_run(const fs::path& runs) {
  const fs::path run = runs / "20261207-120000-demo";
  for (const char* sub : {"epochs", "checkpoints", "samples"}) fs::create_directories(run / sub);
  RunStatus s;
  s.run_id = run.filename().string();
  s.name = "demo";
  s.state = RunState::Done;
  s.step = s.total_steps = 100;
  s.epoch = s.total_epochs = 2;
  s.last_loss = 0.25;
  write_run_status(run / "status.json", s);
  MetricsLog log(run / "metrics.jsonl");
  for (int step = 10; step <= 100; step += 10) {
    StepMetric m;
    m.step = step;
    m.epoch = step > 50 ? 1 : 0;
    m.loss = m.loss_smoothed = 1.0 / step * 10;
    log.append(m);
  }
  write_sample(run, 0, 0, 0, kRed);
  write_sample(run, 0, 0, 1, kGreen);
  write_sample(run, 50, 1, 0, kYellow);
  write_sample(run, 50, 1, 1, kMagenta);
  write_sample(run, 100, 2, 0, kBlue);
  write_sample(run, 100, 2, 1, kGreen);
  return run;
}

// Whether the pane shows a cell with background colour `index` of the 256-colour palette.
bool shows_background(const std::string& colours, int index) {
  return colours.find("48;5;" + std::to_string(index) + "m") != std::string::npos;
}

class TuiSamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tmux_available()) GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
  }
  void expect_screen(const TmuxSession& s, const std::string& text, int timeout_ms = 10000) {
    std::string last;
    EXPECT_TRUE(s.wait_for(text, timeout_ms, &last)) << "waiting for '" << text << "'; screen:\n"
                                                     << last;
  }
  // Polls the pane's colours until every image colour of `shown` is on it and none of `gone`.
  void expect_images(const TmuxSession& s, const std::vector<Flat>& shown,
                     const std::vector<Flat>& gone) {
    std::string colours;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      colours = s.capture_colours();
      bool ok = true;
      for (const Flat& f : shown) ok = ok && shows_background(colours, f.index);
      for (const Flat& f : gone) ok = ok && !shows_background(colours, f.index);
      if (ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < end);
    ADD_FAILURE() << "expected image colours not shown; pane:\n" << colours;
  }
  TempDir tmp_;
};

TEST_F(TuiSamplesTest, RunPageAndSamplesViewMoveThroughEpochsAndPrompts) {
  const fs::path runs = tmp_.path() / "runs";
  const fs::path run = make_run(runs);
  TmuxSession s("env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color COLORTERM= " +
                    shell_quote(lathe_binary().string()) + " tui " + shell_quote(runs.string()),
                tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "20261207-120000-demo");
  s.keys({"Enter"});
  // The run page: the newest samples beside the loss chart.
  expect_screen(s, "Samples, epoch 2, step 100 (i: all)");
  expect_images(s, {kBlue, kGreen}, {kYellow, kMagenta, kRed});

  s.keys({"i"});
  expect_screen(s, "Samples 20261207-120000-demo");
  // Opens on the newest row; the grid shows all three rows and both prompts.
  expect_screen(s, "epoch 2, step 100, loss 0.1000 (3/3)  prompt 1/2  seed 1000");
  expect_screen(s, "start");
  expect_screen(s, "prompt 2");
  expect_images(s, {kRed, kGreen, kYellow, kMagenta, kBlue}, {});

  // One image large: the selected one only.
  s.keys({"z"});
  expect_images(s, {kBlue}, {kGreen, kYellow, kMagenta, kRed});
  s.keys({"k"});
  expect_screen(s, "epoch 1, step 50, loss 0.2000 (2/3)  prompt 1/2");
  expect_images(s, {kYellow}, {kBlue});
  s.keys({"l"});
  expect_screen(s, "(2/3)  prompt 2/2  seed 1001");
  expect_images(s, {kMagenta}, {kYellow});
  s.keys({"g"});
  expect_screen(s, "start (1/3)  prompt 2/2");
  expect_images(s, {kGreen}, {kMagenta});
  s.keys({"h"});
  expect_screen(s, "start (1/3)  prompt 1/2");
  expect_images(s, {kRed}, {kGreen});
  s.keys({"Right", "Down"});
  expect_screen(s, "epoch 1, step 50, loss 0.2000 (2/3)  prompt 2/2");

  // On the newest row, a row the trainer adds later is followed.
  s.keys({"G"});
  expect_screen(s, "(3/3)  prompt 2/2");
  write_sample(run, 150, 3, 1, kMagenta);
  expect_screen(s, "epoch 3, step 150, loss 0.1000 (4/4)  prompt 2/2");
  // Prompt 1 was not rendered at that step.
  s.keys({"h"});
  expect_screen(s, "(4/4)  prompt 1/2  (not rendered)");
  expect_screen(s, "this prompt was not rendered at this step");

  // Back to the grid, then the keys in the help overlay.
  s.keys({"z", "?"});
  expect_screen(s, "Keys (Esc closes)");
  expect_screen(s, "later epoch");
  expect_screen(s, "next prompt");
  expect_screen(s, "one image large / grid");
  s.keys({"Escape", "q"});
  expect_screen(s, "Samples, epoch 3, step 150 (i: all)");
}

TEST_F(TuiSamplesTest, RunWithoutSamplesSaysHowToGetThem) {
  const fs::path runs = tmp_.path() / "runs";
  const fs::path run = make_run(runs);
  fs::remove_all(run / "samples");
  TmuxSession s("env LANG=C.UTF-8 LC_ALL=C.UTF-8 " + shell_quote(lathe_binary().string()) + " tui " +
                    shell_quote(runs.string()),
                tmp_.path());
  ASSERT_TRUE(s.started()) << s.start_error();
  expect_screen(s, "20261207-120000-demo");
  s.keys({"Enter"});
  expect_screen(s, "Epochs");
  EXPECT_EQ(s.capture().find("Samples,"), std::string::npos);
  s.keys({"i"});
  expect_screen(s, "No sample images yet in");
  expect_screen(s, "[sample] section");
}

}  // namespace
}  // namespace lathe::test
