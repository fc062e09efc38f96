// `lathe runs list|show|best|compare|tail|stop|queue` on run folders written by the test (no
// training): a dead pid shows as interrupted with the resume hint, best ranks by validation
// with minima, trend and files, compare draws curves and names the profile keys that differ,
// control requests to a run that is not running are clear errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "run_command.h"
#include "runs/metrics_log.h"
#include "runs/run_dir.h"
#include "runs/run_status.h"
#include "temp_dir.h"
#include "train/train_config.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

// A finished run: `val` holds one validation loss per epoch (10 steps each).
RunPaths synthetic_run(const fs::path& runs, const std::string& name, int rank,
                       const std::vector<double>& val, RunState state = RunState::Done) {
  RunPaths run = create_run_dir(runs, name, 1795300000 + rank);
  TrainConfig c = parse_train_config(
      "[model]\npath = \"tiny-random:sd15\"\n[dataset]\npath = \"/data\"\n", runs / "p.toml",
      {"network.rank=" + std::to_string(rank), "saving.name=" + name});
  write_file_atomic(run.profile(), render_profile_toml(c));
  MetricsLog log(run.metrics());
  const int epochs = static_cast<int>(val.size());
  for (int step = 1; step <= epochs * 10; ++step) {
    double loss = 1.0 / (1 + 0.05 * step);
    log.append(StepMetric{step, (step - 1) / 10 + 1, loss, loss, 1e-3, 5.0, 0});
  }
  for (int e = 1; e <= epochs; ++e) {
    char file[64];
    std::snprintf(file, sizeof file, "epochs/%s-e%04d.safetensors", name.c_str(), e);
    log.append(ValidationMetric{e, e * 10, val[e - 1], {}, 0});
    log.append(EpochMetric{e, e * 10, 0.5, file, 0});
  }
  RunStatus s;
  s.run_id = run.run_id();
  s.name = name;
  s.state = state;
  s.step = s.total_steps = epochs * 10;
  s.epoch = s.total_epochs = epochs;
  s.last_loss = 0.3;
  s.started_at = 1795300000;
  s.finished_at = s.updated_at = 1795300100;
  write_run_status(run.status(), s);
  return run;
}

