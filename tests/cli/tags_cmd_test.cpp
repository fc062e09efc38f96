// `lathe tags` end to end on generated datasets with the real binary: dry run, apply, scopes,
// history, undo/redo, stats, errors and exit codes, and a real `lathe tags` process killed
// with SIGKILL mid-batch whose batch the next command rolls back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "dataset/image_fixtures.h"
#include "io/atomic_file.h"
#include "run_command.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using lathe::read_file;
using lathe::test::run_lathe;
using lathe::test::shell_quote;
using lathe::test::TempDir;
using lathe::test::write_text;

namespace {

// Concepts jinx (10 repeats) and vi (5), each image with a caption of `caption_for(i)`.
struct Dataset {
  TempDir dir;
  std::vector<fs::path> captions;
  std::vector<std::string> original;
  std::string q() const { return shell_quote(dir.path().string()); }

  void add(const std::string& folder, int count, const std::string& caption) {
    static const std::string png = lathe::test::encode_image(".png", 8, 8);
    for (int i = 0; i < count; ++i) {
      fs::path base = dir / (folder + "/" + std::to_string(i));
      write_text(base.string() + ".png", png);
      write_text(base.string() + ".txt", caption);
      captions.push_back(base.string() + ".txt");
      original.push_back(caption);
    }
  }
  std::vector<std::string> bytes() const {
    std::vector<std::string> out;
    for (const auto& c : captions) out.push_back(read_file(c));
    return out;
  }
};

std::unique_ptr<Dataset> small_dataset() {
  auto d = std::make_unique<Dataset>();
  d->add("10_jinx", 3, "jinx, 1girl, blurry, smile\n");
  d->add("5_vi", 2, "\xEF\xBB\xBF" "vi,blurry,solo\r\n");
  return d;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST(TagsCmd, DryRunWritesNothingThenApplyUndoRedo) {
  auto d = small_dataset();
  auto dry = run_lathe("tags remove " + d->q() + " blurry --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_TRUE(contains(dry.output, "remove \"blurry\" (whole dataset): 5 of 5 caption(s) would "
                                   "change (dry run, nothing written)"))
      << dry.output;
  EXPECT_TRUE(contains(dry.output, "- jinx, 1girl, blurry, smile")) << dry.output;
  EXPECT_TRUE(contains(dry.output, "+ jinx, 1girl, smile")) << dry.output;
  EXPECT_EQ(d->bytes(), d->original);
  EXPECT_FALSE(fs::exists(d->dir / ".lathe"));

  auto applied = run_lathe("tags remove " + d->q() + " blurry");
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(contains(applied.output, "journaled as batch #1")) << applied.output;
  EXPECT_EQ(read_file(d->captions[0]), "jinx, 1girl, smile\n");
  EXPECT_EQ(read_file(d->captions[3]), "\xEF\xBB\xBF" "vi,solo\r\n");  // BOM, CRLF, "," kept

  auto history = run_lathe("tags history " + d->q());
  ASSERT_EQ(history.exit_code, 0) << history.output;
  EXPECT_TRUE(contains(history.output, "#1")) << history.output;
  EXPECT_TRUE(contains(history.output, "applied")) << history.output;
  EXPECT_TRUE(contains(history.output, "remove \"blurry\" (whole dataset)")) << history.output;

  auto undo = run_lathe("tags undo " + d->q());
  ASSERT_EQ(undo.exit_code, 0) << undo.output;
  EXPECT_TRUE(contains(undo.output, "undid batch #1")) << undo.output;
  EXPECT_EQ(d->bytes(), d->original);
  auto redo = run_lathe("tags redo " + d->q() + " --json");
  ASSERT_EQ(redo.exit_code, 0) << redo.output;
  auto j = nlohmann::json::parse(redo.output);
  EXPECT_EQ(j["batch"], 1);
  EXPECT_EQ(j["files"], 5);
  EXPECT_EQ(read_file(d->captions[0]), "jinx, 1girl, smile\n");
  auto nothing = run_lathe("tags redo " + d->q());
  EXPECT_TRUE(contains(nothing.output, "nothing to redo")) << nothing.output;
}

TEST(TagsCmd, ScopesAndOperations) {
  auto d = small_dataset();
  auto r = run_lathe("tags add " + d->q() + " twins --front --concept vi --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["files_changed"], 2);
  EXPECT_EQ(j["scope"], "concept vi");
  EXPECT_EQ(read_file(d->captions[3]), "\xEF\xBB\xBF" "twins,vi,blurry,solo\r\n");
  EXPECT_EQ(read_file(d->captions[0]), d->original[0]);

  r = run_lathe("tags rename " + d->q() + " 1girl girl --where-tag smile --where-no-tag solo");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(d->captions[1]), "jinx, girl, blurry, smile\n");

  r = run_lathe("tags move-first " + d->q() + " smile --file " +
                shell_quote((d->dir / "10_jinx/2.png").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(d->captions[2]), "smile, jinx, girl, blurry\n");
  EXPECT_EQ(read_file(d->captions[1]), "jinx, girl, blurry, smile\n");

  r = run_lathe("tags set " + d->q() + " 'a, b' --file " + shell_quote(d->captions[4].string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(d->captions[4]), "\xEF\xBB\xBF" "a, b\r\n");

  write_text(d->captions[0], "Long_Hair ,  x,,x\n");
  r = run_lathe("tags normalize " + d->q() + " --underscores --lowercase --concept jinx");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(d->captions[0]), "long hair, x\n");

  auto stats = run_lathe("tags stats " + d->q() + " --concept jinx --json");
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  auto s = nlohmann::json::parse(stats.output);
  EXPECT_EQ(s["captioned_images"], 3);
  auto text = run_lathe("tags stats " + d->q());
  EXPECT_TRUE(contains(text.output, "whole dataset: 5 captioned image(s)")) << text.output;
  EXPECT_TRUE(contains(text.output, "blurry")) << text.output;

  auto history = run_lathe("tags history " + d->q() + " --json");
  EXPECT_EQ(nlohmann::json::parse(history.output)["batches"].size(), 5u) << history.output;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(run_lathe("tags undo " + d->q()).exit_code, 0);
  // Undoing normalize gave back the hand edit, made outside the journal; the rename batch
  // wrote caption 0 too, so undoing it is refused rather than clobbering the hand edit.
  EXPECT_EQ(read_file(d->captions[0]), "Long_Hair ,  x,,x\n");
  auto refused = run_lathe("tags undo " + d->q());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(contains(refused.output, "10_jinx/0.txt")) << refused.output;
  EXPECT_EQ(read_file(d->captions[1]), "jinx, girl, blurry, smile\n");
  write_text(d->captions[0], "jinx, girl, blurry, smile\n");  // put it back as batch 2 left it
  for (int i = 0; i < 2; ++i) ASSERT_EQ(run_lathe("tags undo " + d->q()).exit_code, 0);
  EXPECT_EQ(d->bytes(), d->original);
}

TEST(TagsCmd, ErrorsAndExitCodes) {
  auto d = small_dataset();
  auto r = run_lathe("tags remove " + d->q() + " blurry --concept nobody");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "no concept \"nobody\"")) << r.output;
  r = run_lathe("tags remove " + d->q());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_lathe("tags add " + d->q() + " 'a, b'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "comma")) << r.output;
  r = run_lathe("tags set " + d->q() + " text");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_lathe("tags remove /nonexistent/folder blurry");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = run_lathe("tags undo " + d->q());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "nothing to undo")) << r.output;
  EXPECT_EQ(d->bytes(), d->original);
}

