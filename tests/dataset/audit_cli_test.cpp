// The real `lathe audit` binary: on datasets_example/messy it finds every planted problem of
// PLANTED.json (code and file) and draws no error or warning on the good_* items; on
// datasets_example/clean it reports no error and one warning (its activation tags share CLIP
// pieces: the token checks run with no flag, on the vocabulary installed with Lathe); exit
// codes 0 / 1 / 2; --json parses; bad input (missing folder, 0-byte files, odd names) gives
// findings, not crashes.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

namespace fs = std::filesystem;

nlohmann::json audit_json(const fs::path& dir, const std::string& flags, int* exit_code) {
  CommandResult r = run_lathe("audit " + shell_quote(dir.string()) + " --json " + flags +
                              " 2>/dev/null");
  *exit_code = r.exit_code;
  return nlohmann::json::parse(r.output);
}

bool matches(const std::string& file, const std::string& planted) {
  return file == planted || (file.size() > planted.size() &&
                             file.compare(0, planted.size() + 1, planted + "/") == 0);
}

TEST(AuditCli, MessyFindsEveryPlantedProblem) {
  fs::path messy = source_dir() / "datasets_example" / "messy";
  std::ifstream in(messy / "PLANTED.json");
  ASSERT_TRUE(in) << "missing " << (messy / "PLANTED.json");
  nlohmann::json manifest = nlohmann::json::parse(in);
  int code = -1;
  nlohmann::json j = audit_json(messy, manifest["audit_args"].get<std::string>(), &code);
  EXPECT_EQ(code, 1);  // the messy set has errors
  ASSERT_GE(manifest["planted"].size(), 25u);
  for (const auto& p : manifest["planted"]) {
    bool found = false;
    for (const auto& f : j["findings"])
      if (f["code"] == p["code"] && matches(f["file"].get<std::string>(), p["file"])) found = true;
    EXPECT_TRUE(found) << "planted " << p["code"] << " on " << p["file"] << " not reported";
  }
  for (const auto& f : j["findings"]) {
    std::string file = f["file"];
    if (file.find("/good_") != std::string::npos) {
      EXPECT_EQ(f["severity"], "info") << f["code"] << ": " << f["message"];
    }
  }
}

TEST(AuditCli, CleanHasNoErrorsAndOnlyTheSharedPiecesWarning) {
  int code = -1;
  nlohmann::json j = audit_json(source_dir() / "datasets_example" / "clean",
                                "--deep --batch-size 2 --resolution 512", &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(j["summary"]["errors"], 0);
  EXPECT_EQ(j["summary"]["warnings"], 1);
  // 'lathecat' and 'lathebot' are la·the·cat and la·the·bot: a real bleeding risk, the only one.
  for (const auto& f : j["findings"])
    if (f["code"] != "tokens.activation_shared_pieces") EXPECT_EQ(f["severity"], "info") << f["message"];
  EXPECT_EQ(j["summary"]["concepts"], 2);
  EXPECT_EQ(j["repeats_balance"]["imbalanced"], false);
  EXPECT_EQ(j["buckets"]["total_dropped"], 0);
}

// With no --vocab and no LATHE_CLIP_VOCAB the token checks run on Lathe's own vocabulary.
TEST(AuditCli, TokenChecksRunWithNoFlag) {
  CommandResult r = run_command("env -u LATHE_CLIP_VOCAB " + shell_quote(lathe_binary().string()) + " audit " +
                                shell_quote((source_dir() / "datasets_example" / "clean").string()) + " --json 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["summary"]["by_code"].value("tokens.skipped", 0), 0);
  EXPECT_EQ(j["summary"]["by_code"].value("tokens.activation_pieces", 0), 2);
  // An explicit vocabulary that does not exist is an error, not replaced by Lathe's copy.
  CommandResult bad = run_lathe("audit " + shell_quote((source_dir() / "datasets_example" / "clean").string()) +
                                " --vocab /nonexistent/vocab.txt.gz");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("tokens.vocab_unreadable"), std::string::npos) << bad.output;
}

TEST(AuditCli, HumanReportAndExitCodes) {
  CommandResult clean = run_lathe("audit " + shell_quote((source_dir() / "datasets_example" / "clean").string()));
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("Result: no errors."), std::string::npos) << clean.output;
  CommandResult messy = run_lathe("audit " + shell_quote((source_dir() / "datasets_example" / "messy").string()) +
                                  " --max-examples 1");
  EXPECT_EQ(messy.exit_code, 1);
  EXPECT_NE(messy.output.find("ERRORS ("), std::string::npos) << messy.output;
  EXPECT_NE(messy.output.find("... and "), std::string::npos);
  EXPECT_EQ(run_lathe("audit").exit_code, 2);
  EXPECT_EQ(run_lathe("audit . --batch-size 0").exit_code, 2);
  EXPECT_EQ(run_lathe("audit . --policy sometimes").exit_code, 2);
  EXPECT_EQ(run_lathe("audit . --bogus").exit_code, 2);
  CommandResult missing = run_lathe("audit /nonexistent/lathe/dataset");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/lathe/dataset"), std::string::npos) << missing.output;
}

TEST(AuditCli, OnlyWarningsExitsZero) {
  TempDir t;
  // A valid image without caption: a warning only.
  fs::create_directories(t / "5_thing");
  fs::copy_file(source_dir() / "datasets_example" / "clean" / "10_lathecat" / "cat_02.png",
                t / "5_thing" / "lonely image.png");
  CommandResult r = run_lathe("audit " + shell_quote(t.path().string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("caption.missing"), std::string::npos) << r.output;
}

TEST(AuditCli, BadInputGivesFindingsNotCrashes) {
  TempDir t;
  write_text(t / "2_odd" / "zero.jpg", "");
  write_text(t / "2_odd" / "zero.txt", "");
  write_text(t / "2_odd" / "naïve name.txt", "odd, tag\n");
  write_text(t / "2_odd" / "big.txt", std::string(10 * 1024 * 1024, 'a'));
  fs::copy_file(source_dir() / "datasets_example" / "clean" / "10_lathecat" / "cat_02.png",
                t / "2_odd" / "big.png");
  int code = -1;
  nlohmann::json j = audit_json(t.path(), "", &code);
  EXPECT_EQ(code, 1);
  bool zero = false, orphan = false;
  for (const auto& f : j["findings"]) {
    zero |= f["code"] == "image.zero_byte";
    orphan |= f["code"] == "caption.orphan" && f["file"] == "2_odd/naïve name.txt";
  }
  EXPECT_TRUE(zero);
  EXPECT_TRUE(orphan);
}

}  // namespace
}  // namespace lathe::test
