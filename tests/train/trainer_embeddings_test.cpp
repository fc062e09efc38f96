// Training embeddings (#16) on the tiny SD 1.5 and SDXL models: textual inversion changes the
// new vectors and nothing else (every base weight bit-identical), its loss falls, its files
// carry the loaders' keys and the run's metadata, a stopped and resumed run ends bit-identical;
// pivotal tuning freezes the vectors at optimizer.embedding_stop_step while the LoRA goes on,
// and its LoRA file carries them as bundle_emb.<name>.* keys; a frozen embedding from a file
// is used and never changed.
#include <gtest/gtest.h>

#include "embedding/embedding_file.h"
#include "embedding/embedding_install.h"
#include "io/safetensors.h"
#include "train/model/base_model.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A profile on the fixture dataset (captions "redcat, red circle, ..." and "bluebot, ...") with
// `network` as its [network] section and `rest` appended (sections, [[embeddings]]).
TrainConfig embedding_config(const fs::path& root, const std::string& model, const std::string& network,
                             const std::string& rest, const std::vector<std::string>& sets = {}) {
  const std::string text = R"(
[model]
path = ")" + model + R"("
dtype = "fp32"
[dataset]
path = "data"
min_bucket_reso = 64
max_bucket_reso = 128
bucket_reso_steps = 64
[network]
)" + network + R"(
[training]
epochs = 1
batch_size = 2
resolution = 64
seed = 11
device = "cpu"
[saving]
name = "t"
precision = "fp32"
[output]
dir = "runs"
)" + rest;
  return parse_train_config(text, root / "profile.toml", sets);
}

const char* kRedcat = R"(
[[embeddings]]
name = "redcat"
vectors = 2
init_word = "red cat"
)";

// Every weight of the base model by module and name (the installed vectors are not among them).
std::map<std::string, torch::Tensor> base_weights(const BaseModel& m) {
  std::map<std::string, torch::Tensor> out;
  auto add = [&](const std::string& prefix, const torch::nn::Module& module) {
    for (const auto& p : module.named_parameters()) out[prefix + p.key()] = p.value().detach().clone();
    for (const auto& b : module.named_buffers()) out[prefix + "buffer." + b.key()] = b.value().detach().clone();
  };
  add("unet.", *m.unet);
  add("vae.", *m.vae);
  for (std::size_t i = 0; i < m.text_encoders.size(); ++i) add("te" + std::to_string(i) + ".", *m.text_encoders[i]);
  return out;
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

void textual_inversion_changes_only_the_vectors(const std::string& model, ModelFamily family,
                                                const std::vector<std::string>& file_keys) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = embedding_config(tmp.path(), model, "type = \"embedding\"", kRedcat, {"training.max_steps=3"});
  const BaseModel reference = build_tiny_random_model(family, std::nullopt);
  const auto before = base_weights(reference);
  test::Recorded rec;
  std::vector<torch::Tensor> optimized;
  TrainCallbacks cb = test::recording(rec);
  cb.after_micro_batch = [&](const std::vector<torch::Tensor>& params) { optimized = params; };
  Trainer trainer(config, tmp / "run", cb);
  TrainResult r = trainer.run();

  // The optimizer holds the vectors alone: one [2, width] set per text encoder.
  const InstalledEmbedding& installed = installed_embedding(trainer.base_model(), "redcat");
  ASSERT_EQ(optimized.size(), reference.text_encoders.size());
  for (std::size_t k = 0; k < optimized.size(); ++k) EXPECT_TRUE(optimized[k].is_same(installed.vectors[k]));
  // Every base weight is what the model was built with, bit for bit.
  const auto after = base_weights(trainer.base_model());
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, t] : before) {
    ASSERT_TRUE(after.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, after.at(name))) << name << " changed";
  }
  // The files: epochs/redcat.safetensors (the word is the file's stem), the loaders' keys.
  EXPECT_EQ(r.final_file, fs::path("epochs/redcat.safetensors"));
  SafetensorsFile file(tmp / "run" / r.final_file);
  std::vector<std::string> names = file.names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, file_keys);
  Embedding saved = read_embedding_file(tmp / "run" / r.final_file);
  EXPECT_EQ(saved.step, 3);
  EXPECT_EQ(saved.init_word, "red cat");
  EXPECT_EQ(saved.num_vectors(), 2);
  EXPECT_EQ(saved.base_model, trainer.base_model().name);
  // The vectors moved from their start and the saved ones are the trained ones.
  Embedding start = embedding_from_init_word(const_cast<BaseModel&>(reference), "redcat", 2, "red cat");
  for (std::size_t k = 0; k < saved.vectors.size(); ++k) {
    EXPECT_TRUE(torch::equal(saved.vectors[k], installed.vectors[k].detach().cpu()));
    EXPECT_FALSE(torch::equal(saved.vectors[k], start.vectors[k]));
  }
  // An epoch file too (1 epoch of 5 steps is cut by max_steps, so only the final file), and the
  // log names what trains.
  EXPECT_TRUE(contains(rec.messages, "textual inversion: training redcat 2 vectors")) << rec.messages.size();
  EXPECT_FALSE(contains(rec.messages, "LoRA:"));
}