namespace {

// Starts `lathe ARGS` with LATHE_TEST_PAUSE_AFTER_N_WRITES=n, waits until it reports the
// pause (it has then replaced n captions and sleeps), and kills it with SIGKILL.
void kill_lathe_mid_batch(const std::string& args, std::size_t n, const fs::path& log) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("LATHE_TEST_PAUSE_AFTER_N_WRITES", std::to_string(n).c_str(), 1);
    std::string cmd = "exec " + shell_quote(lathe::test::lathe_binary().string()) + " " + args +
                      " >/dev/null 2>" + shell_quote(log.string());
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool paused = false;
  for (int i = 0; i < 600 && !paused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    if (fs::exists(log, ec) && contains(read_file(log), "LATHE_TEST: paused")) paused = true;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(paused) << "lathe never reached the pause point: " << read_file(log);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

}  // namespace

TEST(TagsCmd, KilledBatchIsRolledBackByTheNextCommand) {
  Dataset d;
  d.add("10_many", 40, "tag, blurry, end\n");
  const std::string after = "tag, end\n";
  TempDir logs;
  kill_lathe_mid_batch("tags remove " + d.q() + " blurry", 15, logs / "kill.log");
  std::size_t changed = 0;
  for (const auto& b : d.bytes()) {
    ASSERT_TRUE(b == d.original[0] || b == after) << "half-written caption: " << b;
    changed += b == after;
  }
  EXPECT_EQ(changed, 15u);  // killed midway: a mix on disk

  auto next = run_lathe("tags history " + d.q());
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_TRUE(contains(next.output, "recovered from an interrupted apply of batch #1")) << next.output;
  EXPECT_TRUE(contains(next.output, "15 caption(s) restored")) << next.output;
  EXPECT_TRUE(contains(next.output, "rolled back  remove \"blurry\"")) << next.output;
  EXPECT_EQ(d.bytes(), d.original);
  for (const auto& e : fs::directory_iterator(d.dir / "10_many"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // An undo killed midway is rolled back too: the batch stays applied.
  ASSERT_EQ(run_lathe("tags remove " + d.q() + " blurry").exit_code, 0);
  kill_lathe_mid_batch("tags undo " + d.q(), 7, logs / "kill2.log");
  auto again = run_lathe("tags remove " + d.q() + " end --dry-run");
  EXPECT_TRUE(contains(again.output, "interrupted undo of batch #2")) << again.output;
  for (const auto& b : d.bytes()) EXPECT_EQ(b, after);
  ASSERT_EQ(run_lathe("tags undo " + d.q()).exit_code, 0);
  EXPECT_EQ(d.bytes(), d.original);
}

// `tags normalize` leaves a caption that is not UTF-8 as it is and says so, in the text and in
// --json, with exit code 1 (#14).
TEST(TagsCmd, NormalizeReportsInvalidUtf8Captions) {
  Dataset d;
  d.add("10_jinx", 1, "  Jinx ,, caf\xE9  \n");  // Latin-1 bytes
  d.add("5_vi", 1, " vi ,  solo,,solo\n");
  auto r = run_lathe("tags normalize " + d.q());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "normalize (whole dataset): 1 of 2 caption(s) changed")) << r.output;
  EXPECT_TRUE(contains(r.output, "1 caption(s) left unchanged:")) << r.output;
  EXPECT_TRUE(contains(r.output, "10_jinx/0.txt: not valid UTF-8: left unchanged; fix its encoding"))
      << r.output;
  EXPECT_EQ(read_file(d.captions[0]), d.original[0]);
  EXPECT_EQ(read_file(d.captions[1]), "vi, solo\n");

  Dataset d2;
  d2.add("10_jinx", 1, "caf\xE9,  x\n");
  auto j = run_lathe("tags normalize " + d2.q() + " --json");
  EXPECT_EQ(j.exit_code, 1) << j.output;
  auto doc = nlohmann::json::parse(j.output);
  ASSERT_EQ(doc["left_unchanged"].size(), 1u) << j.output;
  EXPECT_EQ(doc["left_unchanged"][0]["file"], "10_jinx/0.txt");
  EXPECT_NE(doc["left_unchanged"][0]["reason"].get<std::string>().find("not valid UTF-8"),
            std::string::npos);
  EXPECT_EQ(doc["files_changed"], 0);
}

// One caption over the size limit stops a whole-dataset edit with a message that names it and
// how to leave it out; --exclude then edits the rest (#14).
TEST(TagsCmd, OversizedCaptionNamesTheFileAndExcludeLeavesItOut) {
  auto d = small_dataset();
  const fs::path big = d->dir / "10_jinx" / "huge.txt";
  write_text(big, std::string((1 << 20) + 100, 'x'));
  auto r = run_lathe("tags remove " + d->q() + " blurry");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, big.string() + " is 1.0 MiB, more than the 1024 KiB")) << r.output;
  EXPECT_TRUE(contains(r.output, "--exclude 10_jinx/huge.txt")) << r.output;
  EXPECT_EQ(d->bytes(), d->original);

  auto ok = run_lathe("tags remove " + d->q() + " blurry --exclude 10_jinx/huge.txt --exclude " +
                      shell_quote((d->dir / "10_jinx" / "0.png").string()));
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(contains(ok.output, "(whole dataset, excluding 2 files): 4 of 4 caption(s) changed"))
      << ok.output;
  EXPECT_EQ(read_file(d->captions[0]), d->original[0]);  // its image was excluded
  EXPECT_EQ(read_file(d->captions[1]), "jinx, 1girl, smile\n");

  auto typo = run_lathe("tags remove " + d->q() + " blurry --exclude 10_jinx/nope.txt");
  EXPECT_EQ(typo.exit_code, 1) << typo.output;
  EXPECT_TRUE(contains(typo.output, "--exclude 10_jinx/nope.txt: not a caption file")) << typo.output;
}
