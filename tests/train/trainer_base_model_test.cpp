// Base models of a run: the tiny random models keep their family's block structure (so the
// saved LoRA keys follow kohya's naming for SD 1.5 and SDXL), are labelled as tiny random
// models, and tokenize with the word-hash tokenizer when no CLIP vocabulary is given; real
// checkpoints without a tokenizer use the CLIP vocabulary installed with Lathe.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "io/safetensors.h"
#include "models/ldm_checkpoint.h"
#include "models/tiny_unet_configs.h"
#include "test_paths.h"
#include "train/model/base_model.h"
#include "train/model/text_conditioning.h"
#include "train/model/word_hash_tokenizer.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::vector<std::string> saved_keys(const std::string& model) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  TrainConfig config = test::tiny_config(tmp.path(), model, {"training.max_steps=1"});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult r = trainer.run();
  return SafetensorsFile(tmp / "run" / r.final_file).names();
}

bool has(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

TEST(TrainerBaseModel, SD15KeysFollowKohyaNaming) {
  auto keys = saved_keys("tiny-random:sd15");
  for (const char* k : {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight",
                        "lora_unet_down_blocks_0_attentions_1_proj_in.lora_up.weight",
                        "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2.alpha",
                        "lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_out_0.lora_down.weight",
                        "lora_te_text_model_encoder_layers_1_self_attn_q_proj.lora_down.weight",
                        "lora_te_text_model_encoder_layers_0_mlp_fc2.lora_up.weight"})
    EXPECT_TRUE(has(keys, k)) << k;
  for (const auto& k : keys) {
    EXPECT_TRUE(k.rfind("lora_unet_", 0) == 0 || k.rfind("lora_te_", 0) == 0) << k;
    EXPECT_EQ(k.find("input_blocks"), std::string::npos) << k;
  }
}

TEST(TrainerBaseModel, SDXLKeysFollowKohyaNaming) {
  auto keys = saved_keys("tiny-random:sdxl");
  for (const char* k : {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight",
                        "lora_unet_input_blocks_5_1_proj_out.lora_up.weight",
                        "lora_unet_middle_block_1_transformer_blocks_1_attn2_to_k.alpha",
                        "lora_unet_output_blocks_0_1_transformer_blocks_0_ff_net_0_proj.lora_down.weight",
                        "lora_te1_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight",
                        "lora_te2_text_model_encoder_layers_1_mlp_fc1.lora_up.weight"})
    EXPECT_TRUE(has(keys, k)) << k;
  for (const auto& k : keys) {
    EXPECT_TRUE(k.rfind("lora_unet_", 0) == 0 || k.rfind("lora_te1_", 0) == 0 || k.rfind("lora_te2_", 0) == 0) << k;
    EXPECT_EQ(k.find("down_blocks"), std::string::npos) << k;
  }
}

TEST(TrainerBaseModel, SD2TrainsWithVPredictionAndLinearProjections) {
  auto keys = saved_keys("tiny-random:sd2");
  EXPECT_TRUE(has(keys, "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"));
  EXPECT_TRUE(has(keys, "lora_te_text_model_encoder_layers_0_self_attn_v_proj.lora_up.weight"));
}

TEST(TrainerBaseModel, TinyModelsAreLabelledAndUseTheWordHashTokenizer) {
  ModelConfig config;
  config.path = "tiny-random:sd2";
  BaseModel m = load_base_model(config, torch::kCPU);
  EXPECT_EQ(m.family, ModelFamily::SD2);
  EXPECT_EQ(m.prediction, Prediction::VPrediction);
  EXPECT_EQ(m.tiny_random, "tiny-random sd2 (seed 1234)");
  ASSERT_FALSE(m.notes.empty());
  EXPECT_NE(m.notes[0].find("tiny random base model, not a real checkpoint"), std::string::npos);
  EXPECT_NE(m.tokenizer->description().find("word-hash"), std::string::npos);
  for (auto& p : m.unet->parameters()) EXPECT_FALSE(p.requires_grad());

  // Same seed, same weights.
  BaseModel again = load_base_model(config, torch::kCPU);
  EXPECT_TRUE(torch::equal(m.unet->parameters()[0], again.unet->parameters()[0]));
}

TEST(TrainerBaseModel, WordHashTokenizerIsCaseAndSeparatorInsensitive) {
  auto tok = make_word_hash_tokenizer(1024);
  auto a = tok->encode("Red Circle,  white background", 0);
  auto b = tok->encode("red, circle white,background", 0);
  ASSERT_EQ(a.size(), 77u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0], 1022);  // start
  EXPECT_EQ(a[5], 1023);  // end after four words
  EXPECT_EQ(a[76], 1023);  // end-padding
  for (int i = 1; i < 5; ++i) EXPECT_TRUE(a[i] >= 1 && a[i] < 1021);
  EXPECT_NE(tok->encode("blue square", 0), tok->encode("red circle", 0));
}

