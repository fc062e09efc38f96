// Checkpoints: tiny single-file and diffusers-folder checkpoints of each family, assembled from
// the fixture weights with the real key names, are detected (family, layout, prediction type,
// tokenizer) and give identical canonical tensors from both layouts; wrong inputs (pickles,
// LoRA files, stray keys, missing keys) get errors that name them; `lathe model inspect`
// reports on them. Skips when ../shared is absent.
#include "models/checkpoint.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fmt/format.h>

#include "common/error.h"
#include "io/atomic_file.h"
#include "models/tensor_io.h"
#include "models/vae.h"
#include "run_command.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

fs::path fixture(const std::string& rel) { return test::shared_dir() / "fixtures" / rel; }

struct Part {
  std::string file;        // fixture-relative
  std::string from, to;    // prefix replaced in every key
  bool to_f16 = false;
};

// Writes one safetensors file holding the tensors of several fixture files, renamed.
void assemble(const fs::path& out, const std::vector<Part>& parts,
              const std::vector<std::string>& extra_f32_keys = {}) {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : parts) {
    files.push_back(std::make_unique<SafetensorsFile>(fixture(p.file)));
    for (const auto& name : files.back()->names()) {
      ASSERT_EQ(name.compare(0, p.from.size(), p.from), 0) << name;
      torch::Tensor t = tensor_from_view(files.back()->view(name), p.to_f16 ? torch::kFloat16 : torch::kFloat32);
      tensors.emplace_back(p.to + name.substr(p.from.size()), t);
    }
  }
  for (const auto& k : extra_f32_keys) tensors.emplace_back(k, torch::ones({1}));
  fs::create_directories(out.parent_path());
  write_tensors(out, tensors, {{"format", "pt"}});
}

void sd15_single(const fs::path& out, std::vector<std::string> extra = {}) {
  assemble(out, {{"unet_sd15_topo/weights_ldm.safetensors", "", ""},
                 {"te_clip_l_tiny/weights_ldm.safetensors", "", ""},
                 {"vae_sd_topo/weights_ldm.safetensors", "", ""}},
           extra);
}

void sdxl_single(const fs::path& out) {
  assemble(out, {{"unet_sdxl_topo/weights_ldm.safetensors", "", ""},
                 {"te_clip_l_tiny/weights_ldm.safetensors", "cond_stage_model.transformer.",
                  "conditioner.embedders.0.transformer."},
                 {"te_clip_g_tiny/weights_ldm.safetensors", "", ""},
                 {"vae_sd_topo/weights_ldm.safetensors", "", ""}});
}

void copy_config(const std::string& fixture_dir, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy_file(fixture(fixture_dir + "/config.json"), to, fs::copy_options::overwrite_existing);
}

