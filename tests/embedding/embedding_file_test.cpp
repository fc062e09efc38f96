// Embedding files: what Lathe writes has exactly the keys, dtypes and shapes A1111, Forge and
// ComfyUI load; it reads back to the same tensors; the other safetensors layouts those loaders
// accept are read; pickles and broken files are refused with a clear message.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "embedding/embedding_file.h"
#include "io/safetensors.h"
#include "models/tensor_io.h"
#include "temp_dir.h"

namespace lathe {
namespace {

Embedding make(const std::string& name, std::vector<std::int64_t> widths, std::int64_t n) {
  Embedding e;
  e.name = name;
  for (auto w : widths) e.vectors.push_back(torch::randn({n, w}));
  return e;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(EmbeddingFile, Sd1FileHasTheLoadersLayoutAndReadsBack) {
  test::TempDir tmp;
  Embedding e = make("jinxdef", {768}, 4);
  e.family = ModelFamily::SD1;
  e.base_model = "v1-5-pruned.safetensors";
  e.init_word = "woman";
  e.step = 1200;
  e.epoch = 6;
  const auto path = tmp.path() / "jinxdef.safetensors";
  write_embedding_file(path, e);

  SafetensorsFile file(path);
  EXPECT_EQ(file.names(), std::vector<std::string>{"emb_params"});
  EXPECT_EQ(file.info("emb_params").dtype, DType::F32);
  EXPECT_EQ(file.info("emb_params").shape, (std::vector<std::int64_t>{4, 768}));
  const std::map<std::string, std::string> expected_meta{
      {"name", "jinxdef"}, {"vectors", "4"}, {"model_family", "sd1"}, {"base_model", "v1-5-pruned.safetensors"},
      {"init_word", "woman"}, {"step", "1200"}, {"epoch", "6"}};
  EXPECT_EQ(file.metadata(), expected_meta);

  const Embedding back = read_embedding_file(path);
  EXPECT_EQ(back.name, "jinxdef");
  ASSERT_EQ(back.vectors.size(), 1u);
  EXPECT_TRUE(torch::equal(back.vectors[0], e.vectors[0]));
  EXPECT_EQ(back.family, ModelFamily::SD1);
  EXPECT_EQ(back.step, 1200);
  EXPECT_EQ(back.epoch, 6);
  EXPECT_EQ(back.init_word, "woman");
  EXPECT_EQ(back.base_model, "v1-5-pruned.safetensors");
  EXPECT_EQ(family_of_shapes(back), ModelFamily::SD1);
}

TEST(EmbeddingFile, SdxlFileHasClipLAndClipGAndReadsBack) {
  test::TempDir tmp;
  const Embedding e = make("jinxdef", {768, 1280}, 2);
  const auto path = tmp.path() / "jinxdef.safetensors";
  write_embedding_file(path, e);
  SafetensorsFile file(path);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"clip_g", "clip_l"}));
  EXPECT_EQ(file.info("clip_l").dtype, DType::F32);
  EXPECT_EQ(file.info("clip_g").dtype, DType::F32);
  EXPECT_EQ(file.info("clip_l").shape, (std::vector<std::int64_t>{2, 768}));
  EXPECT_EQ(file.info("clip_g").shape, (std::vector<std::int64_t>{2, 1280}));
  EXPECT_EQ(file.metadata().at("model_family"), "sdxl");  // from the shapes

  const Embedding back = read_embedding_file(path);
  ASSERT_EQ(back.vectors.size(), 2u);
  EXPECT_TRUE(torch::equal(back.vectors[0], e.vectors[0]));  // clip_l first, as the encoders
  EXPECT_TRUE(torch::equal(back.vectors[1], e.vectors[1]));
  EXPECT_EQ(family_of_shapes(back), ModelFamily::SDXL);
  EXPECT_EQ(make("x", {1024}, 1).vectors.size(), 1u);
  EXPECT_EQ(family_of_shapes(make("x", {1024}, 1)), ModelFamily::SD2);
  EXPECT_EQ(family_of_shapes(make("x", {32}, 1)), std::nullopt);
}

