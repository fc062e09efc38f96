// The training lock and the queue: the lock is exclusive across open files (as across
// processes), is released when its holder closes it (as when a process dies), and queued runs
// come out oldest-queued first.
#include "runs/train_lock.h"

#include <gtest/gtest.h>

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
