// Checkpoints as real files come: text-encoder and VAE configurations read from the weights'
// shapes (single files carry no config), and the keys stored beside the weights (the UNet's EMA
// copy, the DDPM schedule buffers, int64 position_ids, OpenCLIP's logit_scale and
// text_projection, components in different dtypes) either loaded on purpose or skipped on
// purpose. The files are small single-file checkpoints in the real LDM key layout
// (ldm_checkpoint.h), plus the shared fixtures where they exist.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"
#include "models/checkpoint.h"
#include "models/key_maps.h"
#include "models/ldm_checkpoint.h"
#include "models/tensor_io.h"
#include "models/tiny_unet_configs.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::map<std::string, std::vector<std::int64_t>> shapes_of(const std::map<std::string, torch::Tensor>& params) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const auto& [k, t] : params) out[k] = std::vector<std::int64_t>(t.sizes().begin(), t.sizes().end());
  return out;
}

std::map<std::string, torch::Tensor> params_of(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  return out;
}

TEST(DetectCLIPTextConfig, ReadsEveryFieldFromTheShapes) {
  for (bool open_clip : {false, true}) {
    for (std::int64_t layers : {1, 4}) {
      CLIPTextConfig want = test::small_clip(layers, 128, open_clip, open_clip);
      want.vocab_size = 1000;
      want.max_positions = 40;
      want.eos_token_id = 999;
      CLIPTextModel te(want);
      CLIPTextConfig got = detect_clip_text_config(shapes_of(params_of(*te)), !open_clip, "te");
      EXPECT_EQ(got.layers, layers);
      EXPECT_EQ(got.hidden_size, 128);
      EXPECT_EQ(got.intermediate_size, 512);
      EXPECT_EQ(got.heads, 2);
      EXPECT_EQ(got.vocab_size, 1000);
      EXPECT_EQ(got.max_positions, 40);
      EXPECT_EQ(got.eos_token_id, 999);
      EXPECT_EQ(got.quick_gelu, !open_clip);
      EXPECT_EQ(got.projection_dim, open_clip ? 128 : 0);
    }
  }
  // The released towers: 64-wide heads.
  const std::vector<std::pair<std::int64_t, std::int64_t>> widths = {{768, 12}, {1024, 16}, {1280, 20}, {32, 1}};
  for (const auto& [width, heads] : widths) {
    std::map<std::string, std::vector<std::int64_t>> shapes = {
        {"text_model.embeddings.token_embedding.weight", {49408, width}},
        {"text_model.embeddings.position_embedding.weight", {77, width}},
        {"text_model.encoder.layers.0.mlp.fc1.weight", {4 * width, width}},
        {"text_model.encoder.layers.22.mlp.fc1.weight", {4 * width, width}}};
    CLIPTextConfig c = detect_clip_text_config(shapes, true, "te");
    EXPECT_EQ(c.heads, heads) << width;
    EXPECT_EQ(c.layers, 23) << "from the highest layer index";
    EXPECT_EQ(c.eos_token_id, 49407);
  }
  std::string msg = error_of([] { detect_clip_text_config({}, true, "x.safetensors (text_encoder)"); });
  EXPECT_NE(msg.find("x.safetensors (text_encoder)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("token_embedding"), std::string::npos) << msg;
}

TEST(DetectVAEConfig, ReadsLevelsWidthsAndChannelsFromTheShapes) {
  VAEConfig want = test::small_vae();
  want.layers_per_block = 2;
  want.block_out_channels = {32, 64, 64};
  VAE vae(want);
  VAEConfig got = detect_vae_config(shapes_of(params_of(*vae)), 0.13025, "vae");
  EXPECT_EQ(got.block_out_channels, want.block_out_channels);
  EXPECT_EQ(got.layers_per_block, 2);
  EXPECT_EQ(got.latent_channels, 4);
  EXPECT_EQ(got.in_channels, 3);
  EXPECT_EQ(got.out_channels, 3);
  EXPECT_DOUBLE_EQ(got.scaling_factor, 0.13025);
  EXPECT_NE(error_of([] { detect_vae_config({}, 0.18215, "v.safetensors"); }).find("v.safetensors"),
            std::string::npos);
}

class RealKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(5);
    unet = UNet(test::tiny_sd15(64));
    te = CLIPTextModel(test::small_clip(2, 64, false, false));
    vae = VAE(test::small_vae());
    for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(unet.get()), static_cast<torch::nn::Module*>(te.get()),
                                 static_cast<torch::nn::Module*>(vae.get())})
      test::randomize(*m);
  }
  // An SD 1.x single file with every extra key; `ema` adds the UNet's EMA copy (2 x the weights).
  fs::path sd15_file(const std::string& name, bool ema) {
    test::NamedTensors t;
    test::add_unet(t, unet);
    test::add_hf_clip(t, te, "cond_stage_model.transformer.");
    test::add_vae(t, vae);
    test::add_schedule_buffers(t);
    if (ema) test::add_unet_ema(t, unet, [](const torch::Tensor& p) { return p * 2; });
    write_tensors(dir / name, t);
    return dir / name;
  }
  TempDir dir;
  UNet unet{nullptr};
  CLIPTextModel te{nullptr};
  VAE vae{nullptr};
};