// A diffusers folder of the SD 1.x fixtures; SDXL adds text_encoder_2 (fp16 variant).
void diffusers_folder(const fs::path& root, bool sdxl) {
  const std::string unet = sdxl ? "unet_sdxl_topo" : "unet_sd15_topo";
  assemble(root / "unet/diffusion_pytorch_model.safetensors", {{unet + "/weights_diffusers.safetensors", "", ""}});
  copy_config(unet, root / "unet/config.json");
  assemble(root / "vae/diffusion_pytorch_model.safetensors", {{"vae_sd_topo/weights_diffusers.safetensors", "", ""}});
  copy_config("vae_sd_topo", root / "vae/config.json");
  assemble(root / "text_encoder/model.safetensors", {{"te_clip_l_tiny/weights_hf.safetensors", "", ""}});
  copy_config("te_clip_l_tiny", root / "text_encoder/config.json");
  if (sdxl) {
    assemble(root / "text_encoder_2/model.fp16.safetensors",
             {{"te_clip_g_tiny/weights_hf.safetensors", "", "", /*to_f16=*/true}});
    copy_config("te_clip_g_tiny", root / "text_encoder_2/config.json");
  }
  test::write_text(root / "tokenizer/vocab.json", "{}");
  test::write_text(root / "tokenizer/merges.txt", "#version: 0.2\n");
  test::write_text(root / "model_index.json", "{}");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every canonical tensor of `c` equal (values, canonical shape) in two checkpoints.
void expect_same_component(const Checkpoint& a, const Checkpoint& b, Component c) {
  auto ta = component_tensors(a, c), tb = component_tensors(b, c);
  ASSERT_EQ(ta.size(), tb.size()) << component_name(c);
  for (const auto& [name, ref] : ta) {
    auto it = tb.find(name);
    ASSERT_NE(it, tb.end()) << name << " missing in " << b.path;
    EXPECT_EQ(ref.shape, it->second.shape) << name;
    torch::Tensor x = load_tensor(ref, torch::kFloat32), y = load_tensor(it->second, torch::kFloat32);
    EXPECT_TRUE(torch::equal(x, y)) << name << " (" << ref.source_key << " vs " << it->second.source_key << ")";
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { LATHE_REQUIRE_SHARED("fixtures/unet_sd15_topo/weights_ldm.safetensors"); }
  TempDir dir;
};

TEST_F(CheckpointTest, SD15SingleFileIsDetectedAndMapsToCanonicalNames) {
  sd15_single(dir / "sd15.safetensors", {"cond_stage_model.transformer.text_model.embeddings.position_ids",
                                         "alphas_cumprod", "model_ema.decay"});
  Checkpoint ck = open_checkpoint(dir / "sd15.safetensors");
  EXPECT_EQ(ck.layout, CheckpointLayout::SingleFile);
  EXPECT_EQ(ck.family, ModelFamily::SD1);
  EXPECT_EQ(ck.prediction, PredictionType::Epsilon);
  EXPECT_EQ(ck.ignored_keys.size(), 3u);
  EXPECT_TRUE(ck.tokenizers.empty());
  auto unet = component_tensors(ck, Component::UNet);
  SafetensorsFile ref(fixture("unet_sd15_topo/weights_ldm.safetensors"));
  ASSERT_EQ(unet.size(), ref.names().size());
  EXPECT_TRUE(unet.count("input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"));
  EXPECT_TRUE(component_tensors(ck, Component::TextEncoder).count("text_model.final_layer_norm.weight"));
  EXPECT_TRUE(component_tensors(ck, Component::VAE).count("encoder.mid.attn_1.q.weight"));
  EXPECT_NE(error_of([&] { component_tensors(ck, Component::TextEncoder2); }).find("no text_encoder_2"),
            std::string::npos);
}

TEST_F(CheckpointTest, DiffusersFolderGivesTheSameTensorsAsTheSingleFile) {
  sd15_single(dir / "sd15.safetensors");
  diffusers_folder(dir / "sd15-diffusers", false);
  Checkpoint single = open_checkpoint(dir / "sd15.safetensors");
  Checkpoint folder = open_checkpoint(dir / "sd15-diffusers");
  EXPECT_EQ(folder.layout, CheckpointLayout::Diffusers);
  EXPECT_EQ(folder.family, ModelFamily::SD1) << folder.family_evidence;
  ASSERT_EQ(folder.tokenizers.size(), 1u);
  for (Component c : {Component::UNet, Component::TextEncoder, Component::VAE})
    expect_same_component(single, folder, c);
  // The VAE attention projections are Linear [C, C] in diffusers, 1x1 conv in LDM.
  auto vae = component_tensors(folder, Component::VAE);
  EXPECT_EQ(vae.at("decoder.mid.attn_1.proj_out.weight").view.info->shape.size(), 2u);
  EXPECT_EQ(vae.at("decoder.mid.attn_1.proj_out.weight").shape, (std::vector<std::int64_t>{64, 64, 1, 1}));
}

TEST_F(CheckpointTest, SDXLSingleFileSplitsFusedQKVAndTransposesTheProjection) {
  sdxl_single(dir / "sdxl.safetensors");
  Checkpoint ck = open_checkpoint(dir / "sdxl.safetensors");
  EXPECT_EQ(ck.family, ModelFamily::SDXL);
  auto te2 = component_tensors(ck, Component::TextEncoder2);
  SafetensorsFile hf(fixture("te_clip_g_tiny/weights_hf.safetensors"));
  ASSERT_EQ(te2.size(), hf.names().size());
  for (const auto& name : hf.names()) {
    ASSERT_TRUE(te2.count(name)) << name;
    torch::Tensor want = tensor_from_view(hf.view(name), torch::kFloat32);
    EXPECT_TRUE(torch::equal(load_tensor(te2.at(name), torch::kFloat32), want)) << name;
  }
  EXPECT_EQ(te2.at("text_model.encoder.layers.1.self_attn.v_proj.bias").qkv_part, 2);
  EXPECT_TRUE(te2.at("text_projection.weight").transpose);
  EXPECT_TRUE(component_tensors(ck, Component::TextEncoder).count("text_model.encoder.layers.2.mlp.fc2.weight"));
}

TEST_F(CheckpointTest, SDXLDiffusersFolderWithFp16VariantAndSchedulerPrediction) {
  sdxl_single(dir / "sdxl.safetensors");
  diffusers_folder(dir / "sdxl-diffusers", true);
  test::write_text(dir / "sdxl-diffusers/scheduler/scheduler_config.json",
                   R"({"_class_name": "EulerDiscreteScheduler", "prediction_type": "v_prediction"})");
  Checkpoint folder = open_checkpoint(dir / "sdxl-diffusers");
  EXPECT_EQ(folder.family, ModelFamily::SDXL);
  EXPECT_EQ(folder.prediction, PredictionType::VPrediction);
  EXPECT_EQ(folder.prediction_source, "scheduler/scheduler_config.json");
  EXPECT_EQ(folder.find(Component::TextEncoder2)->file->path().filename(), "model.fp16.safetensors");
  Checkpoint single = open_checkpoint(dir / "sdxl.safetensors");
  for (Component c : {Component::UNet, Component::TextEncoder, Component::VAE}) expect_same_component(single, folder, c);
  // fp16 storage: canonical tensors equal the fp32 originals rounded to fp16.
  auto a = component_tensors(single, Component::TextEncoder2), b = component_tensors(folder, Component::TextEncoder2);
  for (const auto& [name, ref] : a)
    EXPECT_TRUE(torch::equal(load_tensor(ref, torch::kFloat16), load_tensor(b.at(name), torch::kFloat16))) << name;
  EXPECT_EQ(open_checkpoint(dir / "sdxl-diffusers", {PredictionType::Epsilon}).prediction, PredictionType::Epsilon);
}

TEST_F(CheckpointTest, SD2SingleFileDefaultsToVPredictionUnlessStated) {
  assemble(dir / "sd2.safetensors", {{"unet_sd2_topo/weights_ldm.safetensors", "", ""},
                                     {"te_clip_g_tiny/weights_ldm.safetensors", "conditioner.embedders.1.model.",
                                      "cond_stage_model.model."},
                                     {"vae_sd_topo/weights_ldm.safetensors", "", ""}},
           {"cond_stage_model.model.logit_scale"});
  Checkpoint ck = open_checkpoint(dir / "sd2.safetensors");
  EXPECT_EQ(ck.family, ModelFamily::SD2);
  EXPECT_EQ(ck.prediction, PredictionType::VPrediction);
  EXPECT_NE(ck.prediction_source.find("cannot tell"), std::string::npos);
  auto te = component_tensors(ck, Component::TextEncoder);
  EXPECT_FALSE(te.count("text_projection.weight")) << "SD 2.x uses no text projection";
  EXPECT_TRUE(te.count("text_model.encoder.layers.0.self_attn.q_proj.weight"));
  EXPECT_EQ(open_checkpoint(dir / "sd2.safetensors", {PredictionType::Epsilon}).prediction_source, "stated");
}

TEST_F(CheckpointTest, PicklesAreRefusedWithHowToConvert) {
  test::write_text(dir / "model.ckpt", "PK\x03\x04 not really");
  std::string msg = error_of([&] { open_checkpoint(dir / "model.ckpt"); });
  EXPECT_NE(msg.find("pickle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.ckpt"), std::string::npos) << msg;
  test::write_text(dir / "renamed.safetensors", std::string("PK\x03\x04", 4) + "zip");
  EXPECT_NE(error_of([&] { open_checkpoint(dir / "renamed.safetensors"); }).find("pickle"), std::string::npos);
  fs::create_directories(dir / "old/unet");
  test::write_text(dir / "old/unet/diffusion_pytorch_model.bin", "x");
  EXPECT_NE(error_of([&] { open_checkpoint(dir / "old"); }).find("pickle"), std::string::npos);
}

// Every first byte of the header length, 0x80 (a pickle's first byte) included: a safetensors
// file is never taken for a pickle, and a raw pickle still is.
TEST_F(CheckpointTest, SafetensorsWithAnyFirstLengthByteIsNotAPickle) {
  for (int b = 0; b < 256; ++b) {
    const std::uint64_t length = 256 + static_cast<std::uint64_t>(b);
    std::string header = "{\"__metadata__\":{\"x\":\"y\"}}";
    header.resize(length, ' ');
    std::string bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    const fs::path file = dir / fmt::format("len{}.safetensors", length);
    test::write_text(file, bytes + header);
    const std::string msg = error_of([&] { open_checkpoint(file); });
    EXPECT_EQ(msg.find("pickle"), std::string::npos) << "first byte " << b << ": " << msg;
  }
  test::write_text(dir / "raw.safetensors", std::string("\x80\x02}q\x00(X\x05\x00\x00\x00model", 18));
  EXPECT_NE(error_of([&] { open_checkpoint(dir / "raw.safetensors"); }).find("pickle"), std::string::npos);
}

TEST_F(CheckpointTest, OtherModelKindsAndStrayKeysAreNamed) {
  write_tensors(dir / "lora.safetensors", {{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", torch::ones({2, 2})}});
  EXPECT_NE(error_of([&] { open_checkpoint(dir / "lora.safetensors"); }).find("LoRA"), std::string::npos);
  assemble(dir / "vae.safetensors", {{"vae_sd_topo/weights_ldm.safetensors", "first_stage_model.", ""}});
  EXPECT_NE(error_of([&] { open_checkpoint(dir / "vae.safetensors"); }).find("standalone VAE"), std::string::npos);
  sd15_single(dir / "stray.safetensors", {"something_else.weight"});
  std::string msg = error_of([&] { open_checkpoint(dir / "stray.safetensors"); });
  EXPECT_NE(msg.find("something_else.weight"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { open_checkpoint(dir / "absent.safetensors"); }).find("no such file"), std::string::npos);
}

TEST_F(CheckpointTest, UnmappableDiffusersKeyIsListed) {
  diffusers_folder(dir / "d", false);
  assemble(dir / "d/vae/diffusion_pytorch_model.safetensors", {{"vae_sd_topo/weights_diffusers.safetensors", "", ""}},
           {"encoder.bogus_block.weight"});
  Checkpoint ck = open_checkpoint(dir / "d");
  std::string msg = error_of([&] { component_tensors(ck, Component::VAE); });
  EXPECT_NE(msg.find("1 unexpected tensors (encoder.bogus_block.weight)"), std::string::npos) << msg;
}

TEST_F(CheckpointTest, MissingAndUnexpectedKeysAreListedWithTheFamily) {
  sd15_single(dir / "sd15.safetensors");
  Checkpoint ck = open_checkpoint(dir / "sd15.safetensors");
  auto tensors = component_tensors(ck, Component::UNet);
  std::vector<std::string> expected;
  for (const auto& [k, r] : tensors) expected.push_back(k);
  EXPECT_NO_THROW(check_component_keys(ck, Component::UNet, tensors, expected));
  expected.push_back("label_emb.0.0.weight");
  expected.erase(expected.begin());
  std::string msg = error_of([&] { check_component_keys(ck, Component::UNet, tensors, expected); });
  EXPECT_NE(msg.find("1 missing (label_emb.0.0.weight)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1 unexpected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("SD 1.x"), std::string::npos) << msg;
}

TEST_F(CheckpointTest, LoadsTheVAEModuleFromBothLayoutsInTheRequestedDtype) {
  sd15_single(dir / "sd15.safetensors");
  diffusers_folder(dir / "d", false);
  auto config = vae_config_from_diffusers(nlohmann::json::parse(read_file(fixture("vae_sd_topo/config.json"))), "vae");
  VAE from_single(config), from_folder(config);
  load_component(*from_single, open_checkpoint(dir / "sd15.safetensors"), Component::VAE, torch::kFloat32);
  load_component(*from_folder, open_checkpoint(dir / "d"), Component::VAE, torch::kBFloat16);
  auto a = from_single->named_parameters(), b = from_folder->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) {
    EXPECT_EQ(b[p.key()].scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(p.value().to(torch::kBFloat16), b[p.key()])) << p.key();
  }
  // A module of another layout is refused with the missing keys and the file's family.
  auto other = config;
  other.block_out_channels = {32, 32, 64, 32};
  VAE wrong_names(other);
  std::string msg = error_of([&] { load_component(*wrong_names, open_checkpoint(dir / "d"), Component::VAE, torch::kFloat32); });
  EXPECT_NE(msg.find("4 missing (decoder.up.2.block.0.nin_shortcut.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("SD 1.x"), std::string::npos) << msg;
  // Same names, other widths: refused with the tensor, its stored key and both shapes.
  other.block_out_channels = {64, 64, 128, 128};
  VAE wrong_shapes(other);
  msg = error_of([&] { load_component(*wrong_shapes, open_checkpoint(dir / "d"), Component::VAE, torch::kFloat32); });
  EXPECT_NE(msg.find("shape [32, 3, 3, 3], expected [64, 3, 3, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stored as encoder.conv_in.weight"), std::string::npos) << msg;
}

TEST(TensorIO, ConvertsEveryLoadableDtypeAndF8) {
  TempDir dir;
  torch::Tensor f = torch::tensor({1.5f, -2.0f, 0.25f, 448.0f});
  write_tensors(dir / "t.safetensors", {{"f32", f}, {"f16", f.to(torch::kFloat16)}, {"bf16", f.to(torch::kBFloat16)},
                                        {"f64", f.to(torch::kFloat64)}, {"i64", f.to(torch::kInt64)},
                                        {"b", f.gt(0)}, {"t", f.view({2, 2}).t()}});
  SafetensorsFile file(dir / "t.safetensors");
  for (const char* n : {"f32", "f16", "bf16", "f64"})
    EXPECT_TRUE(torch::equal(tensor_from_view(file.view(n), torch::kFloat32), f)) << n;
  EXPECT_TRUE(torch::equal(tensor_from_view(file.view("i64"), torch::kInt64), f.to(torch::kInt64)));
  EXPECT_TRUE(torch::equal(tensor_from_view(file.view("b"), torch::kBool), f.gt(0)));
  EXPECT_TRUE(torch::equal(tensor_from_view(file.view("t"), torch::kFloat32), f.view({2, 2}).t()));
  // F8 bytes of 1.5, -2, 0.25, 448: e4m3fn 0x3c, 0xc0, 0x28, 0x7e; e5m2 0x3e, 0xc0, 0x34, 0x5f.
  const std::uint8_t e4m3[] = {0x3c, 0xc0, 0x28, 0x7e}, e5m2[] = {0x3e, 0xc0, 0x34, 0x5f};
  write_safetensors(dir / "f8.safetensors",
                    {{"a", DType::F8_E4M3, {4}, std::string_view(reinterpret_cast<const char*>(e4m3), 4)},
                     {"b", DType::F8_E5M2, {4}, std::string_view(reinterpret_cast<const char*>(e5m2), 4)}},
                    {});
  SafetensorsFile f8(dir / "f8.safetensors");
  EXPECT_TRUE(torch::equal(tensor_from_view(f8.view("a"), torch::kFloat32), f)) << tensor_from_view(f8.view("a"), torch::kFloat32);
  EXPECT_TRUE(torch::equal(tensor_from_view(f8.view("b"), torch::kFloat32), torch::tensor({1.5f, -2.0f, 0.25f, 448.0f})))
      << tensor_from_view(f8.view("b"), torch::kFloat32);
  write_safetensors(dir / "u.safetensors", {{"u", DType::U32, {1}, std::string_view("abcd", 4)}}, {});
  SafetensorsFile u(dir / "u.safetensors");
  EXPECT_NE(error_of([&] { tensor_from_view(u.view("u"), torch::kFloat32); }).find("U32"), std::string::npos);
}

TEST_F(CheckpointTest, ModelInspectReportsTextAndJson) {
  sdxl_single(dir / "sdxl.safetensors");
  auto r = test::run_lathe("model inspect " + test::shell_quote((dir / "sdxl.safetensors").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"SDXL", "single-file", "text_encoder_2", "epsilon", "F32", "vae"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << " in\n" << r.output;
  diffusers_folder(dir / "d", false);
  r = test::run_lathe("model inspect --json " + test::shell_quote((dir / "d").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["family"], "sd1");
  EXPECT_EQ(j["layout"], "diffusers");
  EXPECT_EQ(j["tokenizers"].size(), 1u);
  SafetensorsFile unet(fixture("unet_sd15_topo/weights_diffusers.safetensors"));
  EXPECT_EQ(j["components"]["unet"]["tensors"], unet.names().size());
  test::write_text(dir / "m.ckpt", "x");
  r = test::run_lathe("model inspect " + test::shell_quote((dir / "m.ckpt").string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("pickle"), std::string::npos) << r.output;
  r = test::run_lathe("model inspect --prediction sideways " + test::shell_quote((dir / "d").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace lathe
