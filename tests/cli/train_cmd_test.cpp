// `lathe train` and `lathe runs ...` on real tiny runs, as a user would drive them: a detached
// run controlled over its socket (pause, resume, stop with a checkpoint), one run at a time
// (refused, or queued and started when the first ends), kill -9 at a random step and resume
// giving bit-identical LoRA tensors, TensorBoard files readable back, a failed write leaving
// existing checkpoints and epoch files intact.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <random>

#include "io/atomic_file.h"
#include "run_command.h"
#include "runs/metrics_log.h"
#include "runs/tensorboard_events.h"
#include "train_fixture.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

std::string train(const fs::path& profile, const fs::path& runs, const std::string& extra = "") {
  return "train " + q(profile) + " --runs-dir " + q(runs) + " " + extra;
}

TEST(TrainCommand, DetachedRunIsControlledOverItsSocket) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 200);  // long enough to be caught running
  auto runs = dir / "runs";
  CommandResult start = run_lathe(train(profile, runs, "--name ctl"));
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_NE(start.output.find("started run "), std::string::npos) << start.output;
  EXPECT_NE(start.output.find("lathe runs tail "), std::string::npos) << start.output;
  RunPaths run = only_run(runs);
  EXPECT_TRUE(fs::exists(run.profile()));
  ASSERT_TRUE(wait_until([&] { return status_of(run).step >= 2; })) << read_file(run.log());
  RunStatus s = status_of(run);
  EXPECT_EQ(s.state, RunState::Running);
  EXPECT_NE(s.pid, ::getpid());
  EXPECT_NE(::getsid(static_cast<pid_t>(s.pid)), ::getsid(0));  // its own session

  // One run at a time: a second one is refused, naming the first.
  CommandResult second = run_lathe(train(profile, runs, "--name two"));
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find(run.run_id()), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("--queue"), std::string::npos) << second.output;
  EXPECT_EQ(list_runs(runs).size(), 1u);

  std::string id = " " + run.run_id() + " --runs-dir " + q(runs);
  CommandResult pause = run_lathe("runs pause --wait --timeout 60" + id);
  ASSERT_EQ(pause.exit_code, 0) << pause.output;
  EXPECT_EQ(status_of(run).state, RunState::Paused);
  EXPECT_NE(run_lathe("runs list --runs-dir " + q(runs)).output.find("paused"), std::string::npos);
  CommandResult resume = run_lathe("runs resume --wait --timeout 60" + id);
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_EQ(status_of(run).state, RunState::Running);

  // Queued behind it: starts when it ends.
  CommandResult queued = run_lathe(train(profile, runs, "--name two --queue"));
  ASSERT_EQ(queued.exit_code, 0) << queued.output;
  EXPECT_NE(queued.output.find("queued run "), std::string::npos) << queued.output;
  ASSERT_EQ(list_runs(runs).size(), 2u);
  RunPaths second_run = list_runs(runs)[1].run_id().find("two") != std::string::npos
                            ? list_runs(runs)[1]
                            : list_runs(runs)[0];
  EXPECT_EQ(status_of(second_run).state, RunState::Queued);

  CommandResult stop = run_lathe("runs stop --wait --timeout 120" + id);
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  s = status_of(run);
  EXPECT_EQ(s.state, RunState::Stopped) << read_file(run.log());
  ASSERT_FALSE(s.last_checkpoint.empty());
  EXPECT_TRUE(fs::exists(run.checkpoints() / s.last_checkpoint / "DONE"));
  EXPECT_TRUE(fs::exists(run.epochs() / fmt::format("tiny-s{:06}.safetensors", s.step)));
  EXPECT_FALSE(fs::exists(run.control_socket()));

  ASSERT_TRUE(wait_until([&] { return status_of(second_run).state == RunState::Running; }))
      << read_file(run.log());
  CommandResult stop2 =
      run_lathe("runs stop --wait --timeout 120 " + second_run.run_id() + " --runs-dir " + q(runs));
  EXPECT_EQ(stop2.exit_code, 0) << stop2.output;
  EXPECT_EQ(status_of(second_run).state, RunState::Stopped);
}

