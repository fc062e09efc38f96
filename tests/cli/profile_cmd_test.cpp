// `lathe profile check` and `lathe profile show` run as a user would: every preset passes
// check (missing model files are warnings, not errors), errors exit 1 with file:line and key,
// --set overrides reach the output, and show marks defaults and overrides.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

std::string preset(const std::string& name) {
  return shell_quote((source_dir() / "profiles" / name).string());
}

TEST(ProfileCheckCommand, EveryPresetPasses) {
  for (const char* name :
       {"demo.toml", "sd15-lora.toml", "sd15-locon.toml", "sdxl-lora.toml", "sd2-v-lora.toml"}) {
    CommandResult r = run_lathe("profile check " + preset(name));
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.output;
    EXPECT_NE(r.output.find(": ok\n"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("error:"), std::string::npos) << r.output;
  }
}

TEST(ProfileCheckCommand, MissingModelIsAWarningUnlessFilesAreRequired) {
  CommandResult r = run_lathe("profile check " + preset("sd15-lora.toml"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: model.path: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--set model.path=FILE"), std::string::npos) << r.output;

  CommandResult strict = run_lathe("profile check --require-files " + preset("sd15-lora.toml"));
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_NE(strict.output.find("error: model.path: "), std::string::npos) << strict.output;

  CommandResult demo = run_lathe("profile check --require-files " + preset("demo.toml"));
  EXPECT_EQ(demo.exit_code, 0) << demo.output;
  EXPECT_NE(demo.output.find("tiny architecture, random weights"), std::string::npos);
}

TEST(ProfileCheckCommand, ErrorsExitOneWithLineAndKey) {
  TempDir dir;
  fs::path p = dir / "bad.toml";
  write_text(p,
             "[model]\npath = \"tiny-random:sd15\"\n[dataset]\npath = \"d\"\n"
             "[network]\nrank = 0\n[optimzer]\nlr = 1e-4\n");
  CommandResult r = run_lathe("profile check " + shell_quote(p.string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: " + p.string() +
                          ":7: key optimzer: unknown section; did you mean [optimizer]?"),
            std::string::npos)
      << r.output;
  // The unknown section does not hide the other section's error.
  EXPECT_NE(r.output.find(p.string() + ":6: key network.rank: must be 1 to 4096, got 0"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("2 errors\n"), std::string::npos) << r.output;

  write_text(p, "[model]\npath = \"tiny-random:sd15\"\n[dataset]\npath = \"d\"\n"
                "[network]\nrank = 0\n");
  r = run_lathe("profile check " + shell_quote(p.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(p.string() + ":6: key network.rank: must be 1 to 4096, got 0"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 error\n"), std::string::npos) << r.output;

  // The same key fixed from the command line.
  r = run_lathe("profile check " + shell_quote(p.string()) + " --set network.rank=8");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("lora rank 8"), std::string::npos) << r.output;

  r = run_lathe("profile check " + shell_quote(p.string()) + " --set network.rnak=8");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--set network.rnak=8: unknown key network.rnak; did you mean "
                          "network.rank?"),
            std::string::npos)
      << r.output;
}

TEST(ProfileCheckCommand, PresetsSayWhatAutoPrecisionBecomesHere) {
  // Pinned to the CPU so the answer is the same on every machine: bf16.
  CommandResult r = run_lathe("profile check " + preset("sd15-lora.toml") + " --set training.device=cpu");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("auto (bf16 on this machine's cpu) weights"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mixed precision auto (bf16 on this machine's cpu)"), std::string::npos) << r.output;
  // An explicit choice is shown as it is; fp16 on the CPU runs (with the warning it had).
  r = run_lathe("profile check " + preset("sd15-lora.toml") +
                " --set training.device=cpu --set model.dtype=fp16 --set training.mixed_precision=no");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fp16 weights"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("key model.dtype: fp16 is slow on a CPU"), std::string::npos) << r.output;
  // A device this machine does not have: a warning, since the profile may be for another one.
  r = run_lathe("profile check " + preset("sd15-lora.toml") + " --set training.device=cuda:99");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: training.device \"cuda:99\""), std::string::npos) << r.output;
}

TEST(ProfileCheckCommand, RefusesPipesFoldersAndDevices) {
  TempDir dir;
  fs::path fifo = dir / "p.toml";
  ASSERT_EQ(run_command("mkfifo " + shell_quote(fifo.string())).exit_code, 0);
  // `timeout` turns a regression (open blocks for a writer) into a failure, not a hang.
  CommandResult r = run_command("timeout 20 " + shell_quote(lathe_binary().string()) + " profile check " +
                                shell_quote(fifo.string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(fifo.string() + " is a named pipe (FIFO), not a file"), std::string::npos) << r.output;
  r = run_lathe("profile check " + shell_quote(dir.path().string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(" is a folder, not a file"), std::string::npos) << r.output;
  r = run_command("timeout 20 " + shell_quote(lathe_binary().string()) + " profile show /dev/zero");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("/dev/zero is a character device, not a file"), std::string::npos) << r.output;
}

TEST(ProfileCheckCommand, UnparsableTomlNamesLineAndColumn) {
  TempDir dir;
  fs::path p = dir / "broken.toml";
  write_text(p, "[model]\npath = \"tiny-random:sd15\n");
  CommandResult r = run_lathe("profile check " + shell_quote(p.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(p.string() + ":2:"), std::string::npos) << r.output;
}

TEST(ProfileShowCommand, MarksDefaultsAndOverrides) {
  CommandResult r = run_lathe("profile show " + preset("demo.toml") +
                              " --set training.resolution=[192,128] --set network.rank=8");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("path = \"tiny-random:sd15\"\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resolution = [192, 128]"), std::string::npos) << r.output;
  auto line_of = [&](const std::string& start) {
    std::size_t at = r.output.find("\n" + start);
    if (at == std::string::npos) return std::string();
    return r.output.substr(at + 1, r.output.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(line_of("rank = 8").find("# --set"), std::string::npos) << r.output;
  EXPECT_NE(line_of("clip_skip = 1").find("# default"), std::string::npos) << r.output;
  EXPECT_EQ(line_of("epochs = ").find("#"), std::string::npos) << r.output;  // from the file
  // model.dtype is "auto" by default; beside it, what this machine's device makes of it.
  EXPECT_NE(line_of("dtype = \"auto\"").find("# default; bf16 on this machine's cpu"), std::string::npos)
      << r.output;  // demo.toml trains on the CPU
}

TEST(ProfileShowCommand, JsonListsEveryValueWithItsSource) {
  CommandResult r = run_lathe("profile show --json " + preset("sdxl-lora.toml") +
                              " --set output.dir=/tmp/x");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json doc = nlohmann::json::parse(r.output);
  EXPECT_EQ(doc["schema"], "lathe.profile");
  EXPECT_TRUE(doc["ok"].get<bool>());
  const auto& values = doc["values"];
  EXPECT_EQ(values["optimizer.type"]["value"], "prodigy");
  EXPECT_EQ(values["optimizer.type"]["source"], "file");
  EXPECT_EQ(values["optimizer.growth_rate"]["value"], "inf");
  EXPECT_EQ(values["optimizer.growth_rate"]["source"], "default");
  EXPECT_EQ(values["training.resolution"]["value"], 1024);
  EXPECT_EQ(values["output.dir"]["value"], "/tmp/x");
  EXPECT_EQ(values["output.dir"]["source"], "set");
  EXPECT_TRUE(values["model.vae"]["value"].is_null());
  EXPECT_EQ(values["model.dtype"]["value"], "auto");
  // What "auto" is on this machine's device (a GPU here or the CPU).
  ASSERT_TRUE(doc["resolved"].is_object()) << r.output;
  const std::string dtype = doc["resolved"]["model.dtype"];
  EXPECT_TRUE(dtype == "bf16" || dtype == "fp16") << dtype;
  EXPECT_EQ(doc["resolved"]["training.mixed_precision"], dtype);
}

TEST(ProfileShowCommand, ErrorsExitOne) {
  TempDir dir;
  fs::path p = dir / "bad.toml";
  write_text(p, "[model]\npath = \"tiny-random:sd15\"\n[dataset]\npath = \"d\"\n"
                "[training]\nbatch_size = 0\n");
  CommandResult r = run_lathe("profile show " + shell_quote(p.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(":6: key training.batch_size: must be 1 to 4096, got 0"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace lathe::test