TEST(TrainerBaseModel, TinyModelTakesARealClipVocabulary) {
  LATHE_REQUIRE_SHARED("clip");
  ModelConfig config;
  config.path = "tiny-random:sd15";
  config.tokenizer = test::shared_dir() / "clip/bpe_simple_vocab_16e6.txt.gz";
  BaseModel m = load_base_model(config, torch::kCPU);
  EXPECT_NE(m.tokenizer->description().find("CLIP BPE"), std::string::npos);
  auto ids = m.tokenizer->encode("a photo of a cat", 0);
  EXPECT_EQ(ids[0], 49406);
  EXPECT_EQ(m.text_encoders[0]->config().vocab_size, 49408);
}

// A diffusers folder assembled from the shared parity fixtures (tiny SD 1.5 UNet, CLIP-L text
// encoder and VAE in their diffusers / Hugging Face layouts).
fs::path diffusers_folder(const fs::path& root) {
  const fs::path f = test::shared_dir() / "fixtures";
  const fs::path m = root / "tiny-sd15";
  for (const auto& [dir, src, stem] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"unet", "unet_sd15_tiny", "diffusion_pytorch_model"},
           {"text_encoder", "te_clip_l_tiny", "model"},
           {"vae", "vae_sd_topo", "diffusion_pytorch_model"}}) {
    fs::create_directories(m / dir);
    fs::create_symlink(f / src / "config.json", m / dir / "config.json");
    const char* weights = dir == "text_encoder" ? "weights_hf.safetensors" : "weights_diffusers.safetensors";
    fs::create_symlink(f / src / weights, m / dir / (stem + ".safetensors"));
  }
  return m;
}

TEST(TrainerBaseModel, DiffusersCheckpointTrainsWithItsTokenizerSetByModelTokenizer) {
  LATHE_REQUIRE_SHARED("fixtures/unet_sd15_tiny");
  LATHE_REQUIRE_SHARED("clip");
  TempDir tmp;
  test::write_dataset(tmp.path());
  const fs::path model = diffusers_folder(tmp.path());
  const std::string vocab = (test::shared_dir() / "clip/bpe_simple_vocab_16e6.txt.gz").string();
  TrainConfig config = test::tiny_config(tmp.path(), model.string(),
                                         {"training.max_steps=2", "model.tokenizer=" + vocab});
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult r = trainer.run();
  EXPECT_EQ(r.steps, 2);
  ASSERT_EQ(rec.validation_losses.size(), 1u);
  EXPECT_TRUE(std::isfinite(rec.validation_losses[0]));
  SafetensorsFile file(tmp / "run" / r.final_file);
  EXPECT_EQ(file.metadata().at("ss_sd_model_name"), "tiny-sd15");
  EXPECT_EQ(file.metadata().count("lathe_base_model"), 0u);
  EXPECT_TRUE(has(file.names(), "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"));
  EXPECT_TRUE(has(file.names(), "lora_te_text_model_encoder_layers_2_self_attn_out_proj.alpha"));

  // With no tokenizer setting (and no tokenizer/ in the folder) the run starts on the
  // vocabulary installed with Lathe.
  ::unsetenv("LATHE_CLIP_VOCAB");
  TrainConfig bare = test::tiny_config(tmp.path(), model.string(), {"training.max_steps=2"});
  EXPECT_NO_THROW(Trainer(bare, tmp / "run2", test::recording(rec)));
}

