// kohya-format files: save -> load gives identical tensors and metadata, save precisions,
// strict loading errors, and the ss_* metadata formatting.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/safetensors.h"
#include "lora/lora_metadata.h"
#include "lora/lora_network.h"
#include "lora_fixtures.h"
#include "temp_dir.h"

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

}  // namespace
}  // namespace lathe