TEST(TrainerEmbeddings, TextualInversionChangesOnlyTheNewVectorsSD15) {
  textual_inversion_changes_only_the_vectors("tiny-random:sd15", ModelFamily::SD1, {"emb_params"});
}

TEST(TrainerEmbeddings, TextualInversionChangesOnlyTheNewVectorsSDXL) {
  textual_inversion_changes_only_the_vectors("tiny-random:sdxl", ModelFamily::SDXL, {"clip_g", "clip_l"});
}

TEST(TrainerEmbeddings, TextualInversionLossFalls) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  // The validation images are red circles captioned "redcat": their loss is measured with the same
  // noise and timesteps before the first step and after the last.
  TrainConfig config =
      embedding_config(tmp.path(), "tiny-random:sd15", "type = \"embedding\"",
                       std::string(kRedcat) + "\n[optimizer]\nembedding_lr = 0.05\n"
                                              "[validation]\nconcept = \"val\"\ntimesteps = [300, 500, 700]\nseed = 3\n",
                       {"training.epochs=3", "saving.every_n_epochs=0"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  trainer.run();
  ASSERT_GE(rec.validation_losses.size(), 2u);
  EXPECT_LT(rec.validation_losses.back(), rec.validation_losses.front());
}

TEST(TrainerEmbeddings, TextualInversionEpochFilesAndResumeAreBitIdentical) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = embedding_config(tmp.path(), "tiny-random:sd15", "type = \"embedding\"", kRedcat,
                                        {"training.epochs=2", "dataset.shuffle_caption=true"});
  test::Recorded whole_rec;
  Trainer whole(config, tmp / "whole", test::recording(whole_rec));
  TrainResult whole_result = whole.run();
  EXPECT_TRUE(fs::exists(tmp / "whole/epochs/redcat-e0001.safetensors"));
  EXPECT_EQ(read_embedding_file(tmp / "whole/epochs/redcat-e0001.safetensors").epoch, 1);

  const fs::path run = tmp / "split";
  {
    test::Recorded rec;
    const Trainer* self = nullptr;
    Trainer trainer(config, run, test::recording(rec, 7, &self));  // inside epoch 2
    self = &trainer;
    EXPECT_TRUE(trainer.run().stopped);
  }
  auto latest = latest_checkpoint(run);
  ASSERT_TRUE(latest);
  EXPECT_TRUE(fs::exists(*latest / "embeddings.safetensors"));
  test::Recorded rec;
  Trainer resumed(config, run, test::recording(rec));
  resumed.resume_from(*latest);
  TrainResult r = resumed.run();
  EXPECT_TRUE(test::identical(test::read_lora(tmp / "whole" / whole_result.final_file),
                              test::read_lora(run / r.final_file)));
}

