// `lathe runs list|show|best|compare|tail|stop|queue` on run folders written by the test (no
// training): a dead pid shows as interrupted with the resume hint, best ranks by validation
// with minima, trend and files, compare draws curves and names the profile keys that differ,
// control requests to a run that is not running are clear errors. Then what a user meets when
// things go wrong: long and non-ASCII run names keep the table's columns, a damaged status.json
// names its field, tail --follow's exit code says how a run ended, a queue whose worker was
// killed moves on, and a damaged newest checkpoint is skipped (on real tiny runs).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/display_width.h"
#include "io/atomic_file.h"
#include "run_command.h"
#include "runs/metrics_log.h"
#include "runs/run_dir.h"
#include "runs/run_status.h"
#include "temp_dir.h"
#include "train/loop/checkpoint_state.h"
#include "train/config/train_config.h"
#include "train_fixture.h"

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

// A run folder with only a status.json (no profile or metrics): enough for list and tail.
RunPaths bare_run(const fs::path& runs, const std::string& name, RunState state, long long pid = 0) {
  RunPaths run = create_run_dir(runs, name, 1795300000);
  RunStatus s;
  s.run_id = run.run_id();
  s.name = name;
  s.state = state;
  s.pid = pid;
  s.step = s.total_steps = 20;
  s.epoch = s.total_epochs = 2;
  s.last_loss = 0.25;
  write_run_status(run.status(), s);
  return run;
}

// `lathe ARGS` in a UTF-8 locale, as a user's terminal has.
CommandResult run_lathe_utf8(const std::string& args) {
  return run_command("LC_ALL=C.UTF-8 " + shell_quote(lathe_binary().string()) + " " + args);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t end = text.find('\n', i);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

// The terminal column where `word` starts in `line`.
int column_of(const std::string& line, const std::string& word) {
  const std::size_t at = line.find(word);
  return at == std::string::npos ? -1 : display_width(line.substr(0, at));
}

TEST(RunsCommands, ListKeepsColumnsForLongAndNonAsciiNames) {
  TempDir dir;
  RunPaths cat = bare_run(dir / "runs", "猫の絵 v2", RunState::Done);
  RunPaths longer = bare_run(dir / "runs", std::string(300, 'x'), RunState::Done);
  bare_run(dir / "runs", "plain", RunState::Done);
  EXPECT_EQ(cat.run_id(), "20261121-222640-猫の絵-v2");  // kept, not turned into dashes
  CommandResult list = run_lathe_utf8("runs list --runs-dir " + q(dir / "runs"));
  ASSERT_EQ(list.exit_code, 0) << list.output;
  const std::vector<std::string> lines = lines_of(list.output);
  ASSERT_GE(lines.size(), 4u) << list.output;
  const int state_column = column_of(lines[0], "STATE");
  const int step_end = column_of(lines[0], "STEP") + 4;
  int rows = 0;
  for (const std::string& line : lines) {
    if (line.find("done") == std::string::npos) continue;
    ++rows;
    EXPECT_EQ(column_of(line, "done"), state_column) << list.output;
    EXPECT_EQ(column_of(line, "20/20") + 5, step_end) << list.output;
  }
  EXPECT_EQ(rows, 3) << list.output;
  EXPECT_NE(list.output.find("猫の絵-v2"), std::string::npos) << list.output;
  // The 64-character id is cut to 40 cells with an ellipsis; its start still names the run.
  EXPECT_EQ(list.output.find(longer.run_id()), std::string::npos) << list.output;
  EXPECT_NE(list.output.find(longer.run_id().substr(0, 39) + "\u2026"), std::string::npos)
      << list.output;
  CommandResult show = run_lathe("runs show " + longer.run_id().substr(0, 39) + " --runs-dir " +
                                 q(dir / "runs"));
  EXPECT_EQ(show.exit_code, 0) << show.output;
}

TEST(RunsCommands, CompareKeepsColumnsForLongCjkRunIds) {
  TempDir dir;
  synthetic_run(dir / "runs", "small", 4, {0.30, 0.25});
  RunPaths large = synthetic_run(dir / "runs", "large", 8, {0.28, 0.20});
  std::string cats;
  for (int i = 0; i < 20; ++i) cats += "猫";
  const fs::path renamed = dir / "runs" / ("20261121-222640-" + cats);  // 56 cells
  fs::rename(large.dir, renamed);
  CommandResult cmp = run_lathe_utf8("runs compare small " + q(renamed) + " --runs-dir " +
                                     q(dir / "runs"));
  ASSERT_EQ(cmp.exit_code, 0) << cmp.output;
  const std::vector<std::string> lines = lines_of(cmp.output);
  ASSERT_GE(lines.size(), 3u) << cmp.output;
  EXPECT_EQ(column_of(lines[1], "done"), column_of(lines[0], "STATE")) << cmp.output;
  EXPECT_EQ(column_of(lines[2], "done"), column_of(lines[0], "STATE")) << cmp.output;
  EXPECT_NE(lines[2].find("\u2026"), std::string::npos) << cmp.output;
}

TEST(RunsCommands, HugeStepIsRefusedByNameAndTheLargestPrintsExactly) {
  TempDir dir;
  RunPaths big = bare_run(dir / "runs", "big", RunState::Done);
  RunPaths huge = bare_run(dir / "runs", "huge", RunState::Done);
  std::string text = read_file(huge.status());
  const std::string from = "\"step\": 20", to = "\"step\": 18446744073709551615";
  ASSERT_NE(text.find(from), std::string::npos) << text;
  write_text(huge.status(), text.replace(text.find(from), from.size(), to));
  RunStatus s = read_run_status(big.status());
  s.step = s.total_steps = 9223372036854775807LL;
  write_run_status(big.status(), s);

  CommandResult list = run_lathe("runs list --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output.find(" -1/"), std::string::npos) << list.output;  // no wrapped step
  EXPECT_NE(list.output.find("9223372036854775807/9223372036854775807"), std::string::npos)
      << list.output;
  EXPECT_NE(list.output.find("field \"step\" should be a whole number from 0 to "
                             "9223372036854775807, found the whole number 18446744073709551615"),
            std::string::npos)
      << list.output;
  const std::vector<std::string> lines = lines_of(list.output);
  EXPECT_EQ(column_of(lines[1], "done"), column_of(lines[0], "STATE")) << list.output;
  EXPECT_EQ(column_of(lines[2], "damaged"), column_of(lines[0], "STATE")) << list.output;
  CommandResult show = run_lathe("runs show huge --runs-dir " + q(dir / "runs"));
  EXPECT_EQ(show.exit_code, 1) << show.output;
  EXPECT_NE(show.output.find((huge.dir / "status.json").string() + ": field \"step\""),
            std::string::npos)
      << show.output;
}

TEST(RunsCommands, TailFollowExitCodeSaysHowTheRunEnded) {
  TempDir dir;
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a pid nobody has: the run's process is gone
  const std::pair<RunState, int> cases[] = {{RunState::Done, 0},
                                            {RunState::Failed, 1},
                                            {RunState::Running, 3},  // dead pid: interrupted
                                            {RunState::Stopped, 4}};
  for (const auto& [state, code] : cases) {
    const std::string name = std::string("t-") + run_state_name(state);
    bare_run(dir / "runs", name, state, child);
    CommandResult tail = run_lathe("runs tail " + name + " --follow --runs-dir " + q(dir / "runs"));
    EXPECT_EQ(tail.exit_code, code) << name << "\n" << tail.output;
  }
  // Without --follow it only prints: 0 whatever the state.
  EXPECT_EQ(run_lathe("runs tail t-failed --runs-dir " + q(dir / "runs")).exit_code, 0);
}

TEST(RunsCommands, QueueMovesOnAfterTheRunningWorkerIsKilled) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 200);
  const fs::path runs = dir / "runs";
  CommandResult first = run_lathe("train " + q(profile) + " --name first --runs-dir " + q(runs));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  RunPaths a = only_run(runs);
  ASSERT_TRUE(wait_until([&] { return status_of(a).step >= 1; })) << read_file(a.log());
  CommandResult second =
      run_lathe("train " + q(profile) + " --name second --queue --runs-dir " + q(runs));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  RunPaths b = list_runs(runs)[0].dir == a.dir ? list_runs(runs)[1] : list_runs(runs)[0];
  EXPECT_EQ(status_of(b).state, RunState::Queued);

  ASSERT_EQ(::kill(static_cast<pid_t>(status_of(a).pid), SIGKILL), 0);  // hands nothing on
  ASSERT_TRUE(wait_until([&] { return !run_process_alive(status_of(a)); }));
  CommandResult list = run_lathe("runs list --runs-dir " + q(runs));
  EXPECT_NE(list.output.find("started queued run " + b.run_id()), std::string::npos)
      << list.output;
  ASSERT_TRUE(wait_until([&] { return status_of(b).state == RunState::Running; }))
      << read_file(b.log());
  EXPECT_EQ(effective_state(status_of(a)), RunState::Interrupted);
  CommandResult stop = run_lathe("runs stop --wait --timeout 120 " + b.run_id() + " --runs-dir " +
                                 q(runs));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
}