TEST(TrainerBaseModel, StandaloneVAEFilesLoadInBothNamings) {
  LATHE_REQUIRE_SHARED("fixtures/vae_sd_topo");
  TempDir tmp;
  const fs::path model = diffusers_folder(tmp.path());
  ModelConfig config;
  config.path = model.string();
  config.tokenizer = test::shared_dir() / "clip/bpe_simple_vocab_16e6.txt.gz";
  BaseModel reference = load_base_model(config, torch::kCPU);
  for (const char* file : {"weights_ldm.safetensors", "weights_diffusers.safetensors"}) {
    VAE vae(reference.vae->config());
    load_vae_file(vae, test::shared_dir() / "fixtures/vae_sd_topo" / file);
    auto a = vae->named_parameters();
    auto b = reference.vae->named_parameters();
    for (const auto& item : b) EXPECT_TRUE(torch::equal(a[item.key()], item.value())) << file << " " << item.key();
  }
  VAE vae(reference.vae->config());
  EXPECT_THROW(load_vae_file(vae, test::shared_dir() / "fixtures/te_clip_l_tiny/weights_hf.safetensors"), Error);
}

// A checkpoint without a tokenizer, with no model.tokenizer and no LATHE_CLIP_VOCAB, tokenizes
// with the vocabulary the build installed beside the binaries (text/vocab_locator.h).
TEST(TrainerBaseModel, RealCheckpointWithoutTokenizerUsesTheInstalledVocabulary) {
  LATHE_REQUIRE_SHARED("fixtures/unet_sd15_tiny");
  ::unsetenv("LATHE_CLIP_VOCAB");
  TempDir tmp;
  ModelConfig config;
  config.path = diffusers_folder(tmp.path()).string();
  BaseModel m = load_base_model(config, torch::kCPU);
  const std::string description = m.tokenizer->description();
  EXPECT_NE(description.find("share/lathe/clip/bpe_simple_vocab_16e6.txt.gz"), std::string::npos) << description;
  EXPECT_EQ(m.tokenizer->encode("a cat", 0)[1], 320);  // CLIP's id of "a</w>"
}

// Small single-file checkpoints in the real LDM layout (tests/models/ldm_checkpoint.h): SD 1.x
// with a 64-wide CLIP, SD 2.x with a 64-wide OpenCLIP tower, each with the extra keys real
// files carry. They need the CLIP vocabulary (real checkpoints tokenize with it).
class SingleFileBaseModel : public ::testing::Test {
 protected:
  void SetUp() override {
    LATHE_REQUIRE_SHARED("clip");
    vocab = test::shared_dir() / "clip/bpe_simple_vocab_16e6.txt.gz";
    torch::manual_seed(8);
  }
  // `te_layers` layers in the file; SD 2.x stores its OpenCLIP tower whole.
  fs::path write_model(ModelFamily family, std::int64_t te_layers, bool ema = false, bool vae_inside = true,
                       torch::Dtype unet_dtype = torch::kFloat32, torch::Dtype te_dtype = torch::kFloat32) {
    const bool sd2 = family == ModelFamily::SD2;
    unet = UNet(sd2 ? test::tiny_sd2(64) : test::tiny_sd15(64));
    te = CLIPTextModel(test::small_clip(te_layers, 64, sd2, false));
    vae = VAE(test::small_vae());
    for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(unet.get()),
                                 static_cast<torch::nn::Module*>(te.get()), static_cast<torch::nn::Module*>(vae.get())})
      test::randomize(*m);
    test::NamedTensors t;
    test::add_unet(t, unet, unet_dtype);
    if (sd2) test::add_openclip(t, te, "cond_stage_model.model.", te_dtype);
    else test::add_hf_clip(t, te, "cond_stage_model.transformer.", te_dtype);
    if (vae_inside) test::add_vae(t, vae);
    test::add_schedule_buffers(t);
    if (ema) test::add_unet_ema(t, unet, [](const torch::Tensor& p) { return p + 1; });
    const fs::path path = tmp / (sd2 ? "sd2.safetensors" : "sd15.safetensors");
    write_tensors(path, t);
    return path;
  }
  ModelConfig config_for(const fs::path& path) {
    ModelConfig c;
    c.path = path.string();
    c.tokenizer = vocab;
    return c;
  }
  TempDir tmp;
  fs::path vocab;
  UNet unet{nullptr};
  CLIPTextModel te{nullptr};
  VAE vae{nullptr};
};

