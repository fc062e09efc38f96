// [[embeddings]] and the keys that go with them (network.type = "embedding",
// optimizer.embedding_lr / embedding_stop_step, saving.embedding_file): defaults, every bad
// name and value named by file:line and key, the combinations refused, the vocabulary check,
// and the round trip through the frozen profile (a profile without embeddings renders as it
// always did, so older runs keep their identity).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "io/profile.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const char* kBase = R"([model]
path = "tiny-random:sd15"

[dataset]
path = "data"
)";

const char* kTextualInversion = R"([model]
path = "tiny-random:sd15"

[dataset]
path = "data"

[network]
type = "embedding"

[[embeddings]]
name = "jinxdef"
vectors = 4
init_word = "woman"
)";

ProfileCheck check(const std::string& text, const fs::path& path) {
  return check_train_profile(parse_profile(text, path));
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// The first error of `text`, or "" when it checks.
std::string error_of(const std::string& text) {
  TempDir dir;
  ProfileCheck c = check(text, dir / "p.toml");
  return c.errors.empty() ? std::string() : c.errors.front();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(TrainConfigEmbeddings, TextualInversionDefaults) {
  TempDir dir;
  ProfileCheck c = check(kTextualInversion, dir / "p.toml");
  ASSERT_TRUE(c.ok()) << joined(c.errors);
  const TrainConfig& t = *c.config;
  EXPECT_TRUE(t.textual_inversion());
  EXPECT_TRUE(t.trains_embeddings());
  EXPECT_FALSE(t.network.train_unet);
  EXPECT_FALSE(t.network.train_text_encoder);
  ASSERT_EQ(t.embeddings.size(), 1u);
  EXPECT_EQ(t.embeddings[0].name, "jinxdef");
  EXPECT_EQ(t.embeddings[0].vector_count(), 4);
  EXPECT_EQ(t.embeddings[0].init_word, "woman");
  EXPECT_TRUE(t.embeddings[0].train);
  EXPECT_FALSE(t.embeddings[0].file.has_value());
  EXPECT_EQ(t.optimizer.effective_embedding_lr(), kDefaultEmbeddingLr);
  EXPECT_EQ(t.optimizer.embedding_stop_step, 0);
}

TEST(TrainConfigEmbeddings, InitWordDefaultsToTheConceptsClassWordElseStar) {
  TempDir dir;
  const std::string base = std::string(kBase) + "\n[[embeddings]]\nname = \"jinxdef\"\n";
  ProfileCheck plain = check(base, dir / "p.toml");
  ASSERT_TRUE(plain.ok()) << joined(plain.errors);
  EXPECT_EQ(plain.config->embeddings[0].init_word, "*");
  EXPECT_EQ(plain.config->embeddings[0].vector_count(), 1);
  ProfileCheck classed =
      check(base + "\n[[concepts]]\npath = \"c\"\nactivation_tag = \"jinxdef woman\"\n", dir / "p.toml");
  ASSERT_TRUE(classed.ok()) << joined(classed.errors);
  EXPECT_EQ(classed.config->embeddings[0].init_word, "woman");
}

TEST(TrainConfigEmbeddings, PivotalTuningKeys) {
  TempDir dir;
  const std::string text = std::string(kBase) +
                           "\n[optimizer]\nembedding_lr = 1e-3\nembedding_stop_step = 200\n"
                           "\n[saving]\nembedding_file = true\n"
                           "\n[[embeddings]]\nname = \"jinxdef\"\nvectors = 2\n";
  ProfileCheck c = check(text, dir / "p.toml");
  ASSERT_TRUE(c.ok()) << joined(c.errors);
  const TrainConfig& t = *c.config;
  EXPECT_FALSE(t.textual_inversion());
  EXPECT_TRUE(t.trains_embeddings());
  EXPECT_EQ(t.network.type, NetworkType::LoRA);
  EXPECT_EQ(t.optimizer.effective_embedding_lr(), 1e-3);
  EXPECT_EQ(t.optimizer.embedding_stop_step, 200);
  EXPECT_TRUE(t.saving.embedding_file);
}

TEST(TrainConfigEmbeddings, ProdigyEmbeddingLrDefaultsToOne) {
  TempDir dir;
  ProfileCheck c = check(std::string(kTextualInversion) + "\n[optimizer]\ntype = \"prodigy\"\n", dir / "p.toml");
  ASSERT_TRUE(c.ok()) << joined(c.errors);
  EXPECT_EQ(c.config->optimizer.effective_embedding_lr(), 1.0);
}

TEST(TrainConfigEmbeddings, BadNamesAreNamedWithTheirKey) {
  auto with_name = [](const std::string& name) {
    return std::string(kBase) + "\n[[embeddings]]\nname = \"" + name + "\"\n";
  };
  std::string e = error_of(with_name("jinx def"));
  EXPECT_TRUE(contains(e, "p.toml:")) << e;
  EXPECT_TRUE(contains(e, "embeddings[1].name")) << e;
  EXPECT_TRUE(contains(e, "space")) << e;
  EXPECT_TRUE(contains(error_of(with_name("jinx,def")), "','"));
  EXPECT_TRUE(contains(error_of(with_name("jinx.def")), "bundle_emb"));
  EXPECT_TRUE(contains(error_of(with_name("(jinx)")), "prompt syntax"));
  EXPECT_TRUE(contains(error_of(with_name("")), "is empty"));
  EXPECT_TRUE(contains(error_of(with_name(std::string(65, 'x'))), "longer than 64"));
  EXPECT_TRUE(contains(error_of(std::string(kBase) + "\n[[embeddings]]\nvectors = 2\n"),
                       "embeddings[1].name: missing"));
  // Two entries with one name, told apart only by case (CLIP lowercases captions).
  e = error_of(with_name("jinxdef") + "\n[[embeddings]]\nname = \"JinxDef\"\n");
  EXPECT_TRUE(contains(e, "embeddings[2].name")) << e;
  EXPECT_TRUE(contains(e, "already the name")) << e;
}

TEST(TrainConfigEmbeddings, VectorsOutOfRangeAndOtherBadValues) {
  const std::string base = std::string(kBase) + "\n[[embeddings]]\nname = \"jinxdef\"\n";
  std::string e = error_of(base + "vectors = 0\n");
  EXPECT_TRUE(contains(e, "embeddings[1].vectors: must be 1 to 75, got 0")) << e;
  EXPECT_TRUE(contains(error_of(base + "vectors = 76\n"), "must be 1 to 75, got 76"));
  EXPECT_TRUE(contains(error_of(base + "vectors = \"four\"\n"), "embeddings[1].vectors"));
  EXPECT_TRUE(contains(error_of(base + "init_word = \"  \"\n"), "init_word: is empty"));
  EXPECT_TRUE(contains(error_of(base + "train = false\n"), "embeddings[1].train"));
  e = error_of(base + "file = \"old.safetensors\"\ninit_word = \"woman\"\n");
  EXPECT_TRUE(contains(e, "embeddings[1].init_word")) << e;
  EXPECT_TRUE(contains(error_of(base + "colour = 3\n"), "embeddings[1]"));
  EXPECT_TRUE(contains(error_of(std::string(kBase) + "\n[optimizer]\nembedding_lr = 0\n[[embeddings]]\nname = \"a\"\n"),
                       "optimizer.embedding_lr: must be above 0"));
  EXPECT_TRUE(contains(error_of(std::string(kBase) + "\n[optimizer]\nembedding_stop_step = -1\n[[embeddings]]\nname = \"a\"\n"),
                       "optimizer.embedding_stop_step"));
}

TEST(TrainConfigEmbeddings, CombinationsThatCannotWork) {
  // Textual inversion without an embedding, or with only frozen ones.
  std::string e = error_of(std::string(kBase) + "\n[network]\ntype = \"embedding\"\n");
  EXPECT_TRUE(contains(e, "network.type")) << e;
  EXPECT_TRUE(contains(e, "no [[embeddings]]")) << e;
  TempDir dir;
  test::write_text(dir / "old.safetensors", "x");
  e = error_of(std::string(kBase) + "\n[network]\ntype = \"embedding\"\n[[embeddings]]\nname = \"a\"\nfile = \"" +
               (dir / "old.safetensors").string() + "\"\ntrain = false\n");
  EXPECT_TRUE(contains(e, "nothing would be trained")) << e;
  // LoRA keys with textual inversion.
  e = error_of(std::string(kBase) + "\n[network]\ntype = \"embedding\"\nrank = 8\n[[embeddings]]\nname = \"a\"\n");
  EXPECT_TRUE(contains(e, "network.rank: does not apply to network.type = \"embedding\"")) << e;
  // The stop step, the UNet / text-encoder rates and the separate file belong to pivotal tuning.
  e = error_of(std::string(kTextualInversion) + "\n[optimizer]\nembedding_stop_step = 10\n");
  EXPECT_TRUE(contains(e, "optimizer.embedding_stop_step")) << e;
  EXPECT_TRUE(contains(e, "max_steps")) << e;
  EXPECT_TRUE(contains(error_of(std::string(kTextualInversion) + "\n[optimizer]\nunet_lr = 1e-4\n"),
                       "optimizer.unet_lr"));
  EXPECT_TRUE(contains(error_of(std::string(kTextualInversion) + "\n[saving]\nembedding_file = true\n"),
                       "saving.embedding_file"));
  // Embedding keys without a trained embedding.
  EXPECT_TRUE(contains(error_of(std::string(kBase) + "\n[optimizer]\nembedding_lr = 1e-3\n"), "optimizer.embedding_lr"));
  EXPECT_TRUE(contains(error_of(std::string(kBase) + "\n[optimizer]\nembedding_stop_step = 5\n"),
                       "optimizer.embedding_stop_step"));
  EXPECT_TRUE(contains(error_of(std::string(kBase) + "\n[saving]\nembedding_file = true\n"), "saving.embedding_file"));
  // Trained vectors change the text encoder's outputs: they cannot be cached.
  ProfileCheck cached = check(std::string(kBase) + "cache_text_encoder_outputs = true\n\n[network]\n"
                                                   "type = \"embedding\"\n[[embeddings]]\nname = \"a\"\n",
                              dir / "p.toml");
  EXPECT_TRUE(contains(joined(cached.errors), "dataset.cache_text_encoder_outputs")) << joined(cached.errors);
}

TEST(TrainConfigEmbeddings, WarningsForKeysThatDoLittle) {
  TempDir dir;
  ProfileCheck lr = check(std::string(kTextualInversion) + "\n[optimizer]\nlr = 1e-4\n", dir / "p.toml");
  ASSERT_TRUE(lr.ok()) << joined(lr.errors);
  EXPECT_TRUE(contains(joined(lr.warnings), "optimizer.lr: is not used by textual inversion")) << joined(lr.warnings);
  ProfileCheck late = check(std::string(kBase) +
                                "\n[training]\nmax_steps = 100\n[optimizer]\nembedding_stop_step = 100\n"
                                "[[embeddings]]\nname = \"a\"\n",
                            dir / "p.toml");
  ASSERT_TRUE(late.ok()) << joined(late.errors);
  EXPECT_TRUE(contains(joined(late.warnings), "train to the end")) << joined(late.warnings);
}

TEST(TrainConfigEmbeddings, ANameCLIPAlreadyKnowsIsRefused) {
  const fs::path vocab = test::source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz";
  ASSERT_TRUE(fs::exists(vocab));
  const std::string base = "[model]\npath = \"tiny-random:sd15\"\ntokenizer = \"" + vocab.string() +
                           "\"\n[dataset]\npath = \"data\"\n[[embeddings]]\n";
  std::string e = error_of(base + "name = \"Woman\"\n");
  EXPECT_TRUE(contains(e, "embeddings[1].name")) << e;
  EXPECT_TRUE(contains(e, "already knows")) << e;
  EXPECT_EQ(error_of(base + "name = \"jinxdef\"\n"), "");
  // A tiny model without a tokenizer hashes words: there is no vocabulary to collide with.
  EXPECT_EQ(error_of(std::string(kBase) + "\n[[embeddings]]\nname = \"woman\"\n"), "");
}

TEST(TrainConfigEmbeddings, RoundTripsThroughTheFrozenProfile) {
  TempDir dir;
  test::write_text(dir / "old.safetensors", "x");
  const std::string text = std::string(kBase) +
                           "\n[optimizer]\nembedding_lr = 2e-3\nembedding_stop_step = 50\n"
                           "\n[saving]\nembedding_file = true\n"
                           "\n[[embeddings]]\nname = \"jinxdef\"\nvectors = 3\ninit_word = \"girl\"\n"
                           "\n[[embeddings]]\nname = \"oldstyle\"\nfile = \"old.safetensors\"\ntrain = false\n";
  for (const std::string& profile : {text, std::string(kTextualInversion)}) {
    TrainConfig t = parse_train_config(profile, dir / "p.toml");
    const std::string rendered = render_profile_toml(t);
    EXPECT_TRUE(contains(rendered, "\n[[embeddings]]\nname = ")) << rendered;
    TrainConfig again = parse_train_config(rendered, dir / "runs/x/profile.toml");
    EXPECT_EQ(render_profile_identity(again), render_profile_identity(t));
    ASSERT_EQ(again.embeddings.size(), t.embeddings.size());
    for (std::size_t i = 0; i < t.embeddings.size(); ++i) {
      EXPECT_EQ(again.embeddings[i].name, t.embeddings[i].name);
      EXPECT_EQ(again.embeddings[i].vectors, t.embeddings[i].vectors);
      EXPECT_EQ(again.embeddings[i].init_word, t.embeddings[i].init_word);
      EXPECT_EQ(again.embeddings[i].file, t.embeddings[i].file);
      EXPECT_EQ(again.embeddings[i].train, t.embeddings[i].train);
    }
    EXPECT_EQ(again.optimizer.effective_embedding_lr(), t.optimizer.effective_embedding_lr());
    EXPECT_EQ(again.optimizer.embedding_stop_step, t.optimizer.embedding_stop_step);
    EXPECT_EQ(again.saving.embedding_file, t.saving.embedding_file);
    EXPECT_EQ(again.network.type, t.network.type);
  }
  // A profile without embeddings renders none of their keys (older runs' identity unchanged).
  const std::string plain = render_profile_toml(parse_train_config(kBase, dir / "p.toml"));
  for (const char* key : {"embedding_lr", "embedding_stop_step", "embedding_file", "[[embeddings]]"})
    EXPECT_FALSE(contains(plain, key)) << key;
  // The vectors are part of what is trained: changing them changes the identity.
  TrainConfig three = parse_train_config(kTextualInversion, dir / "p.toml");
  TrainConfig five = three;
  five.embeddings[0].vectors = 5;
  EXPECT_NE(render_profile_identity(three), render_profile_identity(five));
}

TEST(TrainConfigEmbeddings, MissingEmbeddingFileIsListed) {
  TempDir dir;
  TrainConfig t = parse_train_config(std::string(kBase) + "\n[[embeddings]]\nname = \"a\"\nfile = \"gone.safetensors\"\n"
                                                          "train = false\n",
                                     dir / "p.toml");
  std::string all = joined(missing_files(t));
  EXPECT_TRUE(contains(all, "embeddings[1].file: ")) << all;
}

TEST(TrainConfigEmbeddings, ListCannotBeSetFromTheCommandLine) {
  TempDir dir;
  ProfileCheck c = check_train_profile(parse_profile(kBase, dir / "p.toml"), {"embeddings.name=x"});
  EXPECT_TRUE(contains(joined(c.errors), "[[embeddings]] is a list")) << joined(c.errors);
}

}  // namespace
}  // namespace lathe
