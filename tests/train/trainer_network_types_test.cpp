// Training LoHa, LoKr and DoRA networks (#17): two steps on the tiny SD 1.5 and SDXL models
// save files whose every key has its type's exact LyCORIS / kohya name, shape and dtype, whose
// metadata names the LyCORIS algorithm, and which read back by keys into a network holding the
// same tensors.
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "lora/lora_network.h"
#include "train/model/base_model.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

struct TypeCase {
  std::string model;             // "tiny-random:sd15" / "tiny-random:sdxl"
  std::vector<std::string> sets;  // profile overrides
  std::set<std::string> suffixes; // every module's tensors
  std::string algo;               // ss_network_args' algo
  bool dora = false;
};

std::set<std::string> with_dora(std::set<std::string> s) {
  s.insert("dora_scale");
  return s;
}

const std::set<std::string> kLoHa = {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "alpha"};
const std::set<std::string> kLoRA = {"lora_down.weight", "lora_up.weight", "alpha"};

void check_trained_file(const TypeCase& c) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  std::vector<std::string> sets = {"training.max_steps=2", "saving.precision=\"fp16\""};
  sets.insert(sets.end(), c.sets.begin(), c.sets.end());
  TrainConfig config = test::tiny_config(tmp.path(), c.model, sets);
  test::Recorded rec;
  Trainer trainer(config, tmp / "run", test::recording(rec));
  TrainResult r = trainer.run();
  const fs::path file_path = tmp / "run" / r.final_file;
  SafetensorsFile file(file_path);

  // Keys, dtypes: each module has exactly its type's tensors, every one fp16.
  std::map<std::string, std::set<std::string>> modules;
  for (const auto& t : file.header().tensors) {
    EXPECT_EQ(t.dtype, DType::F16) << t.name;
    const auto dot = t.name.find('.');
    ASSERT_NE(dot, std::string::npos) << t.name;
    modules[t.name.substr(0, dot)].insert(t.name.substr(dot + 1));
  }
  ASSERT_FALSE(modules.empty());
  std::size_t lokr_full_w2 = 0;
  for (const auto& [name, suffixes] : modules) {
    if (c.algo == "lokr") {
      // lokr_w1 always (no decompose_both); lokr_w2 full or a product, by LyCORIS's rule.
      const bool full = suffixes.count("lokr_w2") > 0;
      lokr_full_w2 += full;
      std::set<std::string> want = full ? std::set<std::string>{"lokr_w1", "lokr_w2", "alpha"}
                                        : std::set<std::string>{"lokr_w1", "lokr_w2_a", "lokr_w2_b", "alpha"};
      EXPECT_EQ(suffixes, c.dora ? with_dora(want) : want) << name;
    } else {
      EXPECT_EQ(suffixes, c.dora ? with_dora(c.suffixes) : c.suffixes) << name;
    }
  }
  if (c.algo == "lokr") EXPECT_LT(lokr_full_w2, modules.size()) << "rank 4 leaves the large factors as products";

  // Metadata as LyCORIS's kohya entry point writes it.
  const auto meta = file.metadata();
  EXPECT_EQ(meta.at("ss_network_module"), "lycoris.kohya");
  auto args = nlohmann::json::parse(meta.at("ss_network_args"));
  EXPECT_EQ(args.at("algo"), c.algo);
  EXPECT_EQ(args.contains("dora_wd"), c.dora);

  // Read back by keys into the same base model: the same tensors, the same shapes.
  const auto family = c.model == "tiny-random:sdxl" ? ModelFamily::SDXL : ModelFamily::SD1;
  BaseModel model = build_tiny_random_model(family, std::nullopt);
  LoRANetwork back(model.unet, model.text_encoders, family, file_path);
  const auto saved = test::read_lora(file_path);
  const auto state = back->kohya_state(torch::kFloat16);
  ASSERT_EQ(state.size(), saved.size());
  for (const auto& [key, tensor] : state) {
    ASSERT_TRUE(saved.count(key)) << key;
    EXPECT_EQ(tensor.sizes(), saved.at(key).sizes()) << key;
    EXPECT_TRUE(torch::equal(tensor.to(torch::kFloat32), saved.at(key))) << key;
  }
  // Two steps moved the factor that starts at zero.
  bool moved = false;
  for (const auto& [key, tensor] : saved)
    if (key.find("hada_w2_a") != std::string::npos || key.find("lokr_w2_b") != std::string::npos ||
        key.find("lora_up") != std::string::npos)
      moved = moved || tensor.abs().max().item<double>() > 0;
  EXPECT_TRUE(moved);
}

TEST(TrainerNetworkTypes, LoHaWithConvolutionsOnSD15) {
  check_trained_file({"tiny-random:sd15", {"network.type=\"loha\"", "network.conv_dim=2"}, kLoHa, "loha"});
}

TEST(TrainerNetworkTypes, LoKrWithDoRAOnSD15) {
  check_trained_file({"tiny-random:sd15", {"network.type=\"lokr\"", "network.dora=true"}, {}, "lokr", true});
}

TEST(TrainerNetworkTypes, LoRAWithDoRAOnSDXL) {
  check_trained_file({"tiny-random:sdxl", {"network.dora=true"}, kLoRA, "lora", true});
}

TEST(TrainerNetworkTypes, LoKrOnSDXL) {
  check_trained_file({"tiny-random:sdxl", {"network.type=\"lokr\""}, {}, "lokr"});
}

TEST(TrainerNetworkTypes, LoHaOnSDXL) {
  check_trained_file({"tiny-random:sdxl", {"network.type=\"loha\""}, kLoHa, "loha"});
}

}  // namespace
}  // namespace lathe
