// `lathe lora merge` with LoHa, LoKr and DoRA files: the merged checkpoint's output equals the
// base model run with the same file's network attached (UNet with 3x3 convs, text encoder, SD 1.5
// diffusers names and SDXL LDM names), at strength 1 and at another strength; `lora inspect`'s
// core names the type of every module.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../temp_dir.h"
#include "common/error.h"
#include "io/safetensors.h"
#include "lora/lora_file_info.h"
#include "lora/lora_merge.h"
#include "lora/lora_network.h"
#include "lora_fixtures.h"
#include "models/checkpoint.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

void write_checkpoint(const fs::path& path, UNet& unet, CLIPTextModel* te) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : unet->named_parameters()) tensors.emplace_back("model.diffusion_model." + p.key(), p.value().detach());
  if (te)
    for (const auto& p : (*te)->named_parameters())
      tensors.emplace_back("cond_stage_model.transformer." + p.key(), p.value().detach());
  write_tensors(path, tensors);
}

struct Case {
  NetworkAlgo algo;
  bool dora;
  bool decompose_both;
  std::string label() const {
    return fmt::format("{}{}{}", network_algo_name(algo), dora ? "+dora" : "", decompose_both ? " both" : "");
  }
};

const std::vector<Case> kCases = {{NetworkAlgo::LoHa, false, false},
                                  {NetworkAlgo::LoKr, false, false},
                                  {NetworkAlgo::LoKr, false, true},
                                  {NetworkAlgo::LoRA, true, false},
                                  {NetworkAlgo::LoHa, true, false},
                                  {NetworkAlgo::LoKr, true, false}};

// Saves a random network of `c` on the models and returns the attached output at `strength`.
void save_random_network(const Case& c, UNet& unet, std::vector<CLIPTextModel> tes, ModelFamily family,
                         const fs::path& path) {
  LoRAOptions o;
  o.algo = c.algo;
  o.dora = c.dora;
  o.lokr_decompose_both = c.decompose_both;
  o.rank = 2;
  o.alpha = 1.5;
  o.conv_rank = 2;
  o.conv_alpha = 1;
  o.text_encoders = !tes.empty();
  LoRANetwork net(unet, std::move(tes), family, o);
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    if (p.key().find("dora_scale") != std::string::npos) p.value().mul_(1.0 + 0.2 * torch::rand_like(p.value()));
    else p.value().normal_(0.0, 0.15);
  }
  net->save(path, torch::kFloat32, {});
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const torch::Tensor& base, const std::string& what) {
  ASSERT_GT((want - base).abs().max().item<double>(), 1e-3) << what << ": the network should change the output";
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-4 * std::max(1.0, want.abs().max().item<double>())) << what;
}

TEST(NetworkTypesMerge, SD15MergedEqualsAttachedForEveryType) {
  TempDir dir;
  torch::manual_seed(31);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24));
  unet->eval();
  te->eval();
  write_checkpoint(dir / "base.safetensors", unet, &te);
  auto in = test::unet_inputs(unet);
  auto ids = torch::randint(0, 998, {2, 6}, torch::kLong);
  const auto base_out = test::run_unet(unet, in);
  torch::Tensor base_te;
  {
    torch::NoGradGuard no_grad;
    base_te = te->forward(ids).last_hidden_state;
  }
  for (const auto& c : kCases) {
    const auto lora = dir / "lora.safetensors";
    save_random_network(c, unet, {te}, ModelFamily::SD1, lora);
    for (double strength : {1.0, 0.6}) {
      torch::Tensor want, want_te;
      {
        LoRANetwork attached(unet, std::vector<CLIPTextModel>{te}, ModelFamily::SD1, lora, strength);
        attached->eval();
        want = test::run_unet(unet, in);
        torch::NoGradGuard no_grad;
        want_te = te->forward(ids).last_hidden_state;
      }
      const auto merged_path = dir / "merged.safetensors";
      auto r = merge_lora(dir / "base.safetensors", lora, merged_path, strength);
      EXPECT_EQ(r.modules, r.tensors_changed) << c.label();
      UNet merged(test::tiny_sd15());
      CLIPTextModel merged_te(test::tiny_clip(2, 24));
      merged->eval();
      merged_te->eval();
      auto ck = open_checkpoint(merged_path);
      load_component(*merged, ck, Component::UNet, torch::kFloat32);
      load_component(*merged_te, ck, Component::TextEncoder, torch::kFloat32);
      const auto what = fmt::format("{} at {}", c.label(), strength);
      expect_close(test::run_unet(merged, in), want, base_out, what);
      torch::NoGradGuard no_grad;
      expect_close(merged_te->forward(ids).last_hidden_state, want_te, base_te, what + " (text encoder)");
    }
  }
}

TEST(NetworkTypesMerge, SDXLMergedEqualsAttached) {
  TempDir dir;
  torch::manual_seed(32);
  UNet unet(test::tiny_sdxl());
  unet->eval();
  write_checkpoint(dir / "base.safetensors", unet, nullptr);
  auto in = test::unet_inputs(unet);
  const auto base_out = test::run_unet(unet, in);
  for (const auto& c : {kCases[1], kCases[3], kCases[4]}) {
    const auto lora = dir / "lora.safetensors";
    save_random_network(c, unet, {}, ModelFamily::SDXL, lora);
    torch::Tensor want;
    {
      LoRANetwork attached(unet, std::vector<CLIPTextModel>{}, ModelFamily::SDXL, lora);
      attached->eval();
      want = test::run_unet(unet, in);
    }
    merge_lora(dir / "base.safetensors", lora, dir / "merged.safetensors", 1.0);
    UNet merged(test::tiny_sdxl());
    merged->eval();
    auto ck = open_checkpoint(dir / "merged.safetensors");
    load_component(*merged, ck, Component::UNet, torch::kFloat32);
    expect_close(test::run_unet(merged, in), want, base_out, c.label());
  }
}

TEST(NetworkTypesMerge, InspectNamesTheTypes) {
  TempDir dir;
  torch::manual_seed(33);
  UNet unet(test::tiny_sd15());
  save_random_network(kCases[5], unet, {}, ModelFamily::SD1, dir / "lokr.safetensors");
  auto info = read_lora_file_info(SafetensorsFile(dir / "lokr.safetensors"));
  EXPECT_TRUE(info.other_keys.empty());
  std::size_t convs = 0;
  for (const auto& m : info.modules) {
    EXPECT_EQ(network_type_label(m), "LoKr + DoRA") << m.name;
    EXPECT_EQ(m.rank, 2) << m.name;
    convs += m.shapes.count("lokr_w2_b") && m.shapes.at("lokr_w2_b")[1] % 9 == 0 && m.name.find("conv") != std::string::npos;
  }
  EXPECT_GT(convs, 0u);
}

}  // namespace
}  // namespace lathe
