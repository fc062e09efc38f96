// The audit's embedding hint (#16): an activation tag that splits into several CLIP pieces, or
// shares pieces with another concept's tag, gets a hint naming the profile keys of textual
// inversion and pivotal tuning; a one-piece tag gets none.
#include <gtest/gtest.h>

#include "audit_test_support.h"
#include "test_paths.h"

namespace lathe {
namespace {

using test::DatasetBuilder;
using test::with_code;

Dataset concepts() {
  DatasetBuilder b;
  auto& def = b.concept("10_jinx default");
  DatasetBuilder::image(def, "a", 512, 512, std::string("jinxdef, 1girl, blue_hair"));
  auto& arc = b.concept("10_jinx arcane");
  DatasetBuilder::image(arc, "a", 512, 512, std::string("jinxarcane, 1girl, braid"));
  auto& girl = b.concept("10_rin");
  DatasetBuilder::image(girl, "a", 512, 512, std::string("rin tohsakaz, smile"));
  auto& dog = b.concept("5_dog");
  DatasetBuilder::image(dog, "a", 512, 512, std::string("dog, grass"));
  return b.dataset;
}

AuditReport audit() {
  AuditOptions o;
  o.clip_vocab = (test::source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz").string();
  return run_audit(concepts(), o);
}

const Finding* pieces_of(const std::vector<Finding>& found, const std::string& concept_name) {
  for (const auto& f : found)
    if (f.concept == concept_name) return &f;
  return nullptr;
}

TEST(AuditEmbeddingHint, SeveralPiecesSuggestAnEmbeddingWithItsProfileKeys) {
  const auto found = with_code(audit(), "tokens.activation_pieces");
  const Finding* def = pieces_of(found, "jinx default");
  ASSERT_NE(def, nullptr);
  EXPECT_NE(def->message.find("3 CLIP tokens"), std::string::npos) << def->message;
  EXPECT_NE(def->hint.find("textual inversion ([network] type = \"embedding\")"), std::string::npos) << def->hint;
  EXPECT_NE(def->hint.find("pivotal tuning"), std::string::npos) << def->hint;
  EXPECT_NE(def->hint.find("[[embeddings]] name = \"jinxdef\", vectors = 3, init_word = "), std::string::npos)
      << def->hint;
  const Finding* dog = pieces_of(found, "dog");
  ASSERT_NE(dog, nullptr);
  EXPECT_EQ(dog->hint, "") << "a one-piece tag needs no embedding";
}

TEST(AuditEmbeddingHint, ATagThatIsNotOneWordGetsAName) {
  const Finding* rin = pieces_of(with_code(audit(), "tokens.activation_pieces"), "rin");
  ASSERT_NE(rin, nullptr);
  EXPECT_NE(rin->hint.find("name = \"rin_tohsakaz\""), std::string::npos) << rin->hint;
  EXPECT_NE(rin->hint.find("in place of 'rin tohsakaz'"), std::string::npos) << rin->hint;
}

TEST(AuditEmbeddingHint, SharedPiecesSuggestAnEmbeddingForEachTag) {
  const auto shared = with_code(audit(), "tokens.activation_shared_pieces");
  ASSERT_EQ(shared.size(), 1u);
  EXPECT_NE(shared[0].hint.find("no piece in common"), std::string::npos) << shared[0].hint;
  EXPECT_NE(shared[0].hint.find("name = \"jinxdef\""), std::string::npos) << shared[0].hint;
  EXPECT_NE(shared[0].hint.find("name = \"jinxarcane\""), std::string::npos) << shared[0].hint;
  EXPECT_NE(shared[0].hint.find("type = \"embedding\""), std::string::npos) << shared[0].hint;
}

}  // namespace
}  // namespace lathe
