// The run worker with a scripted trainer (fast, no model): everything a run records (status,
// metrics.jsonl, TensorBoard events, log.txt), control requests over the real socket (pause
// blocks, save-now while paused, resume, stop), a NaN failure recorded with the last good
// checkpoint, and a resume that cuts the logs back so they equal an uninterrupted run's.
#include "runs/run_worker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "fake_trainer.h"
#include "io/atomic_file.h"
#include "runs/best_epoch.h"
#include "runs/control_socket.h"
#include "runs/metrics_log.h"
#include "runs/tensorboard_events.h"
#include "temp_dir.h"

using namespace lathe;
using lathe::test::FakePlan;
using lathe::test::TempDir;

namespace {

RunPaths make_run(const TempDir& dir, const std::string& name = "r") {
  RunPaths run = create_run_dir(dir / "runs", name, 1795300000);
  write_file_atomic(run.profile(),
                    "[model]\npath = \"tiny-random:sd15\"\n[dataset]\npath = \"/nonexistent\"\n"
                    "[saving]\nname = \"fake\"\nlog_every_n_steps = 2\n");
  return run;
}

WorkerOptions options_for(FakePlan& plan) {
  WorkerOptions o;
  o.factory = lathe::test::fake_factory(plan);
  o.handle_signals = false;
  return o;
}

std::vector<ScalarEvent> all_events(const RunPaths& run) {
  std::vector<ScalarEvent> out;
  for (const auto& e : std::filesystem::directory_iterator(run.dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      for (const auto& ev : read_scalar_events(e.path())) out.push_back(ev);
  return out;
}

template <typename Pred>
bool eventually(Pred pred, int timeout_ms = 5000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// The status, or a blank one before the worker thread has written its first.
RunStatus status_of(const RunPaths& run) {
  return std::filesystem::exists(run.status()) ? read_run_status(run.status()) : RunStatus{};
}

}  // namespace

TEST(RunWorker, RecordsStatusMetricsEventsAndLog) {
  TempDir dir;
  RunPaths run = make_run(dir);
  FakePlan plan;  // 3 epochs x 4 steps
  bool started = false;
  WorkerOptions o = options_for(plan);
  o.on_started = [&] { started = status_of(run).state == RunState::Running; };
  WorkerOutcome out = run_worker(run, o);
  ASSERT_EQ(out.state, RunState::Done) << out.error;
  EXPECT_TRUE(started);

  RunStatus s = status_of(run);
  EXPECT_EQ(s.state, RunState::Done);
  EXPECT_EQ(s.step, 12);
  EXPECT_EQ(s.total_steps, 12);
  EXPECT_EQ(s.epoch, 3);
  EXPECT_EQ(s.total_epochs, 3);
  EXPECT_GT(s.finished_at, 0);
  EXPECT_EQ(s.pid, ::getpid());
  EXPECT_DOUBLE_EQ(s.last_loss, lathe::test::FakeTrainer::loss_at(12));

  RunMetrics m = read_metrics(run.metrics());
  ASSERT_EQ(m.steps.size(), 12u);
  ASSERT_EQ(m.epochs.size(), 3u);
  ASSERT_EQ(m.validations.size(), 3u);
  double sum = 0;
  for (int i = 1; i <= 5; ++i) sum += lathe::test::FakeTrainer::loss_at(i);
  EXPECT_DOUBLE_EQ(m.steps[4].loss_smoothed, sum / 5);  // trailing mean, window 10
  EXPECT_EQ(m.epochs[1].file, "epochs/fake-e0002.safetensors");
  EXPECT_EQ(m.validations[0].per_concept.at("cat"), m.validations[0].loss);

  std::map<std::string, int> tags;
  for (const auto& ev : all_events(run)) ++tags[ev.tag];
  EXPECT_EQ(tags["loss/train"], 12);
  EXPECT_EQ(tags["loss/train_smoothed"], 12);
  EXPECT_EQ(tags["lr/unet"], 12);
  EXPECT_EQ(tags["speed/it_per_s"], 12);
  EXPECT_EQ(tags["loss/epoch"], 3);
  EXPECT_EQ(tags["loss/validation"], 3);
  EXPECT_EQ(tags["loss/validation/cat"], 3);

  std::string log = read_file(run.log());
  EXPECT_NE(log.find("step 4/12 epoch 1/3"), std::string::npos) << log;
  EXPECT_NE(log.find("epoch 2/3 done at step 8"), std::string::npos) << log;
  EXPECT_NE(log.find("done at step 12: final LoRA file epochs/fake-e0003.safetensors"),
            std::string::npos)
      << log;

  BestEpochReport best = rank_epochs(m);
  EXPECT_EQ(best.basis, "validation loss");
  EXPECT_EQ(best.ranked.front().epoch, 2);
}

TEST(RunWorker, PauseSaveResumeStopOverTheSocket) {
  TempDir dir;
  RunPaths run = make_run(dir);
  FakePlan plan;
  plan.epochs = 300;
  plan.step_delay_ms = 2;
  WorkerOutcome out;
  std::thread worker([&] { out = run_worker(run, options_for(plan)); });
  struct Joiner {  // a failed ASSERT still stops and joins the worker
    std::thread& t;
    const RunPaths& run;
    ~Joiner() {
      if (!t.joinable()) return;
      try {
        send_control_request(run.control_socket(), ControlRequest::Stop);
      } catch (...) {
      }
      t.join();
    }
  } joiner{worker, run};
  ASSERT_TRUE(eventually(
      [&] { return status_of(run).step >= 2 && std::filesystem::exists(run.control_socket()); }));
  EXPECT_EQ(send_control_request(run.control_socket(), ControlRequest::Pause), "ok pause");
  ASSERT_TRUE(eventually([&] { return status_of(run).state == RunState::Paused; }));
  const std::int64_t paused_at = status_of(run).step;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(read_metrics(run.metrics()).steps.back().step, paused_at);  // no step while paused

  EXPECT_EQ(send_control_request(run.control_socket(), ControlRequest::SaveNow), "ok save");
  ASSERT_TRUE(
      eventually([&] { return status_of(run).last_checkpoint == checkpoint_dir_name(paused_at); }));
  EXPECT_EQ(status_of(run).state, RunState::Paused);  // saving does not end the pause
  EXPECT_TRUE(eventually([&] {
    return std::filesystem::exists(run.epochs() /
                                   ("fake-s" + std::to_string(paused_at) + ".safetensors"));
  }));

  EXPECT_EQ(send_control_request(run.control_socket(), ControlRequest::Resume), "ok resume");
  ASSERT_TRUE(
      eventually([&] { return read_metrics(run.metrics()).steps.back().step > paused_at + 3; }));
  EXPECT_EQ(status_of(run).state, RunState::Running);

  EXPECT_EQ(send_control_request(run.control_socket(), ControlRequest::Stop), "ok stop");
  worker.join();
  EXPECT_EQ(out.state, RunState::Stopped);
  RunStatus s = status_of(run);
  EXPECT_EQ(s.state, RunState::Stopped);
  EXPECT_TRUE(std::filesystem::exists(run.checkpoints() / s.last_checkpoint / "DONE"));
  EXPECT_FALSE(std::filesystem::exists(run.control_socket()));
  std::string log = read_file(run.log());
  EXPECT_NE(log.find("paused at step"), std::string::npos);
  EXPECT_NE(log.find("stopping at step"), std::string::npos);
}

TEST(RunWorker, NanLossFailsTheRunAndNamesTheLastGoodCheckpoint) {
  TempDir dir;
  RunPaths run = make_run(dir);
  FakePlan plan;
  plan.checkpoint_every = 4;
  plan.fail_at_step = 6;
  WorkerOutcome out = run_worker(run, options_for(plan));
  EXPECT_EQ(out.state, RunState::Failed);
  RunStatus s = status_of(run);
  EXPECT_EQ(s.state, RunState::Failed);
  EXPECT_NE(s.last_error.find("step 6: loss is nan"), std::string::npos) << s.last_error;
  EXPECT_EQ(effective_state(s), RunState::Failed);
  std::string log = read_file(run.log());
  EXPECT_NE(log.find("the last good checkpoint is checkpoints/step-00000004"), std::string::npos)
      << log;
  EXPECT_TRUE(std::filesystem::exists(run.epochs() / "fake-e0001.safetensors"));
}

TEST(RunWorker, ResumeCutsLogsBackAndMatchesAnUninterruptedRun) {
  TempDir dir;
  RunPaths whole = make_run(dir, "whole");
  FakePlan plan_whole;
  plan_whole.checkpoint_every = 3;
  ASSERT_EQ(run_worker(whole, options_for(plan_whole)).state, RunState::Done);

  RunPaths broken = make_run(dir, "broken");
  FakePlan crash = plan_whole;
  crash.fail_at_step = 8;  // logged steps 1..7; newest checkpoint at step 6
  ASSERT_EQ(run_worker(broken, options_for(crash)).state, RunState::Failed);
  ASSERT_EQ(read_metrics(broken.metrics()).steps.size(), 7u);
  FakePlan rest = plan_whole;
  WorkerOutcome out = run_worker(broken, options_for(rest));
  ASSERT_EQ(out.state, RunState::Done) << out.error;
  EXPECT_NE(read_file(broken.log()).find("resumed from checkpoints/step-00000006 at step 6"),
            std::string::npos);

  RunMetrics a = read_metrics(whole.metrics()), b = read_metrics(broken.metrics());
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].step, b.steps[i].step);
    EXPECT_EQ(a.steps[i].loss, b.steps[i].loss);
    EXPECT_EQ(a.steps[i].loss_smoothed, b.steps[i].loss_smoothed) << "step " << a.steps[i].step;
  }
  ASSERT_EQ(a.epochs.size(), b.epochs.size());
  ASSERT_EQ(a.validations.size(), b.validations.size());

