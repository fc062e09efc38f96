// `lathe lora merge`: a tiny SD 1.5-shaped checkpoint (UNet + text encoder, LDM keys) and an
// SDXL-shaped UNet, each with a random LoRA / LoCon (3x3 conv modules included): the merged
// model's output equals the base model run with the LoRA attached at the same strength; a LoRA
// of another family is refused with its unmatched modules listed and nothing written; the CLI's
// --scale 0 copies every tensor unchanged in its dtype, and usage errors exit 2.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../run_command.h"
#include "../temp_dir.h"
#include "common/error.h"
#include "lora/lora_file_info.h"
#include "lora/lora_merge.h"
#include "lora/lora_network.h"
#include "lora_fixtures.h"
#include "models/checkpoint.h"
#include "models/tensor_io.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::run_lathe;
using test::shell_quote;
using test::TempDir;

// A single-file checkpoint of `unet` (and `te`, when given) under the LDM prefixes.
void write_checkpoint(const fs::path& path, UNet& unet, CLIPTextModel* te, torch::Dtype dtype) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : unet->named_parameters())
    tensors.emplace_back("model.diffusion_model." + p.key(), p.value().detach().to(dtype));
  if (te)
    for (const auto& p : (*te)->named_parameters())
      tensors.emplace_back("cond_stage_model.transformer." + p.key(), p.value().detach().to(dtype));
  write_tensors(path, tensors);
}

// A LoRA / LoCon on the models with random up weights (a fresh one would be a no-op).
LoRANetwork random_lora(UNet& unet, std::vector<CLIPTextModel> tes, ModelFamily family) {
  LoRAOptions o;
  o.rank = 4;
  o.alpha = 2;
  o.conv_rank = 2;
  o.conv_alpha = 1;
  o.text_encoders = !tes.empty();
  LoRANetwork net(unet, std::move(tes), family, o);
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters())
    if (p.key().find("lora_up") != std::string::npos) p.value().normal_(0.0, 0.1);
  return net;
}

template <typename Module>
void load_merged(Module& m, const fs::path& path, Component c) {
  auto ck = open_checkpoint(path);
  load_component(*m, ck, c, torch::kFloat32);
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const torch::Tensor& base) {
  const double moved = (want - base).abs().max().item<double>();
  ASSERT_GT(moved, 1e-3) << "the LoRA should change the output";
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-4 * std::max(1.0, want.abs().max().item<double>()));
}

TEST(LoRAMerge, SD15MergedOutputEqualsBasePlusLoRA) {
  TempDir dir;
  torch::manual_seed(21);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24));
  unet->eval();
  te->eval();
  write_checkpoint(dir / "base.safetensors", unet, &te, torch::kFloat32);
  auto in = test::unet_inputs(unet);
  auto ids = torch::randint(0, 998, {2, 6}, torch::kLong);
  torch::Tensor base_out = test::run_unet(unet, in), base_te, want, want_te;
  {
    torch::NoGradGuard no_grad;
    base_te = te->forward(ids).last_hidden_state;
    auto net = random_lora(unet, {te}, ModelFamily::SD1);
    net->eval();
    net->set_multiplier(0.7);
    net->save(dir / "lora.safetensors", torch::kFloat32, {});
    want = test::run_unet(unet, in);
    want_te = te->forward(ids).last_hidden_state;
  }  // the network detaches here

  auto r = merge_lora(dir / "base.safetensors", dir / "lora.safetensors", dir / "merged.safetensors", 0.7);
  EXPECT_EQ(r.family, "SD 1.x");
  EXPECT_EQ(r.parts.at("te"), 2u * 6u);
  EXPECT_GT(r.parts.at("unet"), 12u);  // transformer Linears + LoCon convs
  EXPECT_EQ(r.modules, r.tensors_changed);
  torch::manual_seed(99);  // different init: everything must come from the file
  UNet merged(test::tiny_sd15());
  CLIPTextModel merged_te(test::tiny_clip(2, 24));
  merged->eval();
  merged_te->eval();
  load_merged(merged, dir / "merged.safetensors", Component::UNet);
  load_merged(merged_te, dir / "merged.safetensors", Component::TextEncoder);
  expect_close(test::run_unet(merged, in), want, base_out);
  torch::NoGradGuard no_grad;
  expect_close(merged_te->forward(ids).last_hidden_state, want_te, base_te);
}

