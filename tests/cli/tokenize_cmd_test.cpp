// `lathe tokenize` through the real binary: the piece table, --ids over stdin, where the
// vocabulary comes from (--vocab, LATHE_CLIP_VOCAB) and the errors when it is missing.
#include <gtest/gtest.h>

#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe::test {
namespace {

const char* kVocabRel = "clip/bpe_simple_vocab_16e6.txt.gz";

std::string vocab_arg() { return "--vocab " + shell_quote((shared_dir() / kVocabRel).string()); }

TEST(TokenizeCommand, PrintsPiecesAndTheRow) {
  LATHE_REQUIRE_SHARED(kVocabRel);
  auto r = run_lathe("tokenize " + vocab_arg() + " 'Poiuytrezay'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ids: 49406 628 14292 88 975 89 551 49407"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("ay</w>"), std::string::npos);
  EXPECT_NE(r.output.find("6 tokens"), std::string::npos);
}

TEST(TokenizeCommand, IdsModeReadsOneCaptionPerLine) {
  LATHE_REQUIRE_SHARED(kVocabRel);
  TempDir dir;
  write_text(dir / "captions.txt", "a photo of a cat\n\njinxdef, 1girl\n");
  auto r = run_lathe("tokenize " + vocab_arg() + " --ids < " +
                     shell_quote((dir / "captions.txt").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "320 1125 539 320 2368\n\n7927 87 11649 267 272 1611\n");
}

TEST(TokenizeCommand, VocabularyFromEnvironment) {
  LATHE_REQUIRE_SHARED(kVocabRel);
  auto r = run_command("LATHE_CLIP_VOCAB=" + shell_quote((shared_dir() / kVocabRel).string()) +
                       " " + shell_quote(lathe_binary().string()) + " tokenize 'a cat'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ids: 49406 320 2368 49407"), std::string::npos) << r.output;
}

TEST(TokenizeCommand, MissingVocabularyIsAClearError) {
  auto r = run_command("env -u LATHE_CLIP_VOCAB " + shell_quote(lathe_binary().string()) +
                       " tokenize 'a cat'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("LATHE_CLIP_VOCAB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bpe_simple_vocab_16e6.txt.gz"), std::string::npos);
  auto bad = run_lathe("tokenize --vocab /nonexistent/v.txt.gz 'a cat'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("/nonexistent/v.txt.gz"), std::string::npos) << bad.output;
}

TEST(TokenizeCommand, UsageErrors) {
  EXPECT_EQ(run_lathe("tokenize --vocab x --ids 'text'").exit_code, 2);
  EXPECT_EQ(run_lathe("tokenize --vocab x").exit_code, 2);
}

}  // namespace
}  // namespace lathe::test
