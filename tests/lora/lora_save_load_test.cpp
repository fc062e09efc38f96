// kohya-format files: save -> load gives identical tensors and metadata, save precisions,
// strict loading errors, the ss_* and modelspec.* metadata formatting, and the sshs_* hashes
// of a saved file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "common/sha256.h"
#include "io/safetensors.h"
#include "lora/lora_metadata.h"
#include "lora/lora_network.h"
#include "lora_fixtures.h"
#include "temp_dir.h"
#include "train/loop/lora_saving.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

void randomize_all(LoRANetwork& net) {
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.normal_(0, 0.1);
}

LoRATrainingInfo sample_info() {
  LoRATrainingInfo i;
  i.family = ModelFamily::SD1;
  i.output_name = "dog";
  i.learning_rate = 1e-4;
  i.unet_lr = 1e-4;
  i.text_encoder_lr = 1e-5;
  i.optimizer = "AdamW";
  i.num_epochs = 10;
  i.epoch = 3;
  i.steps = 120;
  i.seed = 42;
  i.dataset_dirs = {{"10_sks dog", 10, 20}};
  i.tag_frequency["10_sks dog"] = {{"dog", 20}, {"grass", 7}};
  i.tiny_random_base = "tiny-random sd15 (seed 1)";
  return i;
}

TEST(LoRASaveLoad, RoundTripGivesIdenticalTensorsAndMetadata) {
  test::TempDir dir;
  torch::manual_seed(7);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2));
  LoRAOptions o;
  o.rank = 4;
  o.alpha = 2;
  o.conv_rank = 2;
  o.conv_alpha = 1;
  o.text_encoders = true;
  LoRANetwork a(unet, std::vector<CLIPTextModel>{te}, ModelFamily::SD1, o);
  randomize_all(a);
  auto meta = kohya_metadata(o, sample_info());
  auto path = dir.path() / "dog-e0003.safetensors";
  a->save(path, torch::kFloat32, meta);

  SafetensorsFile file(path);
  EXPECT_EQ(file.metadata(), meta);
  auto saved = a->kohya_state(torch::kFloat32);
  ASSERT_EQ(file.names().size(), saved.size());
  EXPECT_TRUE(file.contains("lora_te_text_model_encoder_layers_1_mlp_fc1.alpha"));
  EXPECT_TRUE(file.contains("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"));
  EXPECT_EQ(file.info("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight").shape,
            (std::vector<std::int64_t>{2, 32, 3, 3}));
  EXPECT_EQ(file.info("lora_unet_down_blocks_0_resnets_0_conv1.alpha").shape.size(), 0u);

  // Another network on the same models is detached from them first (one network per model).
  a = nullptr;
  LoRANetwork b(unet, std::vector<CLIPTextModel>{te}, ModelFamily::SD1, o);
  b->load(path);
  auto loaded = b->kohya_state(torch::kFloat32);
  ASSERT_EQ(loaded.size(), saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(loaded[i].first, saved[i].first);
    EXPECT_TRUE(torch::equal(loaded[i].second, saved[i].second)) << saved[i].first;
  }
}

TEST(LoRASaveLoad, SavePrecisions) {
  test::TempDir dir;
  torch::manual_seed(8);
  UNet unet(test::tiny_sd15());
  LoRAOptions o;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  randomize_all(net);
  auto ref = net->kohya_state(torch::kFloat32);
  for (auto [dtype, name] : {std::pair{torch::kFloat16, "F16"}, std::pair{torch::kBFloat16, "BF16"}}) {
    ref = net->kohya_state(torch::kFloat32);  // what this round saves
    auto path = dir.path() / (std::string(name) + ".safetensors");
    net->save(path, dtype, {});
    SafetensorsFile file(path);
    for (const auto& kv : ref) {
      EXPECT_STREQ(dtype_name(file.info(kv.first).dtype), name) << kv.first;
    }
    LoRANetwork copy = nullptr;
    net = nullptr;
    copy = LoRANetwork(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
    copy->load(path);
    for (const auto& kv : copy->kohya_state(torch::kFloat32)) {
      const auto& want = std::find_if(ref.begin(), ref.end(), [&](auto& r) { return r.first == kv.first; })->second;
      EXPECT_TRUE(torch::equal(kv.second, want.to(dtype).to(torch::kFloat32))) << kv.first;
    }
    net = copy;
  }
  EXPECT_THROW(net->save(dir.path() / "x.safetensors", torch::kFloat64, {}), Error);
}

TEST(LoRASaveLoad, LoadErrorsNameUnknownMissingAndRankMismatch) {
  test::TempDir dir;
  UNet unet(test::tiny_sd15());
  LoRAOptions o;
  o.rank = 4;
  auto path = dir.path() / "r4.safetensors";
  {
    LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
    net->save(path, torch::kFloat32, {});
  }
  LoRAOptions r8 = o;
  r8.rank = 8;
  {
    LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, r8);
    try {
      net->load(path);
      FAIL() << "rank mismatch accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("shape mismatches"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("r4.safetensors"), std::string::npos) << e.what();
    }
  }
  LoRAOptions locon = o;
  locon.conv_rank = 2;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, locon);
  try {
    net->load(path);
    FAIL() << "missing keys accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing keys"), std::string::npos) << e.what();
  }
  std::map<std::string, torch::Tensor> state;
  for (auto& kv : net->kohya_state(torch::kFloat32)) state.insert(kv);
  state["lora_unet_bogus.lora_down.weight"] = torch::zeros({1});
  EXPECT_THROW(net->load_state(state, "mem"), Error);
  state.erase("lora_unet_bogus.lora_down.weight");
  EXPECT_NO_THROW(net->load_state(state, "mem"));
}