TEST(RunsCommands, DamagedNewestCheckpointIsSkippedAndNeverSuggested) {
  TempDir dir;
  auto profile = make_tiny_profile(dir, 200);  // a checkpoint every 2 steps
  const fs::path runs = dir / "runs";
  ASSERT_EQ(run_lathe("train " + q(profile) + " --name cut --runs-dir " + q(runs)).exit_code, 0);
  RunPaths run = only_run(runs);
  ASSERT_TRUE(wait_until([&] { return status_of(run).step >= 3; })) << read_file(run.log());
  const std::string id = " " + run.run_id() + " --runs-dir " + q(runs);
  ASSERT_EQ(run_lathe("runs stop --wait --timeout 120" + id).exit_code, 0);
  std::vector<fs::path> saved = complete_checkpoints(run.dir);  // newest first
  ASSERT_GE(saved.size(), 2u);
  const std::string newest = saved[0].filename().string(), older = saved[1].filename().string();
  const auto lora = saved[0] / "lora.safetensors";
  fs::resize_file(lora, fs::file_size(lora) / 2);  // cut short, DONE still there

  CommandResult show = run_lathe("runs show" + id);
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("damaged     checkpoints/" + newest + ": "), std::string::npos)
      << show.output;
  EXPECT_NE(show.output.find("checkpoint  checkpoints/" + older), std::string::npos)
      << show.output;
  EXPECT_NE(show.output.find("continue it from checkpoints/" + older), std::string::npos)
      << show.output;
  EXPECT_EQ(show.output.find("from checkpoints/" + newest), std::string::npos) << show.output;

  CommandResult resumed = run_lathe("train --resume" + id);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("warning: checkpoints/" + newest + " cannot be loaded"),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("resumes from checkpoints/" + older), std::string::npos)
      << resumed.output;
  ASSERT_TRUE(wait_until([&] {
    return read_file(run.log()).find("resumed from checkpoints/" + older) != std::string::npos;
  })) << read_file(run.log());
  EXPECT_NE(read_file(run.log()).find("set aside as checkpoints/" + newest + ".damaged"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(run.checkpoints() / (newest + ".damaged") / "DONE"));
  EXPECT_EQ(run_lathe("runs stop --wait --timeout 120" + id).exit_code, 0);
}

}  // namespace
}  // namespace lathe::test
