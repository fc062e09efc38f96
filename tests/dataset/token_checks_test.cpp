// Token-level dataset checks on the shared CLIP vocabulary: where long captions are cut and which
// tags are lost, activation-tag pieces, pieces shared between concepts' activation tags, known
// single-word activation tags, and counting leading activation tags for keep_tokens.
#include "dataset/token_checks.h"

#include <gtest/gtest.h>

#include <optional>

#include "test_paths.h"

namespace lathe {
namespace {

const char* kVocabRel = "clip/bpe_simple_vocab_16e6.txt.gz";

class TokenChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LATHE_REQUIRE_SHARED(kVocabRel);
    static auto vocab = text::load_bpe_vocab(test::shared_dir() / kVocabRel);
    tok_.emplace(vocab);
  }
  std::optional<text::ClipTokenizer> tok_;
};

// "blue eyes" is 2 tokens, and each ", " adds one: n tags take 3n - 1 tokens.
std::vector<std::string> blue_eyes_tags(int n) {
  std::vector<std::string> tags;
  for (int i = 0; i < n; ++i) tags.push_back("blue eyes " + std::to_string(i % 10));
  return tags;  // "blue eyes 3" is 3 tokens, 4 with the comma
}

TEST_F(TokenChecksTest, ShortCaptionIsNotTruncated) {
  auto r = check_caption_length(*tok_, {"1girl", "solo", "long_hair"}, 75);
  EXPECT_EQ(r.tokens, 8u);  // 1 girl , solo , long _ hair
  EXPECT_FALSE(r.truncated());
  EXPECT_TRUE(r.cut_tags.empty());
}

TEST_F(TokenChecksTest, LongCaptionNamesTheTagsCutOff) {
  auto tags = blue_eyes_tags(25);  // 25 * 4 - 1 = 99 tokens
  auto r = check_caption_length(*tok_, tags, 75);
  EXPECT_EQ(r.tokens, 99u);
  ASSERT_TRUE(r.truncated());
  // Tags 0..18 take 19 * 4 - 1 = 75 tokens exactly: tag 19 is the first one lost, entirely.
  EXPECT_EQ(r.first_cut_tag, 19u);
  EXPECT_FALSE(r.first_cut_partial);
  EXPECT_EQ(r.cut_tags, std::vector<std::string>(tags.begin() + 19, tags.end()));
  // With a limit of 74 the 19th tag loses its last token only.
  auto r74 = check_caption_length(*tok_, tags, 74);
  EXPECT_EQ(r74.first_cut_tag, 18u);
  EXPECT_TRUE(r74.first_cut_partial);
  EXPECT_FALSE(check_caption_length(*tok_, tags, 150).truncated());
}

TEST_F(TokenChecksTest, JinxTagsShareJinAndX) {
  auto a = activation_pieces(*tok_, "jinxdef");
  auto b = activation_pieces(*tok_, "jinxarcane");
  EXPECT_EQ(a.tokens.size(), 3u);
  EXPECT_EQ(b.tokens.size(), 4u);
  EXPECT_EQ(shared_pieces(a, b), (std::vector<std::string>{"jin", "x"}));
  EXPECT_EQ(describe_pieces(a.tokens), "jin \xC2\xB7 x \xC2\xB7 def");
  EXPECT_FALSE(a.single_known_word());
  auto c = activation_pieces(*tok_, "tsukiyo");
  EXPECT_TRUE(shared_pieces(a, c).empty());
}

TEST_F(TokenChecksTest, KnownWordActivationTagIsFlagged) {
  EXPECT_TRUE(activation_pieces(*tok_, "dog").single_known_word());
  EXPECT_TRUE(activation_pieces(*tok_, "Jinx").single_known_word());
  EXPECT_FALSE(activation_pieces(*tok_, "jinxdef").single_known_word());
  EXPECT_FALSE(activation_pieces(*tok_, "blue eyes").single_known_word());
}

TEST(TokenChecks, LeadingActivationTags) {
  std::vector<std::string> acts{"jinxdef", "arcane style"};
  EXPECT_EQ(leading_activation_tags({"jinxdef", "arcane style", "1girl"}, acts), 2u);
  EXPECT_EQ(leading_activation_tags({"1girl", "jinxdef"}, acts), 0u);
  EXPECT_EQ(leading_activation_tags({"jinxdef"}, acts), 1u);
}

}  // namespace
}  // namespace lathe
