// Caption processing: keep_tokens keeps the first tags in place, caption dropout at rate 1
// empties the caption, rates of 0 draw nothing, tag dropout follows the generator's draws one
// tag at a time, and fixed captions come back byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "train/data/caption_processing.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

std::vector<std::string> tags_of(const std::string& caption) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= caption.size()) {
    std::size_t comma = caption.find(", ", start);
    if (comma == std::string::npos) comma = caption.size();
    out.push_back(caption.substr(start, comma - start));
    start = comma + 2;
  }
  return out;
}

TEST(DataCaption, OptionsComeFromTheDataConfig) {
  DataConfig d;
  d.shuffle_caption = true;
  d.keep_tokens = 3;
  d.caption_dropout_rate = 0.1;
  d.caption_tag_dropout_rate = 0.2;
  CaptionOptions o = caption_options(d);
  EXPECT_TRUE(o.shuffle);
  EXPECT_EQ(o.keep_tokens, 3);
  EXPECT_DOUBLE_EQ(o.caption_dropout_rate, 0.1);
  EXPECT_DOUBLE_EQ(o.tag_dropout_rate, 0.2);
  EXPECT_FALSE(captions_are_fixed(o));
  EXPECT_TRUE(captions_are_fixed(CaptionOptions{}));
  EXPECT_FALSE(captions_are_fixed(CaptionOptions{false, 0, 0.0, 0.5}));
  EXPECT_FALSE(captions_are_fixed(CaptionOptions{false, 0, 0.5, 0.0}));
}

TEST(DataCaption, FixedCaptionIsUnchangedAndDrawsNothing) {
  SeededRng rng(11), twin(11);
  const std::string caption = "a  cat,b,, c ";  // odd spacing stays as the file had it
  EXPECT_EQ(process_caption(caption, CaptionOptions{}, rng), caption);
  EXPECT_EQ(rng.next(), twin.next());
}

TEST(DataCaption, CaptionDropoutOfOneEmptiesEveryCaption) {
  CaptionOptions o;
  o.caption_dropout_rate = 1.0;
  o.shuffle = true;
  for (std::uint64_t s = 0; s < 20; ++s) {
    SeededRng rng(s);
    EXPECT_EQ(process_caption("a, b, c", o, rng), "");
  }
}

TEST(DataCaption, KeepTokensStayInPlaceWhileTheRestShuffles) {
  CaptionOptions o;
  o.shuffle = true;
  o.keep_tokens = 2;
  const std::string caption = "sks, 1girl, blue hair, red eyes, smile, outdoors, hat";
  std::set<std::string> orders;
  for (std::uint64_t s = 0; s < 50; ++s) {
    SeededRng rng(s);
    const std::string out = process_caption(caption, o, rng);
    std::vector<std::string> tags = tags_of(out);
    ASSERT_EQ(tags.size(), 7u) << out;
    EXPECT_EQ(tags[0], "sks");
    EXPECT_EQ(tags[1], "1girl");
    std::vector<std::string> rest(tags.begin() + 2, tags.end());
    std::sort(rest.begin(), rest.end());
    EXPECT_EQ(rest,
              (std::vector<std::string>{"blue hair", "hat", "outdoors", "red eyes", "smile"}));
    orders.insert(out);
  }
  EXPECT_GT(orders.size(), 10u);  // 120 orders are possible; 50 seeds find many
}

TEST(DataCaption, ShuffleTrimsAndDropsEmptyTags) {
  CaptionOptions o;
  o.shuffle = true;
  o.keep_tokens = 3;
  SeededRng rng(5);
  EXPECT_EQ(process_caption(" a ,  b,, c ", o, rng), "a, b, c");
}

TEST(DataCaption, KeepTokensBeyondTheTagCountKeepsEverything) {
  CaptionOptions o;
  o.shuffle = true;
  o.keep_tokens = 9;
  o.tag_dropout_rate = 1.0;
  SeededRng rng(3);
  EXPECT_EQ(process_caption("x, y, z", o, rng), "x, y, z");
}

TEST(DataCaption, TagDropoutOfOneKeepsOnlyTheKeptTags) {
  CaptionOptions o;
  o.keep_tokens = 1;
  o.tag_dropout_rate = 1.0;
  SeededRng rng(9);
  EXPECT_EQ(process_caption("sks, a, b, c", o, rng), "sks");
}

TEST(DataCaption, TagDropoutDrawsOncePerTagAfterTheKeptOnes) {
  CaptionOptions o;
  o.keep_tokens = 1;
  o.tag_dropout_rate = 0.5;
  for (std::uint64_t s = 0; s < 20; ++s) {
    SeededRng rng(s), twin(s);
    // By hand: a tag survives when its draw is >= the rate (kohya's rule), in caption order.
    std::string expected = "sks";
    for (const char* tag : {"a", "b", "c", "d"})
      if (twin.uniform() >= 0.5) expected += std::string(", ") + tag;
    EXPECT_EQ(process_caption("sks, a, b, c, d", o, rng), expected) << "seed " << s;
    EXPECT_EQ(rng.next(), twin.next()) << "one draw per droppable tag, no more";
  }
}

TEST(DataCaption, CaptionDropoutDrawsFirstThenTheRest) {
  CaptionOptions o;
  o.caption_dropout_rate = 0.3;
  int dropped = 0;
  for (std::uint64_t s = 0; s < 200; ++s) {
    SeededRng rng(s), twin(s);
    const bool expect_drop = twin.uniform() < 0.3;
    const std::string out = process_caption("a, b", o, rng);
    EXPECT_EQ(out, expect_drop ? "" : "a, b");
    dropped += expect_drop;
    EXPECT_EQ(rng.next(), twin.next());
  }
  EXPECT_GT(dropped, 30);
  EXPECT_LT(dropped, 90);
}

TEST(DataCaption, SameGeneratorStateGivesTheSameCaption) {
  CaptionOptions o;
  o.shuffle = true;
  o.tag_dropout_rate = 0.2;
  SeededRng a(mix_seed(42, {3, 7, 1})), b(mix_seed(42, {3, 7, 1}));
  const std::string c = "p, q, r, s, t, u";
  EXPECT_EQ(process_caption(c, o, a), process_caption(c, o, b));
}

}  // namespace
}  // namespace lathe
