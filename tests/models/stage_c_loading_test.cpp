// Stage C loading: both key layouts give the same tensors, a sharded diffusers prior folder
// loads, the configuration comes from the weights (heads from config.json or width / 64),
// broken files fail naming the file and the key, the LoRA target list matches OneTrainer's
// names, the timestep-ratio frequencies are the reference's float32 ones, and gradient
// checkpointing with active dropout gives the gradients of the plain backward.
#include "fixture_tensors.h"
#include "models/stage_c_loader.h"
#include "models/stage_c_lora_targets.h"
#include "models/tensor_io.h"
#include "stage_c_fixtures.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>

#include "common/error.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path prior_dir() { return test::stage_c_fixtures_dir() / "prior_tiny"; }

// The file's tensors minus `drop`, written to `path`.
void write_without(const fs::path& from, const fs::path& path, const std::string& drop) {
  std::vector<std::pair<std::string, torch::Tensor>> kept;
  for (auto& [k, t] : test::read_tensors(from))
    if (k != drop) kept.emplace_back(k, t);
  write_tensors(path, kept);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(StageCLoading, ConfigurationComesFromTheWeights) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  const auto w = open_stage_c(prior_dir() / "weights_stability.safetensors");
  EXPECT_EQ(w.layout, StageCLayout::Stability);
  const auto& c = w.config;
  EXPECT_EQ(c.widths, (std::vector<std::int64_t>{32, 64}));
  EXPECT_EQ(c.heads, (std::vector<std::int64_t>{2, 4}));  // config.json beside the file
  EXPECT_EQ(w.heads_source, "config.json");
  EXPECT_EQ(c.down_layers, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(c.up_layers, (std::vector<std::int64_t>{2, 3}));  // level order; up_blocks order is [3, 2]
  EXPECT_EQ(c.conditioning_dim, 48);
  EXPECT_EQ(c.clip_text_in_channels, 40);
  EXPECT_EQ(c.clip_text_pooled_in_channels, 40);
  EXPECT_EQ(c.clip_image_in_channels, 24);
  EXPECT_EQ(c.clip_seq, 4);
  EXPECT_EQ(c.timestep_ratio_embedding_dim, 64);
  EXPECT_EQ(c.in_channels, 16);
  EXPECT_EQ(c.out_channels, 16);
  EXPECT_EQ(w.parameters(), 606656u);
  EXPECT_EQ(stage_c_variant_name(c), "Stable Cascade Stage C (custom)");
  EXPECT_EQ(stage_c_variant_name(StageCConfig::stage_c_3_6b()), "Stable Cascade Stage C 3.6B");
  EXPECT_EQ(stage_c_variant_name(StageCConfig::stage_c_lite()), "Stable Cascade Stage C lite (1B)");
  EXPECT_TRUE(find_stage_c_prior(prior_dir() / "weights_stability.safetensors").has_value());
  // The SD checkpoint reader names it rather than guessing an SD family.
  const auto msg = error_of([&] { open_checkpoint(prior_dir() / "weights_stability.safetensors"); });
  EXPECT_NE(msg.find("a Stable Cascade Stage C prior"), std::string::npos) << msg;
}

TEST(StageCLoading, HeadsWithoutConfigJsonAreWidthOver64) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  test::TempDir tmp;
  fs::copy_file(prior_dir() / "weights_stability.safetensors", tmp / "stage_c.safetensors");
  // 32 and 64 wide levels: 32 is no multiple of head dim 64, so the heads cannot be derived.
  const auto msg = error_of([&] { open_stage_c(tmp / "stage_c.safetensors"); });
  EXPECT_NE(msg.find("stage_c.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  StageCOpenOptions stated;
  stated.heads = {2, 4};
  const auto w = open_stage_c(tmp / "stage_c.safetensors", stated);
  EXPECT_EQ(w.heads_source, "stated");
  EXPECT_EQ(w.config.heads, (std::vector<std::int64_t>{2, 4}));
}

TEST(StageCLoading, BothLayoutsLoadIdenticalTensors) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  StageC a = load_stage_c(prior_dir() / "weights_stability.safetensors", torch::kFloat32);
  StageC b = load_stage_c(prior_dir() / "weights_diffusers.safetensors", torch::kFloat32);
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  EXPECT_EQ(pa.size(), 254u);
  for (const auto& p : pa) {
    ASSERT_TRUE(pb.contains(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  }
  // The split attention is the fused in_proj's rows q, k, v.
  const auto fused = test::read_tensors(prior_dir() / "weights_stability.safetensors");
  const auto& in_proj = fused.at("down_blocks.1.2.attention.attn.in_proj_weight");
  EXPECT_TRUE(torch::equal(pa["down_blocks.1.2.attention.attn.to_k.weight"], in_proj.narrow(0, 64, 64)));
  const auto diffusers = test::read_tensors(prior_dir() / "weights_diffusers.safetensors");
  EXPECT_TRUE(torch::equal(pa["down_blocks.1.2.attention.attn.out_proj.weight"],
                           diffusers.at("down_blocks.1.2.attention.to_out.0.weight")));
}

TEST(StageCLoading, ShardedDiffusersPriorFolderLoads) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  test::TempDir tmp;
  const fs::path prior = tmp / "prior";
  fs::create_directories(prior);
  fs::copy_file(prior_dir() / "config.json", prior / "config.json");
  std::vector<std::pair<std::string, torch::Tensor>> shard[2];
  json weight_map = json::object();
  int i = 0;
  for (auto& [k, t] : test::read_tensors(prior_dir() / "weights_diffusers.safetensors")) {
    const int s = (i++ % 2);
    shard[s].emplace_back(k, t.to(torch::kBFloat16));  // as shipped: bf16
    weight_map[k] = fmt::format("diffusion_pytorch_model.bf16-0000{}-of-00002.safetensors", s + 1);
  }
  for (int s = 0; s < 2; ++s)
    write_tensors(prior / fmt::format("diffusion_pytorch_model.bf16-0000{}-of-00002.safetensors", s + 1), shard[s]);
  std::ofstream(prior / "diffusion_pytorch_model.safetensors.index.bf16.json")
      << json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump();

  ASSERT_EQ(find_stage_c_prior(tmp.path()), prior);  // the pipeline folder finds prior/
  const auto w = open_stage_c(tmp.path());
  EXPECT_EQ(w.layout, StageCLayout::Diffusers);
  EXPECT_EQ(w.files.size(), 2u);
  EXPECT_EQ(w.stored_dtypes().at("BF16"), 254u);
  StageC sharded = load_stage_c(tmp.path(), torch::kBFloat16);
  StageC single = load_stage_c(prior_dir() / "weights_stability.safetensors", torch::kFloat32);
  auto ps = single->named_parameters();
  for (const auto& p : sharded->named_parameters()) {
    EXPECT_EQ(p.value().scalar_type(), torch::kBFloat16) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), ps[p.key()].to(torch::kBFloat16))) << p.key();
  }

  fs::remove(prior / "diffusion_pytorch_model.bf16-00002-of-00002.safetensors");
  const auto msg = error_of([&] { open_stage_c(tmp.path()); });
  EXPECT_NE(msg.find("diffusion_pytorch_model.bf16-00002-of-00002.safetensors"), std::string::npos) << msg;
}