TEST(LoRAMetadata, KohyaKeysAndFormatting) {
  EXPECT_EQ(python_float(1e-4), "0.0001");
  EXPECT_EQ(python_float(1e-5), "1e-05");
  EXPECT_EQ(python_float(1.0), "1.0");
  EXPECT_EQ(python_float(16), "16.0");
  LoRAOptions o;
  o.rank = 16;
  o.alpha = 8;
  o.conv_rank = 4;
  o.conv_alpha = 1;
  auto info = sample_info();
  auto m = kohya_metadata(o, info);
  EXPECT_EQ(m.at("ss_network_module"), "networks.lora");
  EXPECT_EQ(m.at("ss_network_dim"), "16");
  EXPECT_EQ(m.at("ss_network_alpha"), "8.0");
  EXPECT_EQ(nlohmann::json::parse(m.at("ss_network_args")),
            nlohmann::json({{"conv_dim", "4"}, {"conv_alpha", "1.0"}}));
  EXPECT_EQ(m.at("ss_base_model_version"), "sd_v1");
  EXPECT_EQ(m.at("ss_v2"), "False");
  EXPECT_EQ(m.at("ss_resolution"), "(512, 512)");
  EXPECT_EQ(m.at("ss_learning_rate"), "0.0001");
  EXPECT_EQ(m.at("ss_text_encoder_lr"), "1e-05");
  EXPECT_EQ(m.at("ss_min_snr_gamma"), "None");
  EXPECT_EQ(m.at("ss_epoch"), "3");
  EXPECT_EQ(m.at("ss_steps"), "120");
  EXPECT_EQ(m.at("lathe_base_model"), "tiny-random sd15 (seed 1)");
  EXPECT_EQ(nlohmann::json::parse(m.at("ss_tag_frequency"))["10_sks dog"]["grass"], 7);
  EXPECT_EQ(nlohmann::json::parse(m.at("ss_dataset_dirs"))["10_sks dog"]["n_repeats"], 10);
  info.family = ModelFamily::SDXL;
  EXPECT_EQ(kohya_metadata(o, info).at("ss_base_model_version"), "sdxl_base_v1-0");
  info.family = ModelFamily::SD2;
  EXPECT_EQ(kohya_metadata(o, info).at("ss_v2"), "True");
  LoRAOptions plain;
  EXPECT_EQ(kohya_metadata(plain, info).count("ss_network_args"), 0u);
  EXPECT_EQ(kohya_metadata(plain, info).count("lathe_base_model"), 1u);
}

TEST(LoRAMetadata, BucketInfoIsKohyasJsonDumps) {
  auto info = sample_info();
  info.buckets = {{0, 512, 512, 20}, {3, 576, 448, 10}};
  info.mean_img_ar_error = 0.012345678901234568;
  // Python: json.dumps({"buckets": {0: {"resolution": (512, 512), "count": 20},
  //   3: {"resolution": (576, 448), "count": 10}}, "mean_img_ar_error": 0.012345678901234568})
  const std::string expected =
      "{\"buckets\": {\"0\": {\"resolution\": [512, 512], \"count\": 20}, \"3\": {\"resolution\": [576, 448], "
      "\"count\": 10}}, \"mean_img_ar_error\": 0.012345678901234568}";
  EXPECT_EQ(kohya_bucket_info(info), expected);
  EXPECT_EQ(kohya_metadata(LoRAOptions{}, info).at("ss_bucket_info"), expected);
  info.enable_bucket = false;  // kohya: bucket_info stays None
  EXPECT_EQ(kohya_bucket_info(info), "null");
}

TEST(LoRAMetadata, ValidationTokenAndHashKeys) {
  auto info = sample_info();
  auto m = kohya_metadata(LoRAOptions{}, info);
  EXPECT_EQ(m.at("ss_validation_split"), "0.0");
  EXPECT_EQ(m.at("ss_num_validation_images"), "0");
  EXPECT_EQ(m.at("ss_validation_seed"), "None");
  EXPECT_EQ(m.at("ss_validate_every_n_steps"), "None");
  EXPECT_EQ(m.at("ss_validate_every_n_epochs"), "None");
  EXPECT_EQ(m.at("ss_max_token_length"), "None");
  EXPECT_EQ(m.count("ss_sd_model_hash"), 0u);  // tiny random base: no file to hash
  EXPECT_EQ(m.count("ss_training_finished_at"), 0u);
  info.validation_split = 0.1;
  info.num_validation_images = 3;
  info.validation_seed = 7;
  info.validate_every_n_steps = 50;
  info.validate_every_n_epochs = 1;
  info.sd_model_hash = "ed5b83d0";
  info.new_sd_model_hash = std::string(64, 'a');
  info.training_finished_at = 1765118725.25;
  m = kohya_metadata(LoRAOptions{}, info);
  EXPECT_EQ(m.at("ss_validation_split"), "0.1");
  EXPECT_EQ(m.at("ss_num_validation_images"), "3");
  EXPECT_EQ(m.at("ss_validation_seed"), "7");
  EXPECT_EQ(m.at("ss_validate_every_n_steps"), "50");
  EXPECT_EQ(m.at("ss_validate_every_n_epochs"), "1");
  EXPECT_EQ(m.at("ss_sd_model_hash"), "ed5b83d0");
  EXPECT_EQ(m.at("ss_new_sd_model_hash"), std::string(64, 'a'));
  EXPECT_EQ(m.at("ss_training_finished_at"), "1765118725.25");  // Python str(time.time())
}