  std::multiset<std::int64_t> steps;
  for (const auto& ev : all_events(broken))
    if (ev.tag == "loss/train") steps.insert(ev.step);
  EXPECT_EQ(steps.size(), 12u);  // each step once: the events after step 6 were cut
  for (std::int64_t s = 1; s <= 12; ++s) EXPECT_EQ(steps.count(s), 1u) << s;
}

TEST(RunWorker, ResumeSkipsADamagedNewestCheckpointAndSetsItAside) {
  TempDir dir;
  RunPaths run = make_run(dir);
  FakePlan crash;
  crash.checkpoint_every = 4;
  crash.fail_at_step = 10;  // checkpoints at steps 4 and 8 (and the epoch ends at 4 and 8)
  ASSERT_EQ(run_worker(run, options_for(crash)).state, RunState::Failed);
  const auto newest = run.checkpoints() / "step-00000008";
  ASSERT_TRUE(std::filesystem::exists(newest / "DONE"));
  std::filesystem::resize_file(newest / "optimizer.safetensors", 20);  // cut short by a full disk

  FakePlan rest;
  rest.checkpoint_every = 4;
  WorkerOutcome out = run_worker(run, options_for(rest));
  ASSERT_EQ(out.state, RunState::Done) << out.error;
  const std::string log = read_file(run.log());
  EXPECT_NE(log.find("checkpoint checkpoints/step-00000008 cannot be loaded: "), std::string::npos)
      << log;
  EXPECT_NE(log.find("optimizer.safetensors"), std::string::npos) << log;
  EXPECT_NE(log.find("set aside as checkpoints/step-00000008.damaged"), std::string::npos) << log;
  EXPECT_NE(log.find("resumed from checkpoints/step-00000004 at step 4 (the newest checkpoint "
                     "that loads)"),
            std::string::npos)
      << log;
  // Nothing was deleted: the damaged folder is kept under its new name.
  EXPECT_TRUE(std::filesystem::exists(run.checkpoints() / "step-00000008.damaged" / "DONE"));
  EXPECT_EQ(read_metrics(run.metrics()).steps.back().step, 12);
}