TEST(StageCLoading, MissingKeyIsNamed) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  test::TempDir tmp;
  fs::copy_file(prior_dir() / "config.json", tmp / "config.json");
  write_without(prior_dir() / "weights_stability.safetensors", tmp / "stage_c.safetensors",
                "down_blocks.1.0.channelwise.2.gamma");
  auto msg = error_of([&] { load_stage_c(tmp / "stage_c.safetensors", torch::kFloat32); });
  EXPECT_NE(msg.find("stage_c.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing: down_blocks.1.0.channelwise.2.gamma"), std::string::npos) << msg;

  // A structural key: the configuration cannot be read, and the message says which key.
  write_without(prior_dir() / "weights_stability.safetensors", tmp / "stage_c.safetensors",
                "up_blocks.0.4.mapper.weight");
  msg = error_of([&] { load_stage_c(tmp / "stage_c.safetensors", torch::kFloat32); });
  EXPECT_NE(msg.find("up_blocks.0.4.mapper.weight"), std::string::npos) << msg;

  // A key of no Stage C module is unexpected.
  auto tensors = test::read_tensors(prior_dir() / "weights_stability.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> extra(tensors.begin(), tensors.end());
  extra.emplace_back("down_blocks.0.0.extra.weight", torch::zeros({2}));
  write_tensors(tmp / "stage_c.safetensors", extra);
  msg = error_of([&] { load_stage_c(tmp / "stage_c.safetensors", torch::kFloat32); });
  EXPECT_NE(msg.find("unexpected: down_blocks.0.0.extra.weight"), std::string::npos) << msg;
}