TEST_F(SingleFileBaseModel, TextEncoderOfAnyDepthAndWidthLoads) {
  BaseModel m = load_base_model(config_for(write_model(ModelFamily::SD1, 3)), torch::kCPU);
  const CLIPTextConfig& c = m.text_encoders[0]->config();
  EXPECT_EQ(c.layers, 3);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.heads, 1);
  EXPECT_TRUE(c.quick_gelu);
  EXPECT_EQ(m.vae->config().block_out_channels, test::small_vae().block_out_channels);
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(m.tokenizer->encode("a red circle", 0), torch::kLong).unsqueeze(0);
  te->eval();
  EXPECT_TRUE(torch::allclose(m.text_encoders[0]->forward(ids).last_hidden_state, te->forward(ids).last_hidden_state,
                              1e-5, 1e-6));
}

TEST_F(SingleFileBaseModel, FixtureTextEncoderOfTheRealLayoutLoads) {
  LATHE_REQUIRE_SHARED("fixtures/te_clip_l_tiny");
  // The shared tiny fixtures (CLIP 32 wide, 3 layers; VAE 32/32/64/64), as a single file.
  test::NamedTensors t;
  for (const char* f : {"unet_sd15_topo/weights_ldm.safetensors", "te_clip_l_tiny/weights_ldm.safetensors",
                        "vae_sd_topo/weights_ldm.safetensors"}) {
    SafetensorsFile file(test::shared_dir() / "fixtures" / f);
    for (const auto& name : file.names()) t.emplace_back(name, tensor_from_view(file.view(name), torch::kFloat32));
  }
  write_tensors(tmp / "fixtures.safetensors", t);
  BaseModel m = load_base_model(config_for(tmp / "fixtures.safetensors"), torch::kCPU);
  EXPECT_EQ(m.text_encoders[0]->config().layers, 3);
  EXPECT_EQ(m.text_encoders[0]->config().hidden_size, 32);
  EXPECT_EQ(m.vae->config().block_out_channels, (std::vector<std::int64_t>{32, 32, 64, 64}));
  EXPECT_EQ(m.vae->config().layers_per_block, 2);
}