TEST(TrainCommand, KillNineThenResumeGivesBitIdenticalTensors) {
  TempDir dir;
  // 30 steps: killing at step 3..14 leaves a wide margin before the end, however fast the CPU.
  auto profile = make_tiny_profile(dir, 5);
  CommandResult whole = run_lathe(train(profile, dir / "a", "--foreground --name whole"));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_NE(whole.output.find("epoch files to try"), std::string::npos) << whole.output;
  RunPaths a = only_run(dir / "a");

  // TensorBoard reads what the run wrote: one loss/train scalar per step.
  int loss_events = 0;
  for (const auto& e : fs::directory_iterator(a.dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      for (const auto& ev : read_scalar_events(e.path())) loss_events += ev.tag == "loss/train";
  EXPECT_EQ(loss_events, 30);

  std::random_device rd;
  const int kill_after = 3 + static_cast<int>(rd() % 12);  // a step in 3..14, after a checkpoint
  SCOPED_TRACE("killed at step >= " + std::to_string(kill_after));
  CommandResult start = run_lathe(train(profile, dir / "b", "--name killed"));
  ASSERT_EQ(start.exit_code, 0) << start.output;
  RunPaths b = only_run(dir / "b");
  ASSERT_TRUE(wait_until([&] {
    RunStatus s = status_of(b);
    return (s.step >= kill_after && !s.last_checkpoint.empty()) || !is_live_state(s.state);
  }));
  RunStatus s = status_of(b);
  ASSERT_EQ(s.state, RunState::Running) << read_file(b.log());
  ASSERT_EQ(::kill(static_cast<pid_t>(s.pid), SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return !run_process_alive(status_of(b)); }));
  EXPECT_EQ(effective_state(status_of(b)), RunState::Interrupted);
  CommandResult list = run_lathe("runs list --runs-dir " + q(dir / "b"));
  EXPECT_NE(list.output.find("interrupted"), std::string::npos) << list.output;
  CommandResult show = run_lathe("runs show killed --runs-dir " + q(dir / "b"));
  EXPECT_NE(show.output.find("lathe train --resume " + b.run_id()), std::string::npos)
      << show.output;

  CommandResult resumed =
      run_lathe("train --resume killed --foreground --runs-dir " + q(dir / "b"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output << read_file(b.log());
  EXPECT_EQ(status_of(b).state, RunState::Done);
  for (const char* file :
       {"tiny.safetensors", "tiny-e0002.safetensors", "tiny-e0005.safetensors"}) {
    ASSERT_TRUE(fs::exists(b.epochs() / file)) << file;
    EXPECT_EQ(tensor_difference(a.epochs() / file, b.epochs() / file), "") << file;
  }
  // The log was cut back to the checkpoint: each step once, as in the uninterrupted run.
  RunMetrics ma = read_metrics(a.metrics()), mb = read_metrics(b.metrics());
  ASSERT_EQ(ma.steps.size(), mb.steps.size());
  for (std::size_t i = 0; i < ma.steps.size(); ++i) {
    EXPECT_EQ(ma.steps[i].step, mb.steps[i].step);
    EXPECT_EQ(ma.steps[i].loss, mb.steps[i].loss) << "step " << ma.steps[i].step;
  }
}

TEST(TrainCommand, NanLossFailsTheRunWithAClearMessage) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 3);
  CommandResult r = run_lathe(train(profile, dir / "runs", "--foreground --set optimizer.lr=1e30"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  RunPaths run = only_run(dir / "runs");
  RunStatus s = status_of(run);
  EXPECT_EQ(s.state, RunState::Failed);
  EXPECT_NE(s.last_error.find("loss is nan"), std::string::npos) << s.last_error;
  EXPECT_NE(r.output.find("loss is nan"), std::string::npos) << r.output;
  EXPECT_NE(run_lathe("runs show " + run.run_id() + " --runs-dir " + q(dir / "runs"))
                .output.find("last error  step"),
            std::string::npos);
}

TEST(TrainCommand, MaxStepsInsideAnEpochSavesTheEpochReached) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 3);  // 6 steps per epoch
  CommandResult r = run_lathe(train(profile, dir / "runs", "--foreground --set training.max_steps=4"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  RunPaths run = only_run(dir / "runs");
  const fs::path final_file = run.epochs() / "tiny.safetensors";
  ASSERT_TRUE(fs::exists(final_file)) << r.output;
  // Stopped at step 4 of epoch 1: the file says epoch 1, as kohya's does, not 0.
  EXPECT_EQ(SafetensorsFile(final_file).metadata().at("ss_epoch"), "1");
  // The log says what "auto" precision became on this machine.
  EXPECT_NE(read_file(run.log()).find("precision: base weights auto ("), std::string::npos);

  CommandResult show = run_lathe("runs show " + run.run_id() + " --runs-dir " + q(dir / "runs"));
  EXPECT_NE(show.output.find("\n  epochs/tiny.safetensors  ("), std::string::npos) << show.output;
  EXPECT_EQ(show.output.find("no epoch has been saved yet"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("none ranked: no epoch has ended"), std::string::npos) << show.output;
}

TEST(TrainCommand, ADeviceThisMachineLacksFailsBeforeARunIsMade) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 1);
  CommandResult r = run_lathe(train(profile, dir / "runs", "--foreground --set training.device=cuda:99"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("training.device \"cuda:99\""), std::string::npos) << r.output;
  EXPECT_TRUE(list_runs(dir / "runs").empty());  // nothing was created or loaded
}

// Every file under checkpoints/ and epochs/ with its bytes.
std::map<std::string, std::string> saved_bytes(const RunPaths& run) {
  std::map<std::string, std::string> out;
  for (const fs::path& root : {run.checkpoints(), run.epochs()})
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) out[fs::relative(e.path(), run.dir).string()] = read_file(e.path());
  return out;
}

TEST(TrainCommand, FailedWriteKeepsExistingCheckpointsAndEpochFiles) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 200);
  auto runs = dir / "runs";
  ASSERT_EQ(run_lathe(train(profile, runs, "--name full")).exit_code, 0);
  RunPaths run = only_run(runs);
  ASSERT_TRUE(wait_until([&] { return status_of(run).step >= 7; })) << read_file(run.log());
  std::string id = " " + run.run_id() + " --runs-dir " + q(runs);
  ASSERT_EQ(run_lathe("runs stop --wait --timeout 120" + id).exit_code, 0);
  ASSERT_EQ(status_of(run).state, RunState::Stopped);
  const auto before = saved_bytes(run);
  ASSERT_FALSE(before.empty());

  // A disk that fills up: a 64 KiB file size limit (root ignores permissions, not this) makes
  // every LoRA / checkpoint write fail with EFBIG while the small logs still fit.
  CommandResult full =
      run_command("bash -c " + shell_quote("trap '' XFSZ; ulimit -f 64; exec " +
                                           shell_quote(lathe_binary().string()) +
                                           " train --resume" + id + " --foreground"));
  EXPECT_EQ(full.exit_code, 1) << full.output;
  RunStatus s = status_of(run);
  EXPECT_EQ(s.state, RunState::Failed);
  EXPECT_NE(s.last_error.find("File too large"), std::string::npos) << s.last_error;
  const auto after = saved_bytes(run);
  for (const auto& [file, bytes] : before) {
    ASSERT_TRUE(after.count(file)) << file << " was removed";
    EXPECT_TRUE(after.at(file) == bytes) << file << " changed";
  }
  // Whatever the failed attempt left is not a complete checkpoint.
  for (const auto& [file, bytes] : after)
    if (!before.count(file)) EXPECT_EQ(file.find("/DONE"), std::string::npos) << file;

  // With space again, the run goes on from its last good checkpoint.
  CommandResult again = run_lathe("runs show" + id);
  EXPECT_NE(again.output.find("lathe train --resume"), std::string::npos) << again.output;
}

}  // namespace
}  // namespace lathe::test
