// Embeddings for sampling: --embedding files and the embeddings a pivotal-tuning LoRA bundles
// install once per word (the first source wins and the note names the skipped one), and an
// epoch grid row swaps in its own epoch's vectors in place, where the text encoder reads them.
#include "sample/sample_embeddings.h"

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "embedding/embedding_file.h"
#include "embedding/embedding_install.h"
#include "models/tensor_io.h"
#include "sample/sample_job.h"
#include "temp_dir.h"
#include "train/config/train_config.h"
#include "train/model/base_model.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

BaseModel tiny_model() {
  ModelConfig config;
  config.path = "tiny-random:sd15";
  return load_base_model(config, torch::kCPU);
}

// A pivotal-tuning LoRA file reduced to its bundled embedding (the LoRA keys play no part here).
fs::path write_bundle(const fs::path& path, const Embedding& e) {
  write_tensors(path, embedding_bundle_tensors(e));
  return path;
}

TEST(SampleEmbeddings, EachWordInstallsOnceFromItsFirstSource) {
  test::TempDir tmp;
  BaseModel source = tiny_model();
  const Embedding from_file = embedding_from_init_word(source, "zqxword", 2, "blue");
  const Embedding bundled = embedding_from_init_word(source, "zqxword", 2, "red fox");
  const fs::path file = tmp.path() / "zqxword.safetensors";
  write_embedding_file(file, from_file);
  const fs::path lora = write_bundle(tmp.path() / "pivotal.safetensors", bundled);

  BaseModel model = tiny_model();
  std::vector<std::string> notes;
  const auto words = install_sample_embeddings(model, {file}, {LoRAChoice{lora, 0.8}},
                                               [&](const std::string& n) { notes.push_back(n); });
  ASSERT_EQ(words, std::vector<std::string>{"zqxword"});
  ASSERT_EQ(installed_embeddings(model).size(), 1u);
  EXPECT_TRUE(torch::equal(installed_embedding(model, "zqxword").vectors[0], from_file.vectors[0]));
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[1].find("skipped"), std::string::npos) << notes[1];
  EXPECT_NE(notes[1].find(lora.string()), std::string::npos) << notes[1];
}

TEST(SampleEmbeddings, GridRowsSwapInTheirEpochsVectors) {
  test::TempDir tmp;
  BaseModel source = tiny_model();
  const Embedding epoch1 = embedding_from_init_word(source, "zqxword", 2, "red fox");
  const Embedding epoch2 = embedding_from_init_word(source, "zqxword", 2, "green cat");
  ASSERT_FALSE(torch::equal(epoch1.vectors[0], epoch2.vectors[0]));
  const fs::path e1 = write_bundle(tmp.path() / "run-e0001.safetensors", epoch1);
  const fs::path e2 = write_bundle(tmp.path() / "run-e0002.safetensors", epoch2);

  BaseModel model = tiny_model();
  auto quiet = [](const std::string&) {};
  use_bundled_embeddings(model, e1, quiet);
  const torch::Tensor read_by_encoder = installed_embedding(model, "zqxword").vectors[0];
  EXPECT_TRUE(torch::equal(read_by_encoder, epoch1.vectors[0]));
  use_bundled_embeddings(model, e2, quiet);
  EXPECT_EQ(installed_embeddings(model).size(), 1u);
  EXPECT_TRUE(torch::equal(read_by_encoder, epoch2.vectors[0])) << "the row's vectors must replace the installed ones";
}

}  // namespace
}  // namespace lathe
