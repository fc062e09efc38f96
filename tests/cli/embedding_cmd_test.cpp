// `lathe embedding inspect` and `lathe tokenize --embedding` through the real binary: the
// report of SD 1.x and SDXL files, the nearest vocabulary tokens read from a small single-file
// checkpoint, pickles refused, and the new word's ids in the token table and in --ids.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

#include "embedding/embedding_file.h"
#include "models/ldm_checkpoint.h"
#include "models/tiny_unet_configs.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "text/clip_tokenizer.h"

namespace lathe::test {
namespace {

std::string vocab_file() { return (source_dir() / "data/clip/bpe_simple_vocab_16e6.txt.gz").string(); }

std::filesystem::path write_embedding(const TempDir& dir, const std::string& name, std::vector<torch::Tensor> sets) {
  Embedding e;
  e.name = name;
  e.vectors = std::move(sets);
  e.step = 1200;
  e.init_word = "woman";
  const auto path = dir.path() / (name + ".safetensors");
  write_embedding_file(path, e);
  return path;
}

TEST(EmbeddingInspectCommand, ReportsNameVectorsWidthAndFamily) {
  TempDir dir;
  auto sd1 = run_lathe("embedding inspect " + shell_quote(write_embedding(dir, "jinxdef", {torch::randn({4, 768})}).string()));
  EXPECT_EQ(sd1.exit_code, 0) << sd1.output;
  for (const char* line : {"  name        jinxdef\n", "  vectors     4\n", "  width       emb_params 768\n",
                           "  fits        SD 1.x\n", "  trained     1200 steps, init word \"woman\"\n"})
    EXPECT_NE(sd1.output.find(line), std::string::npos) << line << " missing in\n" << sd1.output;
  auto xl = run_lathe("embedding inspect " +
                      shell_quote(write_embedding(dir, "rinstyle", {torch::randn({2, 768}), torch::randn({2, 1280})}).string()));
  EXPECT_EQ(xl.exit_code, 0) << xl.output;
  EXPECT_NE(xl.output.find("  width       clip_l 768, clip_g 1280\n"), std::string::npos) << xl.output;
  EXPECT_NE(xl.output.find("  fits        SDXL\n"), std::string::npos) << xl.output;
  auto json = run_lathe("embedding inspect --json " + shell_quote((dir.path() / "rinstyle.safetensors").string()));
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto j = nlohmann::json::parse(json.output);
  EXPECT_EQ(j["embeddings"][0]["fits"], "sdxl");
  EXPECT_EQ(j["embeddings"][0]["sets"][1]["key"], "clip_g");
  EXPECT_EQ(j["embeddings"][0]["sets"][1]["width"], 1280);
}

TEST(EmbeddingInspectCommand, NearestTokensComeFromTheCheckpointsTokenEmbedding) {
  TempDir dir;
  torch::manual_seed(3);
  UNet unet(tiny_sd15(64));
  CLIPTextModel te(small_clip(1, 64, false, false));
  VAE vae(small_vae());
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(unet.get()), static_cast<torch::nn::Module*>(te.get()),
                               static_cast<torch::nn::Module*>(vae.get())})
    randomize(*m);
  NamedTensors t;
  add_unet(t, unet);
  add_hf_clip(t, te, "cond_stage_model.transformer.");
  add_vae(t, vae);
  const auto model = dir.path() / "sd15.safetensors";
  write_tensors(model, t);

  // Vector 1 is "woman"'s row, vector 2 a little off "hat"'s.
  auto tok = text::ClipTokenizer::load(vocab_file());
  const int woman = tok.encode("woman").at(0), hat = tok.encode("hat").at(0);
  const auto& w = te->text_model->token_embedding->weight;
  const auto emb = write_embedding(dir, "jinxdef", {torch::stack({w[woman], w[hat] * 2.0}).detach()});
  auto r = run_lathe("embedding inspect " + shell_quote(emb.string()) + " --top 3 --vocab " + shell_quote(vocab_file()) +
                     " --model " + shell_quote(model.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nearest tokens of sd15.safetensors (cosine)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("     1  norm "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  woman 1.00, "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  hat 1.00, "), std::string::npos) << r.output;

  // An SDXL embedding does not fit an SD 1.x model.
  const auto xl = write_embedding(dir, "rinstyle", {torch::randn({1, 768}), torch::randn({1, 1280})});
  auto wrong = run_lathe("embedding inspect " + shell_quote(xl.string()) + " --model " + shell_quote(model.string()));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("SDXL"), std::string::npos) << wrong.output;
}

TEST(EmbeddingInspectCommand, PicklesAreRefusedWithHowToConvert) {
  TempDir dir;
  std::ofstream(dir.path() / "old.pt") << "PK\x03\x04";
  auto r = run_lathe("embedding inspect " + shell_quote((dir.path() / "old.pt").string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is a PyTorch pickle checkpoint. Lathe reads only .safetensors"), std::string::npos)
      << r.output;
}

TEST(TokenizeCommand, EmbeddingNamesBecomeTheirNewIds) {
  TempDir dir;
  const auto emb = write_embedding(dir, "jinxdef", {torch::randn({2, 768})});
  auto r = run_lathe("tokenize --vocab " + shell_quote(vocab_file()) + " --embedding " + shell_quote(emb.string()) +
                     " 'a (jinxdef:1.2), jinxdefs'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("embedding jinxdef: 2 vectors, ids 49408-49409\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("<jinxdef#2>"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ids: 49406 320 263 49408 49409 281 "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("49410"), std::string::npos) << "'jinxdefs' is another word: " << r.output;
  write_text(dir.path() / "captions.txt", "jinxdef, 1girl\n");
  auto ids = run_lathe("tokenize --vocab " + shell_quote(vocab_file()) + " --embedding " + shell_quote(emb.string()) +
                       " --ids < " + shell_quote((dir.path() / "captions.txt").string()));
  EXPECT_EQ(ids.exit_code, 0) << ids.output;
  EXPECT_EQ(ids.output, "49408 49409 267 272 1611\n");
}

}  // namespace
}  // namespace lathe::test
