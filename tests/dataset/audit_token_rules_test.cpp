// The token rule family inside the audit: skipped with a clear finding when no vocabulary is
// given (the commands always give one: text/vocab_locator.h), an error for an unreadable one,
// and on Lathe's own copy of the vocabulary the truncation, bleeding (shared pieces),
// known-word and keep_tokens findings.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "test_paths.h"

namespace lathe {
namespace {

using test::DatasetBuilder;
using test::has_finding;
using test::with_code;


std::string long_caption(const std::string& first) {
  std::string s = first;
  for (int i = 0; i < 25; ++i) s += ", blue eyes " + std::to_string(i % 10);
  return s;  // 1 + ... well past 75 tokens
}

Dataset two_jinx_concepts() {
  DatasetBuilder b;
  auto& def = b.concept("10_jinx default");
  DatasetBuilder::image(def, "a", 512, 512, std::string("jinxdef, 1girl, blue_hair"));
  DatasetBuilder::image(def, "b", 512, 512, long_caption("jinxdef"));
  auto& arc = b.concept("10_jinx arcane");
  DatasetBuilder::image(arc, "a", 512, 512, std::string("jinxarcane, 1girl, braid"));
  DatasetBuilder::image(arc, "b", 512, 512, std::string("jinxarcane, smile"));
  auto& dog = b.concept("5_dog");
  DatasetBuilder::image(dog, "a", 512, 512, std::string("dog, grass"));
  DatasetBuilder::image(dog, "b", 512, 512, std::string("dog, sitting"));
  return b.dataset;
}

TEST(AuditTokenRules, SkippedWithoutVocabularySaysHowToFix) {
  AuditOptions o;
  auto r = run_audit(two_jinx_concepts(), o);
  auto f = with_code(r, "tokens.skipped");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].message.find("truncation"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].hint.find("--vocab"), std::string::npos);
  EXPECT_NE(f[0].hint.find("LATHE_CLIP_VOCAB"), std::string::npos);
  EXPECT_NE(f[0].hint.find("reinstall"), std::string::npos) << f[0].hint;
  EXPECT_TRUE(with_code(r, "tokens.caption_truncated").empty());
}

TEST(AuditTokenRules, UnreadableVocabularyIsAnError) {
  AuditOptions o;
  o.clip_vocab = "/nonexistent/vocab.txt.gz";
  auto r = run_audit(two_jinx_concepts(), o);
  auto f = with_code(r, "tokens.vocab_unreadable");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::Error);
  EXPECT_NE(f[0].message.find("/nonexistent/vocab.txt.gz"), std::string::npos);
}

class AuditTokenRulesWithVocab : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.clip_vocab = (test::source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz").string();
  }
  AuditOptions options_;
};

TEST_F(AuditTokenRulesWithVocab, SharedPiecesBetweenConceptsAreNamed) {
  auto r = run_audit(two_jinx_concepts(), options_);
  auto f = with_code(r, "tokens.activation_shared_pieces");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].message.find("'jinxdef'"), std::string::npos) << f[0].message;
  EXPECT_NE(f[0].message.find("'jinxarcane'"), std::string::npos);
  EXPECT_NE(f[0].message.find("'jin', 'x'"), std::string::npos);
  EXPECT_EQ(with_code(r, "tokens.activation_pieces").size(), 3u);
}

TEST_F(AuditTokenRulesWithVocab, KnownWordActivationTagIsAModifiedConcept) {
  auto r = run_audit(two_jinx_concepts(), options_);
  auto f = with_code(r, "tokens.activation_known_word");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].concept, "dog");
  EXPECT_NE(f[0].message.find("modified concept"), std::string::npos);
  EXPECT_NE(f[0].hint.find("rarer tag"), std::string::npos);
}

TEST_F(AuditTokenRulesWithVocab, TruncatedCaptionsNameTheLostTags) {
  auto r = run_audit(two_jinx_concepts(), options_);
  auto f = with_code(r, "tokens.caption_truncated");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(has_finding(r, "tokens.caption_truncated", "b.txt"));
  EXPECT_NE(f[0].message.find("'blue eyes 9'"), std::string::npos) << f[0].message;
  auto summary = with_code(r, "tokens.truncation_summary");
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_NE(summary[0].message.find("1 of 6 captions"), std::string::npos) << summary[0].message;
  options_.max_token_length = 150;
  EXPECT_TRUE(with_code(run_audit(two_jinx_concepts(), options_), "tokens.caption_truncated").empty());
}

TEST_F(AuditTokenRulesWithVocab, KeepTokensAgainstLeadingActivationTags) {
  options_.keep_tokens = 1;
  EXPECT_TRUE(with_code(run_audit(two_jinx_concepts(), options_), "tokens.keep_tokens_mismatch").empty());
  options_.keep_tokens = 2;
  auto f = with_code(run_audit(two_jinx_concepts(), options_), "tokens.keep_tokens_mismatch");
  EXPECT_EQ(f.size(), 3u);
  if (!f.empty()) EXPECT_NE(f[0].message.find("keep_tokens is 2"), std::string::npos);
}

}  // namespace
}  // namespace lathe