TEST_F(RealKeysTest, ScheduleBuffersPositionIdsAndEMAAreSkippedByName) {
  Checkpoint ck = open_checkpoint(sd15_file("sd15.safetensors", true));
  EXPECT_EQ(ck.family, ModelFamily::SD1);
  for (const char* k : {"betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                        "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                        "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                        "posterior_mean_coef1", "posterior_mean_coef2", "logvar", "model_ema.decay",
                        "model_ema.num_updates", "model_ema.diffusion_modelinput_blocks11normweight",
                        "cond_stage_model.transformer.text_model.embeddings.position_ids"})
    EXPECT_TRUE(contains(ck.ignored_keys, k)) << k;
  EXPECT_EQ(ck.ema_tensors, unet->named_parameters().size());
  EXPECT_FALSE(ck.use_ema);
  EXPECT_EQ(ck.files.front()->info("cond_stage_model.transformer.text_model.embeddings.position_ids").dtype,
            DType::I64);
  // The modules load from the file with no missing or unexpected tensor.
  UNet u(test::tiny_sd15(64));
  CLIPTextModel t(test::small_clip(2, 64, false, false));
  load_component(*u, ck, Component::UNet, torch::kFloat32);
  load_component(*t, ck, Component::TextEncoder, torch::kFloat32);
  EXPECT_TRUE(torch::equal(params_of(*u).at("out.2.weight"), params_of(*unet).at("out.2.weight")));
}