TEST(TrainerEmbeddings, PivotalTuningStopsTheVectorsAndBundlesThem) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = embedding_config(
      tmp.path(), "tiny-random:sd15", "rank = 4\nalpha = 4.0",
      std::string(kRedcat) + "\n[optimizer]\nlr = 2e-3\nembedding_stop_step = 2\n",
      {"training.max_steps=4", "saving.every_n_steps=1", "saving.embedding_file=true"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult r = trainer.run();
  const int64_t width = trainer.base_model().text_encoders[0]->config().hidden_size;
  const std::string key = "bundle_emb.redcat.string_to_param.*";
  std::vector<std::map<std::string, torch::Tensor>> files;
  for (const char* f : {"epochs/t-s000001.safetensors", "epochs/t-s000002.safetensors",
                        "epochs/t-s000003.safetensors", "epochs/t.safetensors"})
    files.push_back(test::read_lora(tmp / "run" / f));
  for (const auto& f : files) {
    ASSERT_TRUE(f.count(key));
    EXPECT_EQ(f.at(key).sizes(), torch::IntArrayRef({2, width}));
    EXPECT_EQ(std::count_if(f.begin(), f.end(), [](const auto& kv) { return kv.first.rfind("bundle_emb.", 0) == 0; }), 1);
  }
  // Step 2 still trained the vectors; after it they keep their values while the LoRA moves on.
  EXPECT_FALSE(torch::equal(files[0].at(key), files[1].at(key)));
  EXPECT_TRUE(torch::equal(files[1].at(key), files[2].at(key)));
  EXPECT_TRUE(torch::equal(files[1].at(key), files[3].at(key)));
  bool lora_moved = false;
  for (const auto& [name, t] : files[1])
    if (name.find("lora_up") != std::string::npos) lora_moved = lora_moved || !torch::equal(t, files[3].at(name));
  EXPECT_TRUE(lora_moved);
  EXPECT_TRUE(contains(rec.messages, "embeddings frozen after step 2"));
  EXPECT_TRUE(contains(rec.messages, "pivotal tuning: training redcat"));
  // The separate embedding file holds the same vectors.
  Embedding separate = read_embedding_file(tmp / "run/embeddings/redcat.safetensors");
  EXPECT_TRUE(torch::equal(separate.vectors[0], files[3].at(key)));
  // The LoRA file reads back with its bundle.
  std::vector<Embedding> bundled = read_bundled_embeddings(tmp / "run" / r.final_file);
  ASSERT_EQ(bundled.size(), 1u);
  EXPECT_EQ(bundled[0].name, "redcat");
}

TEST(TrainerEmbeddings, PivotalTuningOnSDXLBundlesBothEncoders) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = embedding_config(tmp.path(), "tiny-random:sdxl", "rank = 4\nalpha = 4.0", kRedcat,
                                        {"training.max_steps=1"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult r = trainer.run();
  const auto f = test::read_lora(tmp / "run" / r.final_file);
  const auto& te = trainer.base_model().text_encoders;
  ASSERT_TRUE(f.count("bundle_emb.redcat.clip_l"));
  ASSERT_TRUE(f.count("bundle_emb.redcat.clip_g"));
  EXPECT_EQ(f.at("bundle_emb.redcat.clip_l").sizes(), torch::IntArrayRef({2, te[0]->config().hidden_size}));
  EXPECT_EQ(f.at("bundle_emb.redcat.clip_g").sizes(), torch::IntArrayRef({2, te[1]->config().hidden_size}));
}

TEST(TrainerEmbeddings, AFrozenEmbeddingFromAFileIsUsedAndNeverChanged) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  BaseModel reference = build_tiny_random_model(ModelFamily::SD1, std::nullopt);
  Embedding e = embedding_from_init_word(reference, "bluebot", 3, "blue robot");
  write_embedding_file(tmp / "bluebot.safetensors", e);
  TrainConfig config = embedding_config(tmp.path(), "tiny-random:sd15", "rank = 4\nalpha = 4.0",
                                        "\n[[embeddings]]\nname = \"bluebot\"\nfile = \"bluebot.safetensors\"\n"
                                        "train = false\n",
                                        {"training.max_steps=2"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult r = trainer.run();
  const InstalledEmbedding& installed = installed_embedding(trainer.base_model(), "bluebot");
  EXPECT_TRUE(torch::equal(installed.vectors[0].detach().cpu(), e.vectors[0]));
  EXPECT_FALSE(installed.vectors[0].requires_grad());
  for (const auto& [name, t] : test::read_lora(tmp / "run" / r.final_file))
    EXPECT_NE(name.rfind("bundle_emb.", 0), 0u) << name;  // nothing trained, nothing bundled
  EXPECT_TRUE(contains(rec.messages, "embeddings used frozen: bluebot 3 vectors"));
}

}  // namespace
}  // namespace lathe
