// `lathe tokenize` through the real binary: the piece table, --ids over stdin, where the
// vocabulary comes from (--vocab, LATHE_CLIP_VOCAB, else the copy installed with Lathe) and the
// error for a path that does not hold one.
#include <gtest/gtest.h>

#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

// Lathe's own copy in the source tree, given explicitly.
std::string vocab_file() { return (source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz").string(); }
std::string vocab_arg() { return "--vocab " + shell_quote(vocab_file()); }

TEST(TokenizeCommand, PrintsPiecesAndTheRow) {
  auto r = run_lathe("tokenize " + vocab_arg() + " 'Poiuytrezay'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ids: 49406 628 14292 88 975 89 551 49407"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("ay</w>"), std::string::npos);
  EXPECT_NE(r.output.find("6 tokens"), std::string::npos);
}

TEST(TokenizeCommand, IdsModeReadsOneCaptionPerLine) {
  TempDir dir;
  write_text(dir / "captions.txt", "a photo of a cat\n\njinxdef, 1girl\n");
  auto r = run_lathe("tokenize " + vocab_arg() + " --ids < " +
                     shell_quote((dir / "captions.txt").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "320 1125 539 320 2368\n\n7927 87 11649 267 272 1611\n");
}

TEST(TokenizeCommand, VocabularyFromEnvironment) {
  auto r = run_command("LATHE_CLIP_VOCAB=" + shell_quote(vocab_file()) + " " +
                       shell_quote(lathe_binary().string()) + " tokenize 'a cat'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ids: 49406 320 2368 49407"), std::string::npos) << r.output;
}

// With no flag and no environment variable the copy installed beside the binary is used.
TEST(TokenizeCommand, NoFlagUsesTheVocabularyInstalledWithLathe) {
  auto r = run_command("env -u LATHE_CLIP_VOCAB " + shell_quote(lathe_binary().string()) +
                       " tokenize 'a cat'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ids: 49406 320 2368 49407"), std::string::npos) << r.output;
}

// An explicit path still wins over the installed copy, and a wrong one is an error naming it.
TEST(TokenizeCommand, AWrongVocabularyPathIsAClearError) {
  auto bad = run_lathe("tokenize --vocab /nonexistent/v.txt.gz 'a cat'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("/nonexistent/v.txt.gz"), std::string::npos) << bad.output;
  auto env = run_command("LATHE_CLIP_VOCAB=/nonexistent/e.txt.gz " + shell_quote(lathe_binary().string()) +
                         " tokenize 'a cat'");
  EXPECT_EQ(env.exit_code, 1);
  EXPECT_NE(env.output.find("/nonexistent/e.txt.gz"), std::string::npos) << env.output;
}

TEST(TokenizeCommand, UsageErrors) {
  EXPECT_EQ(run_lathe("tokenize --vocab x --ids 'text'").exit_code, 2);
  EXPECT_EQ(run_lathe("tokenize --vocab x").exit_code, 2);
}

}  // namespace
}  // namespace lathe::test