TEST_F(RealKeysTest, UseEMAReadsTheUNetFromTheEMACopy) {
  const fs::path file = sd15_file("sd15.safetensors", true);
  EXPECT_EQ(ldm_ema_key("input_blocks.1.1.norm.weight"), "model_ema.diffusion_modelinput_blocks11normweight");
  CheckpointOptions options;
  options.use_ema = true;
  Checkpoint ck = open_checkpoint(file, options);
  EXPECT_TRUE(ck.use_ema);
  EXPECT_FALSE(contains(ck.ignored_keys, "model_ema.diffusion_modelinput_blocks11normweight"));
  EXPECT_TRUE(contains(ck.ignored_keys, "model_ema.decay"));
  auto refs = component_tensors(ck, Component::UNet);
  EXPECT_EQ(refs.at("input_blocks.1.1.norm.weight").source_key, "model_ema.diffusion_modelinput_blocks11normweight");
  UNet from_ema(test::tiny_sd15(64));
  load_tensors_into(*from_ema, ck, Component::UNet, refs, torch::kFloat32);
  auto want = params_of(*unet);
  for (const auto& [k, v] : params_of(*from_ema)) EXPECT_TRUE(torch::equal(v, want.at(k) * 2)) << k;
  // The text encoder and VAE have no EMA copy: they load as stored.
  EXPECT_EQ(component_tensors(ck, Component::TextEncoder).at("text_model.final_layer_norm.weight").source_key,
            "cond_stage_model.transformer.text_model.final_layer_norm.weight");

  // A pruned file: a clear error naming the key.
  std::string msg = error_of([&] { open_checkpoint(sd15_file("pruned.safetensors", false), options); });
  EXPECT_NE(msg.find("no EMA weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.use_ema = false"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pruned.safetensors"), std::string::npos) << msg;

  // An EMA copy that lacks a tensor is named.
  test::NamedTensors t;
  test::add_unet(t, unet);
  test::add_hf_clip(t, te, "cond_stage_model.transformer.");
  test::add_unet_ema(t, unet, [](const torch::Tensor& p) { return p; });
  t.erase(std::remove_if(t.begin(), t.end(), [](const auto& kv) { return kv.first == "model_ema.diffusion_modelout2bias"; }),
          t.end());
  write_tensors(dir / "partial.safetensors", t);
  Checkpoint partial = open_checkpoint(dir / "partial.safetensors", options);
  msg = error_of([&] { component_tensors(partial, Component::UNet); });
  EXPECT_NE(msg.find("1 of "), std::string::npos) << msg;
  EXPECT_NE(msg.find("model_ema.diffusion_modelout2bias"), std::string::npos) << msg;
}

TEST_F(RealKeysTest, UseEMAOnADiffusersFolderIsRefused) {
  fs::create_directories(dir / "d/unet");
  test::NamedTensors t;
  t.emplace_back("conv_in.weight", torch::zeros({32, 4, 3, 3}));
  write_tensors(dir / "d/unet/diffusion_pytorch_model.safetensors", t);
  CheckpointOptions options;
  options.use_ema = true;
  std::string msg = error_of([&] { open_checkpoint(dir / "d", options); });
  EXPECT_NE(msg.find("only single-file checkpoints carry EMA weights"), std::string::npos) << msg;
}

TEST_F(RealKeysTest, OpenCLIPLogitScaleAndSD2TextProjectionAreSkipped) {
  CLIPTextModel open(test::small_clip(3, 64, true, false));
  test::randomize(*open);
  test::NamedTensors t;
  UNet unet2(test::tiny_sd2(64));
  test::add_unet(t, unet2);
  test::add_openclip(t, open, "cond_stage_model.model.");
  test::add_vae(t, vae);
  write_tensors(dir / "sd2.safetensors", t);
  Checkpoint ck = open_checkpoint(dir / "sd2.safetensors");
  EXPECT_EQ(ck.family, ModelFamily::SD2);
  EXPECT_TRUE(contains(ck.ignored_keys, "cond_stage_model.model.logit_scale"));
  EXPECT_TRUE(contains(ck.ignored_keys, "cond_stage_model.model.text_projection"));
  auto tensors = component_tensors(ck, Component::TextEncoder);
  EXPECT_FALSE(tensors.count("text_projection.weight"));
  // The fused q/k/v rows come apart into the module's q, k and v.
  CLIPTextModel loaded(test::small_clip(3, 64, true, false));
  load_tensors_into(*loaded, ck, Component::TextEncoder, tensors, torch::kFloat32);
  auto want = params_of(*open);
  for (const auto& [k, v] : params_of(*loaded)) EXPECT_TRUE(torch::equal(v, want.at(k))) << k;
}

TEST_F(RealKeysTest, MixedDtypesInOneFileLoadIntoOneModule) {
  test::NamedTensors t;
  test::add_unet(t, unet, torch::kFloat16);
  test::add_hf_clip(t, te, "cond_stage_model.transformer.", torch::kBFloat16);
  test::add_vae(t, vae, "first_stage_model.", torch::kFloat32);
  // Within the UNet too: the output convolution in bf16, beside fp16 tensors.
  for (auto& [k, v] : t)
    if (k == "model.diffusion_model.out.2.weight") v = v.to(torch::kBFloat16);
  write_tensors(dir / "mixed.safetensors", t);
  Checkpoint ck = open_checkpoint(dir / "mixed.safetensors");
  EXPECT_EQ(ck.files.front()->info("model.diffusion_model.out.2.weight").dtype, DType::BF16);
  EXPECT_EQ(ck.files.front()->info("model.diffusion_model.out.2.bias").dtype, DType::F16);
  UNet u(test::tiny_sd15(64));
  CLIPTextModel c(test::small_clip(2, 64, false, false));
  VAE v(test::small_vae());
  load_component(*u, ck, Component::UNet, torch::kFloat32);
  load_component(*c, ck, Component::TextEncoder, torch::kFloat32);
  load_component(*v, ck, Component::VAE, torch::kFloat32);
  auto want_u = params_of(*unet), want_c = params_of(*te), want_v = params_of(*vae);
  for (const auto& [k, p] : params_of(*u)) {
    auto want = want_u.at(k).to(torch::kFloat16);
    if (k == "out.2.weight") want = want.to(torch::kBFloat16);  // written fp16, then stored bf16
    EXPECT_TRUE(torch::equal(p, want.to(torch::kFloat32))) << k;
  }
  for (const auto& [k, p] : params_of(*c))
    EXPECT_TRUE(torch::equal(p, want_c.at(k).to(torch::kBFloat16).to(torch::kFloat32))) << k;
  for (const auto& [k, p] : params_of(*v)) EXPECT_TRUE(torch::equal(p, want_v.at(k))) << k;
}

TEST_F(RealKeysTest, ModelInspectCountsTheEMACopy) {
  const fs::path file = sd15_file("sd15.safetensors", true);
  auto r = test::run_lathe("model inspect " + test::shell_quote(file.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("ema         {} UNet tensors", unet->named_parameters().size())),
            std::string::npos)
      << r.output;
  r = test::run_lathe("model inspect --json " + test::shell_quote(file.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["ema_tensors"], unet->named_parameters().size());
}

}  // namespace
}  // namespace lathe