TEST(StageCLoraTargets, MatchOneTrainerNamesOnTheTinyPrior) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  const auto names = test::read_json_file(test::stage_c_fixtures_dir() / "lora" / "names_tiny.json");
  StageC model(open_stage_c(prior_dir() / "weights_stability.safetensors").config);
  const auto targets = stage_c_lora_targets(*model);
  const auto& modules = names.at("modules");
  ASSERT_EQ(targets.size(), modules.size());
  EXPECT_EQ(targets.size(), 117u);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& m = modules[i];
    const auto& t = targets[i];
    std::string comfy = m.at("comfy_weight");  // diffusion_model.<canonical>.weight
    EXPECT_EQ("diffusion_model." + t.name + ".weight", comfy) << i;
    EXPECT_EQ(t.lora_name(), m.at("legacy").get<std::string>()) << i;
    EXPECT_EQ(t.kind == StageCLoraTarget::Kind::Linear ? "Linear" : "Conv2d", m.at("type").get<std::string>()) << i;
    EXPECT_EQ(t.in, m.at("in").get<std::int64_t>()) << t.name;
    EXPECT_EQ(t.out, m.at("out").get<std::int64_t>()) << t.name;
    if (t.kind == StageCLoraTarget::Kind::Conv2d) {
      EXPECT_EQ(t.kernel_h, m.at("kernel")[0].get<std::int64_t>()) << t.name;
      EXPECT_EQ(t.kernel_w, m.at("kernel")[1].get<std::int64_t>()) << t.name;
      EXPECT_EQ(t.groups, m.at("groups").get<std::int64_t>()) << t.name;
      EXPECT_EQ(t.is_depthwise(), t.name.find("depthwise") != std::string::npos) << t.name;
    }
  }
}

// The real configurations' structure (layer counts, names, order, kinds) at a small width: the
// names OneTrainer writes for 3.6B (711) and lite (359).
TEST(StageCLoraTargets, MatchTheRealConfigurationsNames) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  for (const auto& [file, preset] : {std::pair{"names_3.6B.tsv", StageCConfig::stage_c_3_6b()},
                                     std::pair{"names_lite_1B.tsv", StageCConfig::stage_c_lite()}}) {
    StageCConfig narrow = preset;
    narrow.widths = {16, 16};
    narrow.heads = {1, 1};
    narrow.conditioning_dim = 8;
    narrow.clip_text_in_channels = narrow.clip_text_pooled_in_channels = narrow.clip_image_in_channels = 8;
    StageC model(narrow);
    const auto targets = stage_c_lora_targets(*model);
    std::ifstream in(test::stage_c_fixtures_dir() / "lora" / file);
    std::string line;
    std::getline(in, line);  // header: legacy_name diffusers_module type in out kernel groups
    std::size_t i = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      std::istringstream fields(line);
      std::string legacy, diffusers_module, type;
      std::getline(fields, legacy, '\t');
      std::getline(fields, diffusers_module, '\t');
      std::getline(fields, type, '\t');
      ASSERT_LT(i, targets.size()) << file;
      EXPECT_EQ(targets[i].lora_name(), legacy) << file << " #" << i;
      EXPECT_EQ(targets[i].kind == StageCLoraTarget::Kind::Linear ? "Linear" : "Conv2d", type) << legacy;
      ++i;
    }
    EXPECT_EQ(i, targets.size()) << file;
    EXPECT_EQ(i, file == std::string("names_3.6B.tsv") ? 711u : 359u);
  }
}

