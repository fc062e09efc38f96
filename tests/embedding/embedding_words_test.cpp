// Where embedding names stand in captions: whole words, ASCII case ignored, inside weights
// syntax and beside punctuation, never inside longer words.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "embedding/embedding_words.h"

namespace lathe {
namespace {

// "text|<word>|text": plain pieces as they are, found names in angle brackets.
std::string render(const std::string& caption, const std::vector<std::string>& names) {
  std::string out;
  std::string joined;
  for (const auto& p : split_at_embedding_words(caption, names)) {
    if (!out.empty()) out += '|';
    out += p.word >= 0 ? "<" + names[p.word] + ">" : std::string(p.text);
    joined += std::string(p.text);
  }
  EXPECT_EQ(joined, caption) << "pieces must concatenate back to the caption";
  return out;
}

TEST(EmbeddingWords, FindsTheNameInsideLongerCaptionsWithWeightsAndPunctuation) {
  const std::vector<std::string> names{"jinxdef"};
  EXPECT_EQ(render("jinxdef", names), "<jinxdef>");
  EXPECT_EQ(render("a photo of jinxdef, red hat", names), "a photo of |<jinxdef>|, red hat");
  EXPECT_EQ(render("(jinxdef:1.2), smiling", names), "(|<jinxdef>|:1.2), smiling");
  EXPECT_EQ(render("[JinxDef]. ((jinxdef))!", names), "[|<jinxdef>|]. ((|<jinxdef>|))!");
  EXPECT_EQ(render("jinxdef's hat", names), "<jinxdef>|'s hat");
  EXPECT_EQ(render("1girl,jinxdef,solo", names), "1girl,|<jinxdef>|,solo");
}

TEST(EmbeddingWords, LeavesLongerWordsAlone) {
  const std::vector<std::string> names{"jinxdef"};
  EXPECT_EQ(render("jinxdefs", names), "jinxdefs");
  EXPECT_EQ(render("my_jinxdef", names), "my_jinxdef");
  EXPECT_EQ(render("jinxdef2 xjinxdef", names), "jinxdef2 xjinxdef");
  EXPECT_EQ(render("caf\xC3\xA9jinxdef", names), "caf\xC3\xA9jinxdef");
  EXPECT_EQ(render("", names), "");
}

TEST(EmbeddingWords, TheLongerNameWinsAndSeveralNamesAreFound) {
  const std::vector<std::string> names{"jinx", "jinx-def", "rin"};
  EXPECT_EQ(render("jinx-def and jinx with rin", names), "<jinx-def>| and |<jinx>| with |<rin>");
  EXPECT_EQ(render("jinx-defx", names), "<jinx>|-defx");
}

}  // namespace
}  // namespace lathe
