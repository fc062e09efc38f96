// The training lock and the queue: the lock is exclusive across open files (as across
// processes), is released when its holder closes it (as when a process dies), and queued runs
// come out oldest-queued first; a queue whose worker was killed is started by the next look,
// but never another user's as root; the busy message says the lock is per runs folder.
#include "runs/train_lock.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include "runs/run_launcher.h"
#include "runs/run_queue.h"
#include "runs/run_status.h"
#include "temp_dir.h"

using namespace lathe;
using lathe::test::TempDir;

TEST(TrainLock, OneHolderAtATime) {
  TempDir dir;
  auto first = TrainLock::try_acquire(dir / "runs");
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(std::filesystem::exists(train_lock_path(dir / "runs")));
  EXPECT_FALSE(TrainLock::try_acquire(dir / "runs").has_value());
  TempDir other;
  EXPECT_TRUE(TrainLock::try_acquire(other / "runs").has_value());  // per runs folder
  first.reset();  // the holder goes away: the kernel drops the lock
  EXPECT_TRUE(TrainLock::try_acquire(dir / "runs").has_value());
}

TEST(TrainLock, ActiveRunIsTheOneWithALiveProcess) {
  TempDir dir;
  RunPaths done = create_run_dir(dir / "runs", "old", 1795300000);
  RunStatus s;
  s.state = RunState::Done;
  write_run_status(done.status(), s);
  EXPECT_FALSE(find_active_run(dir / "runs").has_value());
  RunPaths live = create_run_dir(dir / "runs", "live", 1795300100);
  s.state = RunState::Running;
  s.pid = ::getpid();
  s.pid_start_ticks = process_start_ticks(s.pid);
  write_run_status(live.status(), s);
  auto active = find_active_run(dir / "runs");
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->run_id(), live.run_id());
}

TEST(RunQueue, OldestQueuedFirst) {
  TempDir dir;
  // Created in one order, queued in another: the queue follows the queueing time.
  RunPaths a = create_run_dir(dir / "runs", "a", 1795300000);
  RunPaths b = create_run_dir(dir / "runs", "b", 1795300100);
  RunPaths c = create_run_dir(dir / "runs", "c", 1795300200);
  RunStatus s;
  s.state = RunState::Queued;
  s.updated_at = 300;
  write_run_status(a.status(), s);
  s.updated_at = 100;
  write_run_status(c.status(), s);
  s.state = RunState::Stopped;
  write_run_status(b.status(), s);
  auto q = queued_runs(dir / "runs");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].run_id(), c.run_id());
  EXPECT_EQ(q[1].run_id(), a.run_id());
}

TEST(RunQueue, AWorkerThatCannotStartMarksTheRunFailed) {
  TempDir dir;
  RunPaths a = create_run_dir(dir / "runs", "a", 1795300000);
  RunStatus s;
  s.state = RunState::Queued;
  write_run_status(a.status(), s);
  auto lock = TrainLock::try_acquire(dir / "runs");
  ASSERT_TRUE(lock);
  // /bin/false is not a lathe binary: the worker never reports, the run must not stay queued.
  EXPECT_FALSE(start_next_queued(dir / "runs", *lock, "/bin/false", nullptr).has_value());
  RunStatus after = read_run_status(a.status());
  EXPECT_EQ(after.state, RunState::Failed);
  EXPECT_NE(after.last_error.find("did not start"), std::string::npos) << after.last_error;
}

TEST(TrainLock, BusyMessageSaysTheLockIsPerRunsFolder) {
  TempDir dir;
  const std::string message = already_running_message(dir / "runs");
  EXPECT_NE(message.find("one run at a time per runs folder"), std::string::npos) << message;
  EXPECT_EQ(message.find("per machine"), std::string::npos) << message;
}

namespace {

RunPaths queued_run(const std::filesystem::path& runs, const std::string& name, double at) {
  RunPaths run = create_run_dir(runs, name, 1795300000);
  RunStatus s;
  s.state = RunState::Queued;
  s.updated_at = at;
  write_run_status(run.status(), s);
  return run;
}

}  // namespace

// The worker that should hand the queue on was killed: nothing holds the lock while a run
// waits. restart_stalled_queue starts it (here /bin/false stands in for lathe, so the start
// fails and the run is marked failed: proof that it was tried) and leaves the queue alone
// while something trains.
TEST(RunQueue, StalledQueueIsStartedWhenNothingHoldsTheLock) {
  TempDir dir;
  RunPaths waiting = queued_run(dir / "runs", "waiting", 100);
  {
    auto held = TrainLock::try_acquire(dir / "runs");  // a live worker holds it
    ASSERT_TRUE(held);
    EXPECT_FALSE(restart_stalled_queue(dir / "runs", "/bin/false").has_value());
    EXPECT_EQ(read_run_status(waiting.status()).state, RunState::Queued);
  }
  // A run recorded as running by a live process: it hands the queue on itself.
  RunPaths live = create_run_dir(dir / "runs", "live", 1795300100);
  RunStatus s;
  s.state = RunState::Running;
  s.pid = ::getpid();
  s.pid_start_ticks = process_start_ticks(s.pid);
  write_run_status(live.status(), s);
  EXPECT_FALSE(restart_stalled_queue(dir / "runs", "/bin/false").has_value());
  EXPECT_EQ(read_run_status(waiting.status()).state, RunState::Queued);

  // Its process gone (kill -9) and the lock free: the queue moves on.
  s.pid_start_ticks += 1;
  write_run_status(live.status(), s);
  std::string advice;
  restart_stalled_queue(dir / "runs", "/bin/false", &advice);
  RunStatus after = read_run_status(waiting.status());
  EXPECT_EQ(after.state, RunState::Failed);
  EXPECT_NE(after.last_error.find("did not start"), std::string::npos) << after.last_error;
  EXPECT_EQ(advice, "");
}

TEST(RunQueue, AnotherUsersStalledQueueIsLeftToItsOwnerWithAdvice) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the runs folder to another user";
  TempDir dir;
  RunPaths waiting = queued_run(dir / "runs", "theirs", 100);
  ASSERT_EQ(::chown((dir / "runs").c_str(), 1, 1), 0);
  std::string advice;
  EXPECT_FALSE(restart_stalled_queue(dir / "runs", "/bin/false", &advice).has_value());
  EXPECT_EQ(read_run_status(waiting.status()).state, RunState::Queued);  // not started as root
  EXPECT_NE(advice.find("1 queued run waits and nothing is training"), std::string::npos) << advice;
  EXPECT_NE(advice.find("lathe runs queue --runs-dir"), std::string::npos) << advice;
}