TEST(LoRAMerge, SDXLUNetWithLDMNames) {
  TempDir dir;
  torch::manual_seed(22);
  UNet unet(test::tiny_sdxl());
  unet->eval();
  write_checkpoint(dir / "base.safetensors", unet, nullptr, torch::kFloat32);
  auto in = test::unet_inputs(unet);
  auto base_out = test::run_unet(unet, in);
  torch::Tensor want;
  {
    auto net = random_lora(unet, {}, ModelFamily::SDXL);
    net->eval();
    net->save(dir / "lora.safetensors", torch::kFloat16, {});
    // The file holds fp16 weights; the merge reads those, so compare with them.
    net->load(dir / "lora.safetensors");
    want = test::run_unet(unet, in);
  }
  auto r = merge_lora(dir / "base.safetensors", dir / "lora.safetensors", dir / "merged.safetensors", 1.0);
  EXPECT_EQ(r.family, "SDXL");
  torch::manual_seed(98);
  UNet merged(test::tiny_sdxl());
  merged->eval();
  load_merged(merged, dir / "merged.safetensors", Component::UNet);
  expect_close(test::run_unet(merged, in), want, base_out);
}

TEST(LoRAMerge, RefusesALoRAOfAnotherFamily) {
  TempDir dir;
  torch::manual_seed(23);
  UNet sd15(test::tiny_sd15()), sdxl(test::tiny_sdxl());
  write_checkpoint(dir / "sdxl.safetensors", sdxl, nullptr, torch::kFloat16);
  random_lora(sd15, {}, ModelFamily::SD1)->save(dir / "sd15_lora.safetensors", torch::kFloat16, {{"ss_base_model_version", "sd_v1"}});
  try {
    merge_lora(dir / "sdxl.safetensors", dir / "sd15_lora.safetensors", dir / "out.safetensors", 1.0);
    FAIL() << "expected lathe::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("have no tensor"), std::string::npos) << msg;
    EXPECT_NE(msg.find("lora_unet_down_blocks_0_attentions_0_proj_in"), std::string::npos) << msg;
    EXPECT_NE(msg.find("SDXL"), std::string::npos) << msg;
    EXPECT_NE(msg.find("sd_v1"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dir / "out.safetensors"));
}

// Rewrites a LoRA file with module `from` renamed to `to` (its down, up and alpha keys).
void rename_module(const fs::path& in, const fs::path& out, const std::string& from, const std::string& to) {
  SafetensorsFile file(in);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& name : file.names()) {
    std::string key = name;
    if (key.compare(0, from.size() + 1, from + ".") == 0) key = to + key.substr(from.size());
    tensors.emplace_back(key, tensor_from_view(file.view(name), torch::kFloat32));
  }
  write_tensors(out, tensors, file.metadata());
}

std::string merge_error(const fs::path& base, const fs::path& lora, const fs::path& out) {
  try {
    merge_lora(base, lora, out, 1.0);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoRAMerge, UnknownModulesOfTheRightFamilyAreNamedWithTheMatchCount) {
  TempDir dir;
  torch::manual_seed(25);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24));
  write_checkpoint(dir / "base.safetensors", unet, &te, torch::kFloat16);
  {
    auto net = random_lora(unet, {te}, ModelFamily::SD1);
    net->save(dir / "lora.safetensors", torch::kFloat16, {{"ss_base_model_version", "sd_v1"}});
  }
  const std::string from = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const std::string to = "lora_unet_down_blocks_0_attentions_0_projection_in";
  rename_module(dir / "lora.safetensors", dir / "renamed.safetensors", from, to);
  const std::size_t total = read_lora_file_info(SafetensorsFile(dir / "renamed.safetensors")).modules.size();
  const std::string msg = merge_error(dir / "base.safetensors", dir / "renamed.safetensors", dir / "out.safetensors");
  EXPECT_NE(msg.find(fmt::format("1 of {} LoRA modules have no tensor", total)), std::string::npos) << msg;
  EXPECT_NE(msg.find(to), std::string::npos) << msg;
  EXPECT_NE(msg.find(fmt::format("the other {} match", total - 1)), std::string::npos) << msg;
  EXPECT_NE(msg.find("follow SD 1.x's naming"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("another model"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "out.safetensors"));
}

