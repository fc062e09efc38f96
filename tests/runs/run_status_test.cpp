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

namespace {

// The message a status.json text gets, or "" when it reads.
std::string status_error(const std::string& json) {
  try {
    run_status_from_json(json, "runs/x/status.json");
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace

TEST(RunStatus, WrongTypeNamesFileFieldExpectedAndFound) {
  const std::string step = status_error(R"({"state":"done","step":"12"})");
  EXPECT_NE(step.find("runs/x/status.json: field \"step\" should be a whole number"),
            std::string::npos)
      << step;
  EXPECT_NE(step.find("found a string \"12\""), std::string::npos) << step;
  const std::string name = status_error(R"({"name":42})");
  EXPECT_NE(name.find("field \"name\" should be a string, found the whole number 42"),
            std::string::npos)
      << name;
  const std::string loss = status_error(R"({"last_loss":[1]})");
  EXPECT_NE(loss.find("field \"last_loss\" should be a number, found an array"), std::string::npos)
      << loss;
  const std::string state = status_error(R"({"state":"flying"})");
  EXPECT_NE(state.find("field \"state\" is \"flying\""), std::string::npos) << state;
  // A diverged run's NaN loss is written as null: it reads back, as NaN.
  EXPECT_EQ(status_error(R"({"last_loss":null})"), "");
}

TEST(RunStatus, HugeStepIsRefusedByNameNotWrappedNegative) {
  const std::string huge = status_error(R"({"step":18446744073709551615})");
  EXPECT_NE(huge.find("field \"step\" should be a whole number from 0 to 9223372036854775807, "
                      "found the whole number 18446744073709551615"),
            std::string::npos)
      << huge;
  EXPECT_NE(status_error(R"({"step":9223372036854775808})").find("field \"step\""),
            std::string::npos);
  EXPECT_NE(status_error(R"({"step":-1})").find("field \"step\""), std::string::npos);
  EXPECT_NE(status_error(R"({"epoch":4294967296})").find("field \"epoch\""), std::string::npos);
  RunStatus s = run_status_from_json(R"({"step":9223372036854775807})", "status.json");
  EXPECT_EQ(s.step, 9223372036854775807LL);  // the largest step still reads exactly
}

TEST(RunDir, NonAsciiNamesAreKeptAndLongOnesCut) {
  EXPECT_EQ(sanitize_run_name("猫の絵 v2"), "猫の絵-v2");
  EXPECT_EQ(sanitize_run_name("café-Ωmega"), "café-Ωmega");
  EXPECT_EQ(make_run_id("日本語", 0), "19700101-000000-日本語");
  // Characters that hide or reorder text, C1 controls and broken bytes are not kept.
  EXPECT_EQ(sanitize_run_name("a\u202Eb\u200Bc\u0085d\xff" "e"), "a-b-c-d-e");
  EXPECT_EQ(sanitize_run_name("\u3000x"), "x");  // ideographic space leads: dropped like '-'
  // 48 characters, not 48 bytes, and never half a character.
  const std::string long_name = sanitize_run_name(std::string(300, 'x'));
  EXPECT_EQ(long_name, std::string(48, 'x'));
  std::string cats;
  for (int i = 0; i < 60; ++i) cats += "猫";
  const std::string cut = sanitize_run_name(cats);
  EXPECT_EQ(cut.size(), 48u * 3);
}
