// TextEncoderCache: one encoding per distinct caption, batches that encode only their new
// captions (once each) and reassemble rows in order, SDXL's pooled output carried along, a
// disabled cache that stores nothing, and when a profile may cache at all.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/data/text_encoder_cache.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

// A fake encoder: hidden [3, 2] filled with the caption's length, pooled [2] with its first
// character code.
TextEncoding encode_one(const std::string& c, bool pooled) {
  TextEncoding e;
  e.hidden = torch::full({3, 2}, static_cast<float>(c.size()));
  if (pooled) e.pooled = torch::full({2}, c.empty() ? 0.0f : static_cast<float>(c[0]));
  return e;
}

TextEncoding encode_many(const std::vector<std::string>& cs, bool pooled) {
  std::vector<torch::Tensor> h, p;
  for (const auto& c : cs) {
    TextEncoding e = encode_one(c, pooled);
    h.push_back(e.hidden);
    if (pooled) p.push_back(e.pooled);
  }
  TextEncoding out;
  out.hidden = torch::stack(h);
  if (pooled) out.pooled = torch::stack(p);
  return out;
}

TEST(DataTextEncoderCache, OneEncodingPerCaption) {
  TextEncoderCache cache(true);
  int calls = 0;
  auto get = [&](const std::string& c) {
    return cache.get(c, [&] {
      ++calls;
      return encode_one(c, false);
    });
  };
  get("a cat");
  get("a dog!");
  const TextEncoding again = get("a cat");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache.stats().misses, 2);
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FLOAT_EQ(again.hidden.index({0, 0}).item<float>(), 5.0f);
  EXPECT_FALSE(again.pooled.defined());
}

TEST(DataTextEncoderCache, DisabledCacheEncodesEveryTime) {
  TextEncoderCache cache(false);
  int calls = 0;
  for (int i = 0; i < 3; ++i)
    cache.get("same", [&] {
      ++calls;
      return encode_one("same", true);
    });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(cache.stats().misses, 3);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DataTextEncoderCache, BatchesEncodeOnlyNewCaptionsOnce) {
  TextEncoderCache cache(true);
  std::vector<std::vector<std::string>> asked;
  auto encode = [&](const std::vector<std::string>& cs) {
    asked.push_back(cs);
    return encode_many(cs, true);
  };
  const std::vector<std::string> first = {"aa", "b", "aa"};
  const TextEncoding e1 = cache.get_batch(first, encode);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], (std::vector<std::string>{"aa", "b"}));
  EXPECT_TRUE(torch::equal(e1.hidden, encode_many(first, true).hidden));
  EXPECT_TRUE(torch::equal(e1.pooled, encode_many(first, true).pooled));

  const std::vector<std::string> second = {"b", "cccc"};
  const TextEncoding e2 = cache.get_batch(second, encode);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1], (std::vector<std::string>{"cccc"}));
  EXPECT_TRUE(torch::equal(e2.hidden, encode_many(second, true).hidden));
  EXPECT_TRUE(torch::equal(e2.pooled, encode_many(second, true).pooled));

  cache.get_batch({"aa", "cccc"}, encode);
  EXPECT_EQ(asked.size(), 2u);  // all cached: no encoder call
  EXPECT_EQ(cache.stats().misses, 3);
  EXPECT_EQ(cache.stats().hits, 4);
}

TEST(DataTextEncoderCache, DisabledBatchesPassThrough) {
  TextEncoderCache cache(false);
  int calls = 0;
  const TextEncoding e = cache.get_batch({"x", "x"}, [&](const std::vector<std::string>& cs) {
    ++calls;
    EXPECT_EQ(cs.size(), 2u);
    return encode_many(cs, false);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(e.hidden.size(0), 2);
  EXPECT_EQ(cache.stats().misses, 2);
}

TEST(DataTextEncoderCache, PlanNeedsFixedCaptionsAndAFrozenEncoder) {
  TrainConfig c;
  std::string warning;
  EXPECT_FALSE(text_encoder_cache_plan(c, &warning));  // not asked for
  EXPECT_TRUE(warning.empty());
  c.data.cache_text_encoder_outputs = true;
  c.network.train_text_encoder = false;
  EXPECT_TRUE(text_encoder_cache_plan(c, &warning));
  EXPECT_TRUE(warning.empty());
  c.data.shuffle_caption = true;
  EXPECT_FALSE(text_encoder_cache_plan(c, &warning));
  EXPECT_NE(warning.find("shuffle_caption"), std::string::npos) << warning;
  c.data.shuffle_caption = false;
  c.network.train_text_encoder = true;
  EXPECT_FALSE(text_encoder_cache_plan(c, &warning));
  EXPECT_NE(warning.find("train_text_encoder"), std::string::npos) << warning;
}

}  // namespace
}  // namespace lathe