TEST_F(SingleFileBaseModel, SD2DropsTheLastOpenCLIPLayerAndConditionsOnThePenultimate) {
  BaseModel m = load_base_model(config_for(write_model(ModelFamily::SD2, 3)), torch::kCPU);
  ASSERT_EQ(m.family, ModelFamily::SD2);
  EXPECT_EQ(m.text_encoders[0]->config().layers, 2) << "the unused last layer is not loaded";
  EXPECT_FALSE(m.text_encoders[0]->config().quick_gelu);
  bool noted = false;
  for (const auto& n : m.notes) noted |= n.find("last layer is not loaded") != std::string::npos;
  EXPECT_TRUE(noted);
  // clip_skip 1 on SD 2.x: the full tower's penultimate layer through the final layer norm, as
  // LDM's FrozenOpenCLIPEmbedder(layer="penultimate") and diffusers' 23-layer encoder give.
  torch::NoGradGuard no_grad;
  te->eval();
  Conditioning cond = encode_captions(m, {"a red circle"}, 1, torch::kCPU);
  auto ids = torch::tensor(m.tokenizer->encode("a red circle", 0), torch::kLong).unsqueeze(0);
  CLIPTextOutput full = te->forward(ids);
  torch::Tensor want = te->skip_hidden_state(full, 2, true);
  EXPECT_TRUE(torch::allclose(cond.context, want, 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(cond.context, full.last_hidden_state, 1e-3, 1e-3));
}

TEST_F(SingleFileBaseModel, UseEMATrainsOnTheEMACopyAndSaysSo) {
  const fs::path file = write_model(ModelFamily::SD1, 2, /*ema=*/true);
  ModelConfig c = config_for(file);
  c.use_ema = true;
  BaseModel m = load_base_model(c, torch::kCPU);
  auto stored = unet->named_parameters();
  for (const auto& p : m.unet->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), stored[p.key()] + 1)) << p.key();
  bool noted = false;
  for (const auto& n : m.notes) noted |= n.find("EMA weights") != std::string::npos;
  EXPECT_TRUE(noted);
  c.use_ema = false;
  BaseModel plain = load_base_model(c, torch::kCPU);
  for (const auto& p : plain.unet->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), stored[p.key()])) << p.key();

  // The profile key: validated, refused on tiny models, and a clear error on a pruned file.
  test::write_dataset(tmp.path());
  TrainConfig parsed = test::tiny_config(tmp.path(), file.string(), {"model.use_ema=true"});
  EXPECT_TRUE(parsed.model.use_ema);
  EXPECT_THROW(test::tiny_config(tmp.path(), file.string(), {"model.use_ema=\"yes\""}), Error);
  try {
    test::tiny_config(tmp.path(), "tiny-random:sd15", {"model.use_ema=true"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.use_ema"), std::string::npos) << e.what();
  }
  c.path = write_model(ModelFamily::SD1, 2, /*ema=*/false).string();
  c.use_ema = true;
  try {
    load_base_model(c, torch::kCPU);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no EMA weights"), std::string::npos) << e.what();
  }
}

TEST_F(SingleFileBaseModel, MixedDtypesAndAVAEGivenApart) {
  const fs::path file = write_model(ModelFamily::SD1, 2, false, /*vae_inside=*/false, torch::kFloat16, torch::kBFloat16);
  try {
    load_base_model(config_for(file), torch::kCPU);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("carries no VAE"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("set model.vae"), std::string::npos) << e.what();
  }
  // The VAE apart, with and without the first_stage_model. prefix.
  for (const std::string prefix : {"", "first_stage_model."}) {
    test::NamedTensors t;
    test::add_vae(t, vae, prefix, torch::kFloat16);
    write_tensors(tmp / "vae.safetensors", t);
    ModelConfig c = config_for(file);
    c.vae = tmp / "vae.safetensors";
    BaseModel m = load_base_model(c, torch::kCPU);
    auto want = vae->named_parameters();
    for (const auto& p : m.vae->named_parameters())
      EXPECT_TRUE(torch::equal(p.value(), want[p.key()].to(torch::kFloat16).to(torch::kFloat32))) << prefix << p.key();
    auto unet_want = unet->named_parameters();
    for (const auto& p : m.unet->named_parameters())
      EXPECT_TRUE(torch::equal(p.value(), unet_want[p.key()].to(torch::kFloat16).to(torch::kFloat32))) << p.key();
    auto te_want = te->named_parameters();
    for (const auto& p : m.text_encoders[0]->named_parameters())
      EXPECT_TRUE(torch::equal(p.value(), te_want[p.key()].to(torch::kBFloat16).to(torch::kFloat32))) << p.key();
  }
}

TEST_F(SingleFileBaseModel, TrainsOnSmallSingleFilesWithKohyaModuleNames) {
  test::write_dataset(tmp.path());
  for (ModelFamily family : {ModelFamily::SD1, ModelFamily::SD2}) {
    const fs::path file = write_model(family, 3, /*ema=*/true);
    const std::string run = std::string("run-") + family_id(family);
    TrainConfig config = test::tiny_config(tmp.path(), file.string(),
                                           {"training.max_steps=2", "model.tokenizer=" + vocab.string()});
    test::Recorded rec;
    Trainer trainer(config, tmp / run, test::recording(rec));
    TrainResult r = trainer.run();
    EXPECT_EQ(r.steps, 2);
    const auto keys = SafetensorsFile(tmp / run / r.final_file).names();
    EXPECT_TRUE(has(keys, "lora_te_text_model_encoder_layers_1_self_attn_q_proj.lora_down.weight"));
    // SD 2.x: the OpenCLIP tower's unused last layer gets no module (as kohya's).
    EXPECT_EQ(has(keys, "lora_te_text_model_encoder_layers_2_self_attn_q_proj.lora_down.weight"),
              family == ModelFamily::SD1);
  }
}

}  // namespace
}  // namespace lathe
