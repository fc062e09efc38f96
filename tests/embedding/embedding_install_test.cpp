// Embeddings installed in tiny real-architecture models (CLIP vocabulary, SD 1.x and SDXL): the
// tokenizer puts the new ids where the name stands, the encoders read the extra rows, and
// everything without the name encodes exactly as the base model does.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/error.h"
#include "embedding/embedding_install.h"
#include "test_paths.h"
#include "train/model/base_model.h"
#include "train/model/text_conditioning.h"

namespace lathe {
namespace {

BaseModel tiny(ModelFamily family) {
  return build_tiny_random_model(family, test::source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz");
}

Embedding random_embedding(const BaseModel& model, const std::string& name, std::int64_t n) {
  Embedding e;
  e.name = name;
  for (const auto& te : model.text_encoders) e.vectors.push_back(torch::randn({n, te->config().hidden_size}));
  return e;
}

// `haystack` with the first run of `needle` replaced by `replacement`.
std::vector<long> replace_run(std::vector<long> haystack, const std::vector<long>& needle,
                              const std::vector<long>& replacement) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
  EXPECT_NE(it, haystack.end()) << "the name's own pieces are not in the base tokenization";
  if (it == haystack.end()) return haystack;
  it = haystack.erase(it, it + static_cast<std::ptrdiff_t>(needle.size()));
  haystack.insert(it, replacement.begin(), replacement.end());
  return haystack;
}

TEST(EmbeddingInstall, TokenizerPutsTheNewIdsWhereTheNameStands) {
  BaseModel model = tiny(ModelFamily::SDXL);
  // The base tokenization, taken before installing: the name splits into known pieces.
  const std::vector<std::string> captions{"jinxdef", "a photo of jinxdef, red hat",
                                          "(jinxdef:1.2), smiling, [JINXDEF]", "1girl,jinxdef,solo"};
  std::vector<std::vector<long>> base_words;
  for (const auto& c : captions) base_words.push_back(model.tokenizer->encode_words(c, 0));
  const std::vector<long> name_pieces = model.tokenizer->encode_words("jinxdef", 0);
  ASSERT_GT(name_pieces.size(), 1u) << "jinxdef should split into several CLIP pieces";
  const std::vector<long> unrelated = model.tokenizer->encode("jinxdefs and my_jinxdef", 1);

  const InstalledEmbedding inst = install_embedding(model, random_embedding(model, "jinxdef", 3), false);
  EXPECT_EQ(inst.token_ids, (std::vector<long>{49408, 49409, 49410}));
  for (std::size_t i = 0; i < captions.size(); ++i) {
    std::vector<long> expected = replace_run(base_words[i], name_pieces, inst.token_ids);
    if (i == 2) expected = replace_run(expected, name_pieces, inst.token_ids);  // [JINXDEF] too
    EXPECT_EQ(model.tokenizer->encode_words(captions[i], 0), expected) << captions[i];
    EXPECT_EQ(model.tokenizer->encode_words(captions[i], 1), expected) << captions[i];
  }
  // The 77-id rows keep each encoder's start, end and padding.
  const auto row1 = model.tokenizer->encode("jinxdef", 0);
  const auto row2 = model.tokenizer->encode("jinxdef", 1);
  EXPECT_EQ(std::vector<long>(row1.begin(), row1.begin() + 6),
            (std::vector<long>{49406, 49408, 49409, 49410, 49407, 49407}));
  EXPECT_EQ(std::vector<long>(row2.begin(), row2.begin() + 6), (std::vector<long>{49406, 49408, 49409, 49410, 49407, 0}));
  EXPECT_EQ(model.tokenizer->encode("jinxdefs and my_jinxdef", 1), unrelated);
}

TEST(EmbeddingInstall, CaptionsWithoutTheNameEncodeExactlyAsTheBaseModel) {
  for (ModelFamily family : {ModelFamily::SD1, ModelFamily::SDXL}) {
    BaseModel model = tiny(family);
    const std::vector<std::string> captions{"a photo of a cat, red hat", "jinxdefs on a hill"};
    torch::NoGradGuard no_grad;
    const Conditioning before = encode_captions(model, captions, 1, torch::kCPU);
    install_embedding(model, random_embedding(model, "jinxdef", 4), true);
    const Conditioning after = encode_captions(model, captions, 1, torch::kCPU);
    EXPECT_TRUE(torch::equal(before.context, after.context)) << family_name(family);
    if (family == ModelFamily::SDXL) EXPECT_TRUE(torch::equal(before.text_embeds, after.text_embeds));
  }
}

TEST(EmbeddingInstall, VectorsEqualToTokenRowsEncodeAsThoseTokens) {
  for (ModelFamily family : {ModelFamily::SD1, ModelFamily::SDXL}) {
    BaseModel model = tiny(family);
    torch::NoGradGuard no_grad;
    // Rows of "red hat" in every encoder's vocabulary.
    Embedding e;
    e.name = "jinxdef";
    const std::vector<long> ids = model.tokenizer->encode_words("red hat", 0);
    ASSERT_EQ(ids.size(), 2u);
    for (auto& te : model.text_encoders)
      e.vectors.push_back(te->text_model->token_embedding->weight.index_select(
          0, torch::tensor(std::vector<std::int64_t>(ids.begin(), ids.end()))).clone());
    const Conditioning base = encode_captions(model, {"a (red hat:1.1), smiling"}, 1, torch::kCPU);
    install_embedding(model, e, false);
    const Conditioning with = encode_captions(model, {"a (jinxdef:1.1), smiling"}, 1, torch::kCPU);
    EXPECT_TRUE(torch::equal(base.context, with.context)) << family_name(family);
    if (family == ModelFamily::SDXL) EXPECT_TRUE(torch::equal(base.text_embeds, with.text_embeds));
  }
}

TEST(EmbeddingInstall, OnlyTrainableVectorsGetGradientsAndTheVocabularyStaysFrozen) {
  BaseModel model = tiny(ModelFamily::SDXL);
  // Frozen as load_base_model leaves a base model (build_tiny_random_model alone does not).
  for (auto& te : model.text_encoders)
    for (auto& p : te->parameters()) p.set_requires_grad(false);
  const auto vocab_before = model.text_encoders[1]->text_model->token_embedding->weight.clone();
  const InstalledEmbedding trained = install_embedding(model, random_embedding(model, "jinxdef", 2), true);
  const InstalledEmbedding frozen = install_embedding(model, random_embedding(model, "rinstyle", 1), false);
  EXPECT_EQ(frozen.token_ids, (std::vector<long>{49410}));
  const Conditioning c = encode_captions(model, {"jinxdef in rinstyle"}, 1, torch::kCPU);
  (c.context.square().sum() + c.text_embeds.sum()).backward();
  for (const auto& v : trained.vectors) {
    ASSERT_TRUE(v.grad().defined());
    EXPECT_GT(v.grad().abs().sum().item<double>(), 0.0);
  }
  for (const auto& v : frozen.vectors) EXPECT_FALSE(v.grad().defined());
  for (auto& te : model.text_encoders) EXPECT_FALSE(te->text_model->token_embedding->weight.grad().defined());
  EXPECT_TRUE(torch::equal(vocab_before, model.text_encoders[1]->text_model->token_embedding->weight));

  set_embedding_trainable(installed_embedding(model, "jinxdef"), false);
  for (const auto& v : trained.vectors) EXPECT_FALSE(v.requires_grad());
  const Embedding snap = embedding_snapshot(installed_embedding(model, "jinxdef"));
  ASSERT_EQ(snap.vectors.size(), 2u);
  EXPECT_TRUE(torch::equal(snap.vectors[1], trained.vectors[1]));
  EXPECT_FALSE(snap.vectors[1].requires_grad());
}

TEST(EmbeddingInstall, InitWordTokensAreCycledOverTheVectors) {
  BaseModel model = tiny(ModelFamily::SDXL);
  const Embedding e = embedding_from_init_word(model, "jinxdef", 3, "red hat");
  const std::vector<long> ids = model.tokenizer->encode_words("red hat", 0);
  ASSERT_EQ(e.vectors.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& w = model.text_encoders[i]->text_model->token_embedding->weight;
    EXPECT_TRUE(torch::equal(e.vectors[i][0], w[ids[0]]));
    EXPECT_TRUE(torch::equal(e.vectors[i][1], w[ids[1]]));
    EXPECT_TRUE(torch::equal(e.vectors[i][2], w[ids[0]]));
  }
  EXPECT_EQ(e.init_word, "red hat");
  EXPECT_EQ(e.family, ModelFamily::SDXL);
  EXPECT_THROW(embedding_from_init_word(model, "jinxdef", 3, "  "), Error);
  EXPECT_THROW(embedding_from_init_word(model, "jinxdef", 76, "*"), Error);
  EXPECT_EQ(embedding_from_init_word(model, "jinxdef", 1, "*").num_vectors(), 1);
}

TEST(EmbeddingInstall, RefusesWhatDoesNotFit) {
  BaseModel sd1 = tiny(ModelFamily::SD1);
  BaseModel sdxl = tiny(ModelFamily::SDXL);
  EXPECT_THROW(install_embedding(sd1, random_embedding(sdxl, "jinxdef", 1), false), Error);  // two sets
  Embedding wide = random_embedding(sd1, "jinxdef", 1);
  wide.vectors[0] = torch::randn({1, 768});
  try {
    install_embedding(sd1, wide, false);
    FAIL() << "a 768-wide embedding fit a 32-wide encoder";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("768 wide"), std::string::npos) << err.what();
  }
  EXPECT_THROW(install_embedding(sd1, random_embedding(sd1, "bad name", 1), false), Error);
  install_embedding(sd1, random_embedding(sd1, "jinxdef", 1), false);
  EXPECT_THROW(install_embedding(sd1, random_embedding(sd1, "jinxdef", 1), false), Error);  // twice
  EXPECT_THROW(installed_embedding(sd1, "nothere"), Error);
}

}  // namespace
}  // namespace lathe