TEST(EmbeddingFile, ReadsTheOtherLayoutsTheLoadersAccept) {
  test::TempDir tmp;
  const auto v = torch::randn({768});
  // diffusers' learned_embeds: one [width] tensor under the token.
  write_tensors(tmp.path() / "diffusers.safetensors", {{"<jinx>", v}});
  Embedding d = read_embedding_file(tmp.path() / "diffusers.safetensors");
  EXPECT_EQ(d.name, "diffusers");
  ASSERT_EQ(d.vectors.size(), 1u);
  EXPECT_TRUE(torch::equal(d.vectors[0], v.unsqueeze(0)));
  // A converted A1111 .pt (string_to_param.*), stored in fp16.
  const auto h = torch::randn({3, 1024}).to(torch::kFloat16);
  write_tensors(tmp.path() / "a1111.safetensors", {{"string_to_param.*", h}});
  Embedding a = read_embedding_file(tmp.path() / "a1111.safetensors");
  EXPECT_EQ(a.vectors[0].scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(a.vectors[0], h.to(torch::kFloat32)));
  // A pivotal-tuning LoRA file with one bundled SDXL embedding beside its LoRA weights.
  const Embedding xl = make("rinstyle", {768, 1280}, 2);
  auto tensors = embedding_bundle_tensors(xl);
  EXPECT_EQ(tensors[0].first, "bundle_emb.rinstyle.clip_g");
  EXPECT_EQ(tensors[1].first, "bundle_emb.rinstyle.clip_l");
  tensors.emplace_back("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", torch::zeros({4, 768}));
  write_tensors(tmp.path() / "lora.safetensors", tensors);
  Embedding b = read_embedding_file(tmp.path() / "lora.safetensors");
  EXPECT_EQ(b.name, "rinstyle");
  EXPECT_TRUE(torch::equal(b.vectors[0], xl.vectors[0]));
  EXPECT_TRUE(torch::equal(b.vectors[1], xl.vectors[1]));
  // Two bundled SD 1.x embeddings: both listed, one file cannot stand for both.
  auto two = embedding_bundle_tensors(make("one", {768}, 1));
  EXPECT_EQ(two[0].first, "bundle_emb.one.string_to_param.*");
  for (auto& t : embedding_bundle_tensors(make("two", {768}, 2))) two.push_back(t);
  write_tensors(tmp.path() / "two.safetensors", two);
  const auto bundled = read_bundled_embeddings(tmp.path() / "two.safetensors");
  ASSERT_EQ(bundled.size(), 2u);
  EXPECT_EQ(bundled[1].name, "two");
  EXPECT_EQ(bundled[1].num_vectors(), 2);
  EXPECT_NE(message_of([&] { read_embedding_file(tmp.path() / "two.safetensors"); }).find("bundles 2 embeddings"),
            std::string::npos);
}

TEST(EmbeddingFile, RefusesPicklesAndUnknownOrBrokenFiles) {
  test::TempDir tmp;
  std::ofstream(tmp.path() / "old.pt") << "PK\x03\x04 pickle";
  const std::string pickle = message_of([&] { read_embedding_file(tmp.path() / "old.pt"); });
  EXPECT_NE(pickle.find("is a PyTorch pickle checkpoint. Lathe reads only .safetensors, because loading a "
                        "pickle can run arbitrary code."),
            std::string::npos)
      << pickle;
  EXPECT_NE(pickle.find("emb_params"), std::string::npos) << "the conversion command is missing: " << pickle;
  std::ofstream(tmp.path() / "disguised.safetensors") << "PK\x03\x04 a torch zip";
  EXPECT_NE(message_of([&] { read_embedding_file(tmp.path() / "disguised.safetensors"); }).find("pickle"),
            std::string::npos);

  write_tensors(tmp.path() / "other.safetensors", {{"a", torch::zeros({2, 8})}, {"b", torch::zeros({2, 8})}});
  const std::string other = message_of([&] { read_embedding_file(tmp.path() / "other.safetensors"); });
  EXPECT_NE(other.find("not an embedding file"), std::string::npos) << other;
  EXPECT_NE(other.find("a, b"), std::string::npos) << other;

  write_tensors(tmp.path() / "nan.safetensors", {{"emb_params", torch::full({1, 8}, NAN)}});
  EXPECT_NE(message_of([&] { read_embedding_file(tmp.path() / "nan.safetensors"); }).find("NaN"), std::string::npos);
  write_tensors(tmp.path() / "long.safetensors", {{"emb_params", torch::zeros({76, 8})}});
  EXPECT_NE(message_of([&] { read_embedding_file(tmp.path() / "long.safetensors"); }).find("76 vectors"),
            std::string::npos);
  write_tensors(tmp.path() / "ints.safetensors", {{"emb_params", torch::zeros({1, 8}, torch::kInt32)}});
  EXPECT_NE(message_of([&] { read_embedding_file(tmp.path() / "ints.safetensors"); }).find("I32"), std::string::npos);
  EXPECT_NE(message_of([&] { read_embedding_file(tmp.path() / "missing.safetensors"); }).find("no such"),
            std::string::npos);
}

TEST(EmbeddingFile, NamesMustStandAsOneWord) {
  for (const char* good : {"jinxdef", "jinx_def", "jinx-def2", "A1"})
    EXPECT_NO_THROW(check_embedding_name(good, "test")) << good;
  for (const char* bad : {"", "jinx def", "jinx.def", "_jinx", "jinx-", "1234", "jinx,def", "caf\xC3\xA9"})
    EXPECT_THROW(check_embedding_name(bad, "test"), Error) << bad;
  test::TempDir tmp;
  EXPECT_THROW(write_embedding_file(tmp.path() / "x.safetensors", make("bad name", {768}, 1)), Error);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "x.safetensors"));
}

}  // namespace
}  // namespace lathe
