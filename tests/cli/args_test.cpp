// The argument parser: flags, values, unknown flags (usage errors with hints), positionals,
// and the real binary's exit codes.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "run_command.h"

using lathe::cli::CommandSpec;
using lathe::cli::parse_args;

namespace {
CommandSpec sample_spec() {
  CommandSpec s;
  s.name = "sample";
  s.usage = "DIR [options]";
  s.options = {{"json", "", "JSON output"}, {"batch-size", "N", "batch"}, {"set", "K=V", "", true}};
  s.min_positionals = 1;
  s.max_positionals = 1;
  return s;
}
}  // namespace

TEST(Args, ParsesFlagsValuesAndPositionals) {
  auto a = parse_args(sample_spec(), {"dir", "--json", "--batch-size", "4", "--set=a=1", "--set",
                                      "b=2"});
  EXPECT_EQ(a.positional(0), "dir");
  EXPECT_TRUE(a.has("json"));
  EXPECT_EQ(a.int_or("batch-size", 1), 4);
  EXPECT_EQ(a.values("set"), (std::vector<std::string>{"a=1", "b=2"}));
}

TEST(Args, UnknownFlagIsUsageErrorWithHint) {
  try {
    parse_args(sample_spec(), {"dir", "--jsn"});
    FAIL();
  } catch (const lathe::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean --json"), std::string::npos) << e.what();
  }
}

TEST(Args, MissingValueAndBadNumber) {
  EXPECT_THROW(parse_args(sample_spec(), {"dir", "--batch-size"}), lathe::UsageError);
  auto a = parse_args(sample_spec(), {"dir", "--batch-size", "four"});
  EXPECT_THROW(a.int_or("batch-size", 1), lathe::UsageError);
  EXPECT_THROW(parse_args(sample_spec(), {"dir", "--batch-size", "1", "--batch-size", "2"}),
               lathe::UsageError);
}

TEST(Args, PositionalCount) {
  EXPECT_THROW(parse_args(sample_spec(), {}), lathe::UsageError);
  EXPECT_THROW(parse_args(sample_spec(), {"a", "b"}), lathe::UsageError);
  EXPECT_NO_THROW(parse_args(sample_spec(), {"--help"}));
}

TEST(Binary, HelpListsCommandsAndExitsZero) {
  auto r = lathe::test::run_lathe("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Commands:"), std::string::npos) << r.output;
}

// The lathe binary's own exit codes for an unknown command and flag, and its command list.
TEST(Binary, UnknownCommandAndFlagExitTwo) {
  EXPECT_EQ(lathe::test::run_lathe("no-such-command").exit_code, 2);
  auto r = lathe::test::run_lathe("audit --no-such-flag");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  auto h = lathe::test::run_lathe("--help");
  for (const auto& c : lathe::cli::all_commands())
    EXPECT_NE(h.output.find("\n  " + c.name + " "), std::string::npos) << c.name << "\n" << h.output;
}

namespace {
// run_main in this process with std::cout and std::cerr captured: the binary's main is only
// `return run_main(argc, argv)`, and each start of the binary costs about a second of
// libtorch's start-up, which every command's two checks below would pay again.
lathe::test::CommandResult run_main_captured(const std::string& command, const std::string& flag) {
  std::vector<std::string> words{"lathe"};
  std::istringstream split(command + " " + flag);
  for (std::string w; split >> w;) words.push_back(w);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  std::ostringstream out;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(out.rdbuf());
  lathe::test::CommandResult r;
  r.exit_code = lathe::cli::run_main(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.output = out.str();
  return r;
}
}  // namespace

TEST(Commands, EveryCommandRefusesAnUnknownFlagWithTwoAndHasHelp) {
  ASSERT_GT(lathe::cli::all_commands().size(), 20u);
  for (const auto& c : lathe::cli::all_commands()) {
    auto r = run_main_captured(c.name, "--no-such-flag");
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find("--no-such-flag"), std::string::npos) << c.name << ": " << r.output;
    auto h = run_main_captured(c.name, "--help");
    EXPECT_EQ(h.exit_code, 0) << c.name << ": " << h.output;
    EXPECT_NE(h.output.find("Usage: lathe " + c.name), std::string::npos) << h.output;
  }
}