TEST(LoRAMerge, ADeeperTextEncoderNamesAnotherModelWithoutMetadata) {
  TempDir dir;
  torch::manual_seed(26);
  UNet unet(test::tiny_sd15());
  CLIPTextModel te(test::tiny_clip(2, 24)), deep(test::tiny_clip(4, 24));
  write_checkpoint(dir / "base.safetensors", unet, &te, torch::kFloat32);
  random_lora(unet, {deep}, ModelFamily::SD1)->save(dir / "deep.safetensors", torch::kFloat32, {});
  const std::string msg = merge_error(dir / "base.safetensors", dir / "deep.safetensors", dir / "out.safetensors");
  EXPECT_NE(msg.find("lora_te_text_model_encoder_layers_3_"), std::string::npos) << msg;
  EXPECT_NE(msg.find("another model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reach text-encoder layer 3, the model's encoder has 2 layers"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SDXL"), std::string::npos) << msg;
}

TEST(LoRAMergeCommand, ScaleZeroCopiesEveryTensorAndErrorsExitNonZero) {
  TempDir dir;
  torch::manual_seed(24);
  UNet unet(test::tiny_sd15()), xl(test::tiny_sdxl());
  CLIPTextModel te(test::tiny_clip(2, 24));
  const auto base = dir / "base.safetensors", lora = dir / "lora.safetensors", out = dir / "out.safetensors";
  write_checkpoint(base, unet, &te, torch::kFloat16);
  random_lora(unet, {te}, ModelFamily::SD1)->save(lora, torch::kFloat16, {});

  auto ok = run_lathe(fmt::format("lora merge {} {} --out {} --scale 0", shell_quote(base.string()),
                                  shell_quote(lora.string()), shell_quote(out.string())));
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("merged"), std::string::npos) << ok.output;
  SafetensorsFile a(base), b(out);
  ASSERT_EQ(a.names(), b.names());
  for (const auto& name : a.names()) {
    EXPECT_EQ(a.info(name).dtype, b.info(name).dtype) << name;
    EXPECT_TRUE(torch::equal(tensor_from_view(a.view(name), torch::kFloat32), tensor_from_view(b.view(name), torch::kFloat32)))
        << name;
  }
  // scale 1 changes tensors and keeps fp16
  auto one = run_lathe(fmt::format("lora merge {} {} --out {}", shell_quote(base.string()), shell_quote(lora.string()),
                                   shell_quote((dir / "one.safetensors").string())));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  SafetensorsFile c(dir / "one.safetensors");
  const std::string k = "model.diffusion_model.input_blocks.1.1.proj_in.weight";
  EXPECT_EQ(c.info(k).dtype, DType::F16);
  EXPECT_FALSE(torch::equal(tensor_from_view(a.view(k), torch::kFloat32), tensor_from_view(c.view(k), torch::kFloat32)));

  auto no_out = run_lathe(fmt::format("lora merge {} {}", shell_quote(base.string()), shell_quote(lora.string())));
  EXPECT_EQ(no_out.exit_code, 2) << no_out.output;
  auto same = run_lathe(fmt::format("lora merge {} {} --out {}", shell_quote(base.string()), shell_quote(lora.string()),
                                    shell_quote(base.string())));
  EXPECT_EQ(same.exit_code, 1) << same.output;
  EXPECT_NE(same.output.find("base checkpoint itself"), std::string::npos) << same.output;

  write_checkpoint(dir / "xl.safetensors", xl, nullptr, torch::kFloat16);
  auto wrong = run_lathe(fmt::format("lora merge {} {} --out {}", shell_quote((dir / "xl.safetensors").string()),
                                     shell_quote(lora.string()), shell_quote((dir / "x.safetensors").string())));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("lora_te_text_model_encoder_layers_0"), std::string::npos) << wrong.output;
  EXPECT_FALSE(fs::exists(dir / "x.safetensors"));
}

}  // namespace
}  // namespace lathe