TEST(StageCBlocks, TimestepRatioEmbeddingMatchesTheReference) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  const auto s = test::read_tensors(test::stage_c_fixtures_dir() / "schedule" / "wuerstchen_schedule.safetensors");
  const auto& r = s.at("r_embed.r");
  auto emb = stage_c_timestep_ratio_embedding(r, 64);
  EXPECT_EQ(emb.scalar_type(), torch::kFloat32);
  EXPECT_EQ(test::compare_rel("r_embed", emb, s.at("r_embed.f64"), 1e-6), "");
  // The float32 frequencies, bit for bit: the angle r * 10^4 * f is what they multiply. They
  // are the formula's values within one float32 ulp.
  const auto freqs = stage_c_timestep_frequencies(32);
  EXPECT_TRUE(torch::equal(freqs, s.at("r_embed.freqs_f32")));
  auto formula = torch::arange(32, torch::kFloat32).mul(-std::log(10000.0) / 31).exp();
  EXPECT_TRUE(torch::allclose(freqs, formula, 1.2e-7, 0));
  EXPECT_TRUE(torch::allclose(stage_c_timestep_frequencies(4),
                              torch::tensor({1.0, std::pow(1e4, -1.0 / 3), std::pow(1e4, -2.0 / 3), 1e-4}), 1e-6, 0));
}

TEST(StageCBlocks, GradientCheckpointingKeepsDropoutMasks) {
  StageCConfig c;
  c.widths = {8, 16};
  c.heads = {1, 2};
  c.down_layers = {1, 2};
  c.up_layers = {1, 2};
  c.dropout = {0.3, 0.3};
  c.conditioning_dim = 8;
  c.clip_text_in_channels = c.clip_text_pooled_in_channels = c.clip_image_in_channels = 8;
  c.in_channels = c.out_channels = 4;
  torch::manual_seed(1);
  StageC model(c);
  model->train();
  auto sample = torch::randn({2, 4, 3, 3}), text = torch::randn({2, 5, 8}), pooled = torch::randn({2, 1, 8});
  auto img = torch::randn({2, 1, 8}), r = torch::rand({2});
  auto grads = [&](bool checkpointing) {
    model->set_gradient_checkpointing(checkpointing);
    model->zero_grad();
    torch::manual_seed(7);
    model->forward(sample, r, pooled, text, img).pow(2).mean().backward();
    std::vector<torch::Tensor> out;
    for (const auto& p : model->parameters()) out.push_back(p.grad().clone());
    out.push_back(torch::rand({1}));  // the generator ends where the plain run leaves it
    return out;
  };
  const auto plain = grads(false), checkpointed = grads(true);
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (std::size_t i = 0; i < plain.size(); ++i)
    EXPECT_TRUE(torch::allclose(plain[i], checkpointed[i], 1e-5, 1e-7)) << i;
  model->set_gradient_checkpointing(false);
  torch::manual_seed(7);
  auto a = model->forward(sample, r, pooled, text, img);
  torch::manual_seed(8);
  auto b = model->forward(sample, r, pooled, text, img);
  EXPECT_FALSE(torch::allclose(a, b)) << "dropout is active in train mode";
}

}  // namespace
}  // namespace lathe