TEST(LoRAMetadata, ModelSpecKeysFollowKohyasSaiModelSpec) {
  const char* old_tz = std::getenv("TZ");
  const std::string saved_tz = old_tz ? old_tz : "";
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  auto info = sample_info();
  info.width = 768;
  info.height = 512;
  info.clip_skip = 2;
  info.training_finished_at = 1765118725.9;
  auto m = kohya_metadata(LoRAOptions{}, info);
  EXPECT_EQ(m.at("modelspec.sai_model_spec"), "1.0.0");
  EXPECT_EQ(m.at("modelspec.architecture"), "stable-diffusion-v1/lora");
  EXPECT_EQ(m.at("modelspec.implementation"), "diffusers");
  EXPECT_EQ(m.at("modelspec.title"), "dog");
  EXPECT_EQ(m.at("modelspec.resolution"), "768x512");
  EXPECT_EQ(m.at("modelspec.prediction_type"), "epsilon");
  EXPECT_EQ(m.at("modelspec.encoder_layer"), "2");
  // Python: datetime.datetime.fromtimestamp(int(1765118725.9)).isoformat() with TZ=UTC
  EXPECT_EQ(m.at("modelspec.date"), "2025-12-07T14:45:25");
  EXPECT_EQ(m.count("modelspec.timestep_range"), 0u);
  info.min_timestep = 200;
  EXPECT_EQ(kohya_metadata(LoRAOptions{}, info).at("modelspec.timestep_range"), "200,1000");
  info.family = ModelFamily::SD2;
  EXPECT_EQ(kohya_metadata(LoRAOptions{}, info).at("modelspec.architecture"), "stable-diffusion-v2-512/lora");
  info.v_parameterization = true;
  m = kohya_metadata(LoRAOptions{}, info);
  EXPECT_EQ(m.at("modelspec.architecture"), "stable-diffusion-v2-768-v/lora");
  EXPECT_EQ(m.at("modelspec.prediction_type"), "v");
  info.family = ModelFamily::SDXL;
  info.v_parameterization = false;
  m = kohya_metadata(LoRAOptions{}, info);
  EXPECT_EQ(m.at("modelspec.architecture"), "stable-diffusion-xl-v1-base/lora");
  EXPECT_EQ(m.at("modelspec.implementation"), "https://github.com/Stability-AI/generative-models");
  if (old_tz) ::setenv("TZ", saved_tz.c_str(), 1); else ::unsetenv("TZ");
  ::tzset();
}

// A saved file carries sshs_model_hash = the SHA-256 of its bytes after the header, which is
// how A1111 hashes a .safetensors LoRA itself (hashes.addnet_hash_safetensors), and the time
// of the save.
TEST(LoRASaveLoad, SavedFilesCarryTheirOwnHashes) {
  test::TempDir dir;
  torch::manual_seed(3);
  UNet unet(test::tiny_sd15());
  LoRAOptions o;
  o.rank = 4;
  LoRANetwork net(unet, std::vector<CLIPTextModel>{}, ModelFamily::SD1, o);
  randomize_all(net);
  TrainConfig config;
  config.saving.precision = WeightDType::FP16;
  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  save_lora_file(net, dir.path(), "epochs/dog-e0003.safetensors", config, sample_info());

  const auto path = dir / "epochs/dog-e0003.safetensors";
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  const auto meta = SafetensorsFile(path).metadata();
  EXPECT_EQ(meta.at("sshs_model_hash"), sha256_hex(std::string_view(bytes).substr(8 + n)));
  EXPECT_EQ(meta.at("sshs_legacy_hash"), "e3b0c442");  // the file is under 1 MiB
  EXPECT_GE(std::stod(meta.at("ss_training_finished_at")), before);
  EXPECT_EQ(meta.count("modelspec.date"), 1u);
  // The hashes cover the tensors: other weights, another hash.
  randomize_all(net);
  save_lora_file(net, dir.path(), "epochs/dog-e0004.safetensors", config, sample_info());
  EXPECT_NE(SafetensorsFile(dir / "epochs/dog-e0004.safetensors").metadata().at("sshs_model_hash"),
            meta.at("sshs_model_hash"));
}

}  // namespace
}  // namespace lathe