TEST(RunsCommands, DeadProcessIsInterruptedWithAResumeHint) {
  TempDir dir;
  RunPaths run = synthetic_run(dir / "runs", "crashed", 4, {0.3, 0.2}, RunState::Running);
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  RunStatus s = read_run_status(run.status());
  s.pid = child;  // gone, as after kill -9 or a reboot
  s.finished_at = 0;
  write_run_status(run.status(), s);

  CommandResult list = run_lathe("runs list --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("interrupted"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find("running"), std::string::npos) << list.output;
  CommandResult show = run_lathe("runs show crashed --runs-dir " + q(dir / "runs"));
  EXPECT_NE(show.output.find("interrupted (status.json says running)"), std::string::npos)
      << show.output;
  EXPECT_NE(show.output.find("lathe train --resume " + run.run_id()), std::string::npos)
      << show.output;
  CommandResult pause = run_lathe("runs pause crashed --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(pause.exit_code, 1);
  EXPECT_NE(pause.output.find("not running"), std::string::npos) << pause.output;
  CommandResult json = run_lathe("runs list --json --runs-dir " + q(dir / "runs"));
  auto j = nlohmann::json::parse(json.output);
  EXPECT_EQ(j[0]["state"], "interrupted");
  EXPECT_EQ(j[0]["recorded_state"], "running");
}

TEST(RunsCommands, ShowSaysTheDeviceAndPeakGpuMemory) {
  TempDir dir;
  RunPaths run = synthetic_run(dir / "runs", "ongpu", 4, {0.3});
  RunStatus s = read_run_status(run.status());
  s.device = "cuda:0";
  s.peak_gpu_mib = 9216;
  s.last_peak_gpu_mib = 8704;
  write_run_status(run.status(), s);
  CommandResult show = run_lathe("runs show ongpu --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("device      cuda:0, peak GPU memory 9.00 GiB (last step 8.50 GiB)"), std::string::npos)
      << show.output;
  auto j = nlohmann::json::parse(run_lathe("runs show ongpu --json --runs-dir " + q(dir / "runs")).output);
  EXPECT_EQ(j["peak_gpu_mib"].get<double>(), 9216);
  EXPECT_EQ(j["device"], "cuda:0");
  // A CPU run has no memory line.
  synthetic_run(dir / "runs", "oncpu", 4, {0.3});
  EXPECT_EQ(run_lathe("runs show oncpu --runs-dir " + q(dir / "runs")).output.find("peak GPU"), std::string::npos);
}

TEST(DoctorCommand, SaysWhatThisMachineCanTrainOn) {
  TempDir dir;
  CommandResult text = run_lathe("doctor --runs-dir " + q(dir / "runs"));
  EXPECT_NE(text.output.find("libtorch 2."), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("CUDA        compiled in"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("disk "), std::string::npos) << text.output;
  CommandResult json = run_lathe("doctor --json --runs-dir " + q(dir / "runs"));
  auto j = nlohmann::json::parse(json.output);
  EXPECT_TRUE(j["cuda_compiled_in"].get<bool>());
  EXPECT_GT(j["cpu"]["threads"].get<int>(), 0);
  EXPECT_GT(j["runs_dir_free_gib"].get<double>(), 0);
  if (j["gpus"].empty()) {
    // No GPU here: a warning with the next step, not a failure.
    EXPECT_NE(text.output.find("no CUDA GPU is visible"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("next: training runs on the CPU"), std::string::npos) << text.output;
  } else {
    EXPECT_NE(text.output.find("cuda:0"), std::string::npos) << text.output;
  }
  const bool problem = json.output.find("\"problem\"") != std::string::npos;
  EXPECT_EQ(json.exit_code, problem ? 1 : 0) << json.output;
}

TEST(RunsCommands, BestRanksEpochsAndSaysWhatToTry) {
  TempDir dir;
  RunPaths run = synthetic_run(dir / "runs", "over", 4, {0.30, 0.21, 0.24, 0.27, 0.31});
  CommandResult best = run_lathe("runs best over --top 2 --runs-dir " + q(dir / "runs"));
  ASSERT_EQ(best.exit_code, 0) << best.output;
  EXPECT_NE(best.output.find("ranked by validation loss"), std::string::npos) << best.output;
  EXPECT_NE(best.output.find("epochs/over-e0002.safetensors  <- local minimum"), std::string::npos)
      << best.output;
  EXPECT_NE(best.output.find("overfitting"), std::string::npos) << best.output;
  EXPECT_NE(best.output.find("epoch files to try"), std::string::npos) << best.output;
  EXPECT_NE(best.output.find((run.dir / "epochs/over-e0003.safetensors").string()),
            std::string::npos);                                                 // second best
  EXPECT_EQ(best.output.find("over-e0005"), std::string::npos) << best.output;  // --top 2

  auto j = nlohmann::json::parse(
      run_lathe("runs best over --json --top 0 --runs-dir " + q(dir / "runs")).output);
  EXPECT_EQ(j["basis"], "validation loss");
  EXPECT_EQ(j["trend"], "rising");
  ASSERT_EQ(j["ranked"].size(), 5u);
  EXPECT_EQ(j["ranked"][0]["epoch"], 2);
  EXPECT_EQ(j["ranked"][0]["local_minimum"], true);
}

TEST(RunsCommands, CompareShowsCurvesBestEpochsAndDifferingKeys) {
  TempDir dir;
  synthetic_run(dir / "runs", "small", 4, {0.30, 0.25, 0.22});
  synthetic_run(dir / "runs", "large", 8, {0.28, 0.20, 0.26});
  CommandResult cmp = run_lathe("runs compare small large --runs-dir " + q(dir / "runs"));
  ASSERT_EQ(cmp.exit_code, 0) << cmp.output;
  EXPECT_NE(cmp.output.find("3 (0.22000 val)"), std::string::npos) << cmp.output;
  EXPECT_NE(cmp.output.find("2 (0.20000 val)"), std::string::npos) << cmp.output;
  EXPECT_NE(cmp.output.find("network.rank"), std::string::npos) << cmp.output;
  EXPECT_NE(cmp.output.find("saving.name"), std::string::npos) << cmp.output;
  EXPECT_EQ(cmp.output.find("optimizer.lr"), std::string::npos) << cmp.output;  // same in both
  auto j = nlohmann::json::parse(
      run_lathe("runs compare small large --json --runs-dir " + q(dir / "runs")).output);
  ASSERT_EQ(j["runs"].size(), 2u);
  bool rank_listed = false;
  for (const auto& row : j["differing_keys"])
    if (row["key"] == "network.rank") {
      rank_listed = true;
      EXPECT_EQ(row["values"][0], "4");
      EXPECT_EQ(row["values"][1], "8");
    }
  EXPECT_TRUE(rank_listed);
  EXPECT_EQ(run_lathe("runs compare small --runs-dir " + q(dir / "runs")).exit_code, 2);
}

TEST(RunsCommands, ListTailAndQueueOfFinishedRuns) {
  TempDir dir;
  RunPaths run = synthetic_run(dir / "runs", "done", 4, {0.3, 0.2, 0.1});
  write_text(run.log(), "line one\nline two\nline three\n");
  CommandResult list = run_lathe("runs list --runs-dir " + q(dir / "runs"));
  EXPECT_NE(list.output.find(run.run_id()), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("done"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("3/3"), std::string::npos) << list.output;
  CommandResult tail = run_lathe("runs tail done --lines 2 --follow --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(tail.exit_code, 0) << tail.output;
  EXPECT_EQ(tail.output.find("line one"), std::string::npos) << tail.output;
  EXPECT_NE(tail.output.find("line two\nline three\n"), std::string::npos) << tail.output;
  EXPECT_NE(tail.output.find("is done"), std::string::npos) << tail.output;  // --follow ends
  CommandResult stop = run_lathe("runs stop done --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(stop.exit_code, 1);
  EXPECT_NE(stop.output.find("is done, not running"), std::string::npos) << stop.output;
  CommandResult queue = run_lathe("runs queue --runs-dir " + q(dir / "runs"));
  EXPECT_NE(queue.output.find("no queued runs"), std::string::npos) << queue.output;
  CommandResult empty = run_lathe("runs list --runs-dir " + q(dir / "none"));
  EXPECT_NE(empty.output.find("no runs in"), std::string::npos) << empty.output;
}

TEST(RunsCommands, QueuedRunCanBeTakenOutOfTheQueue) {
  TempDir dir;
  RunPaths run = synthetic_run(dir / "runs", "waiting", 4, {}, RunState::Queued);
  CommandResult queue = run_lathe("runs queue --no-start --runs-dir " + q(dir / "runs"));
  EXPECT_NE(queue.output.find("1. " + run.run_id()), std::string::npos) << queue.output;
  CommandResult stop = run_lathe("runs stop waiting --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(read_run_status(run.status()).state, RunState::Stopped);
}

TEST(TrainCommandChecks, BadProfileAndBadResumeAreClearErrors) {
  TempDir dir;
  write_text(dir / "bad.toml", "[training]\nepochs = \"many\"\n");
  CommandResult bad = run_lathe("train " + q(dir / "bad.toml") + " --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("training.epochs"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir / "runs") && !list_runs(dir / "runs").empty());

  synthetic_run(dir / "runs", "finished", 4, {0.3});
  CommandResult done = run_lathe("train --resume finished --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(done.exit_code, 1) << done.output;
  EXPECT_NE(done.output.find("finished; nothing to resume"), std::string::npos) << done.output;
  CommandResult both = run_lathe("train x.toml --resume finished");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  CommandResult none = run_lathe("train");
  EXPECT_EQ(none.exit_code, 2) << none.output;
}

}  // namespace
}  // namespace lathe::test
