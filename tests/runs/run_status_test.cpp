// status.json round trip, stale-process detection, run ids and lookup.
#include "runs/run_status.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "runs/run_dir.h"
#include "temp_dir.h"

using namespace lathe;
using lathe::test::TempDir;

TEST(RunStatus, JsonRoundTrip) {
  RunStatus s;
  s.run_id = "20261122-000000-demo";
  s.state = RunState::Paused;
  s.pid = 1234;
  s.step = 42;
  s.total_steps = 100;
  s.epoch = 3;
  s.last_error = "boom";
  RunStatus back = run_status_from_json(run_status_to_json(s), "status.json");
  EXPECT_EQ(back.run_id, s.run_id);
  EXPECT_EQ(back.state, RunState::Paused);
  EXPECT_EQ(back.pid, 1234);
  EXPECT_EQ(back.step, 42);
  EXPECT_EQ(back.epoch, 3);
  EXPECT_EQ(back.last_error, "boom");
}

TEST(RunStatus, DamagedFileIsAClearError) {
  EXPECT_THROW(run_status_from_json("{not json", "x/status.json"), Error);
  EXPECT_THROW(run_status_from_json(R"({"state":"flying"})", "x/status.json"), Error);
}

TEST(RunStatus, DeadProcessShowsAsInterrupted) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // the pid now belongs to nobody
  RunStatus s;
  s.state = RunState::Running;
  s.pid = child;
  EXPECT_EQ(effective_state(s), RunState::Interrupted);
  s.state = RunState::Done;
  EXPECT_EQ(effective_state(s), RunState::Done);
}

TEST(RunStatus, LiveProcessStaysRunningButRecycledPidDoesNot) {
  RunStatus s;
  s.state = RunState::Running;
  s.pid = ::getpid();
  s.pid_start_ticks = process_start_ticks(::getpid());
  ASSERT_GT(s.pid_start_ticks, 0u);
  EXPECT_EQ(effective_state(s), RunState::Running);
  s.pid_start_ticks += 1;  // same pid, another process: the run's own process is gone
  EXPECT_EQ(effective_state(s), RunState::Interrupted);
}

TEST(RunDir, IdsAreSortableAndSafe) {
  EXPECT_EQ(make_run_id("my run/v2", 0), "19700101-000000-my-run-v2");
  EXPECT_EQ(sanitize_run_name("../x"), "x");
  EXPECT_EQ(sanitize_run_name(""), "run");
}

TEST(RunDir, CreateListFind) {
  TempDir dir;
  RunPaths a = create_run_dir(dir.path(), "demo", 1000);
  RunPaths b = create_run_dir(dir.path(), "demo", 1000);  // same second: gets a suffix
  EXPECT_NE(a.dir, b.dir);
  EXPECT_TRUE(std::filesystem::is_directory(a.epochs()));
  EXPECT_TRUE(std::filesystem::is_directory(a.checkpoints()));
  write_run_status(a.status(), RunStatus{});
  write_run_status(b.status(), RunStatus{});
  EXPECT_EQ(list_runs(dir.path()).size(), 2u);
  EXPECT_EQ(find_run(dir.path(), a.run_id()).dir, a.dir);
  EXPECT_EQ(find_run(dir.path(), "demo-2").dir, b.dir);
  EXPECT_THROW(find_run(dir.path(), "1970"), Error);  // ambiguous
  EXPECT_THROW(find_run(dir.path(), "nope"), Error);
}
