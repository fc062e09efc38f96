// Numerical parity of Lathe's UNet, VAE and CLIP text encoders with the reference
// implementations, on the fixture sets described by a manifest.json (format
// "lathe-parity-fixtures/1"; ../shared/fixtures/README.md). The test knows no case by name: it
// iterates the manifest, builds each model from its config, loads its weights, runs the fp32
// forward and backward, and checks every expected tensor of the case with the manifest's
// tolerance_rel. An expected tensor the implementation does not produce is a failure, so a
// fixture set with new outputs cannot pass silently. The folder comes from
// LATHE_PARITY_FIXTURES (default ../shared/fixtures).
#include "fixture_tensors.h"
#include "models/clip_text.h"
#include "models/key_maps.h"
#include "models/unet.h"
#include "models/vae.h"
#include "test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace lathe {
namespace {

using nlohmann::json;
using TensorMap = std::map<std::string, torch::Tensor>;

std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("LATHE_PARITY_FIXTURES")) return env;
  return test::shared_dir() / "fixtures";
}

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return json::parse(in);
}

struct CaseParam {
  std::string id;      // "<folder>/caseN", or "" when the fixture folder is absent
  std::string layout;  // "ldm" or the model's native layout key ("diffusers" / "hf")
};

void PrintTo(const CaseParam& p, std::ostream* os) { *os << (p.id.empty() ? "(no fixtures)" : p.id + " " + p.layout); }

std::string param_name(const testing::TestParamInfo<CaseParam>& info) {
  std::string s = info.param.id.empty() ? "fixtures_absent" : info.param.id + "_" + info.param.layout;
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// Every case in every weight layout the manifest lists.
std::vector<CaseParam> manifest_cases() {
  const auto path = fixtures_dir() / "manifest.json";
  if (!std::filesystem::exists(path)) return {CaseParam{}};
  const auto manifest = read_json(path);
  std::vector<CaseParam> out;
  for (const auto& c : manifest.at("cases")) {
    const auto& model = manifest.at("models").at(c.at("model").get<std::string>());
    for (const auto& w : model.at("weights").items()) out.push_back({c.at("id"), w.key()});
  }
  return out;
}

std::vector<std::string> keys_of(const TensorMap& m) {
  std::vector<std::string> keys;
  for (const auto& kv : m) keys.push_back(kv.first);
  return keys;
}

// Renames through a key map; a key the map does not know is kept (load_strict then reports it).
TensorMap convert_names(const TensorMap& in, const NameTable& table) {
  TensorMap out;
  for (const auto& kv : in) out[table.a_to_b(kv.first).value_or("unmapped:" + kv.first)] = kv.second;
  return out;
}

// OpenCLIP text-tower names -> Hugging Face names, splitting fused q/k/v rows and transposing
// text_projection, through src/models/key_maps.
TensorMap openclip_to_hf_tensors(const TensorMap& in) {
  TensorMap out;
  for (const auto& kv : in) {
    if (openclip_key_is_unused(kv.first)) continue;
    auto parts = openclip_to_hf(kv.first);
    if (!parts) {
      out["unmapped:" + kv.first] = kv.second;
      continue;
    }
    for (const auto& part : *parts) {
      auto t = kv.second;
      if (part.qkv_part >= 0) t = t.chunk(3, 0)[part.qkv_part];
      if (part.transposed) t = t.t();
      out[part.key] = t.contiguous();
    }
  }
  return out;
}

// Tensors in Lathe's canonical names from a weights file in `layout`: LDM names without the
// prefix for UNet / VAE, Hugging Face names for CLIP. The diffusers layout and OpenCLIP names go
// through the checkpoint key maps (src/models/key_maps).
TensorMap canonical_weights(const json& model, const std::string& layout) {
  const auto file = fixtures_dir() / model.at("weights").at(layout).get<std::string>();
  const auto kind = model.at("kind").get<std::string>();
  const auto prefix = model.value("ldm_prefix", std::string());
  if (kind == "text_encoder") {
    if (layout == "hf") return test::read_tensors(file);
    auto tensors = test::read_tensors(file, prefix);
    if (tensors.count("text_model.embeddings.token_embedding.weight")) return tensors;  // HF names under a prefix
    return openclip_to_hf_tensors(tensors);
  }
  if (layout == "ldm") return test::read_tensors(file, prefix);
  auto tensors = test::read_tensors(file);
  if (kind == "unet") return convert_names(tensors, unet_name_table(unet_topology_from_diffusers(keys_of(tensors))));
  auto out = convert_names(tensors, vae_name_table(vae_levels_from_diffusers(keys_of(tensors))));
  for (auto& kv : out)
    if (vae_is_conv_attention_weight(kv.first) && kv.second.dim() == 2) kv.second = kv.second.reshape({kv.second.size(0), kv.second.size(1), 1, 1});
  return out;
}

// Compares one produced tensor with the expectation; returns "" or a report with the first
// differing elements.
std::string compare(const std::string& name, const torch::Tensor& actual_in, const torch::Tensor& expected,
                    double tolerance_rel) {
  if (!actual_in.defined()) return name + ": not produced (undefined gradient?)";
  auto actual = actual_in.detach().to(torch::kFloat64).reshape(expected.sizes());
  const bool scalar = expected.numel() == 1;
  const double scale = scalar ? std::abs(expected.item<double>()) : expected.abs().max().item<double>();
  const double limit = tolerance_rel * scale;
  auto diff = (actual - expected).abs();
  const double max_diff = diff.max().item<double>();
  if (std::getenv("LATHE_PARITY_VERBOSE"))
    std::cout << "  " << name << ": " << (scale > 0 ? max_diff / scale : max_diff) << " relative (tolerance "
              << tolerance_rel << ")\n";
  if (max_diff <= limit && std::isfinite(max_diff)) return "";
  std::ostringstream msg;
  msg << name << ": max |actual - expected| = " << max_diff << " > " << tolerance_rel << " x " << scale << " ("
      << (scale > 0 ? max_diff / scale : max_diff) << " relative); first differing elements:";
  auto flat_a = actual.reshape({-1}), flat_e = expected.reshape({-1}), flat_d = diff.reshape({-1});
  int shown = 0;
  for (std::int64_t i = 0; i < flat_d.numel() && shown < 6; ++i) {
    const double d = flat_d[i].item<double>();
    if (d > limit || !std::isfinite(d)) {
      msg << "\n  [" << i << "] actual " << flat_a[i].item<double>() << " expected " << flat_e[i].item<double>();
      ++shown;
    }
  }
  return msg.str();
}

// Runs one case; fills `produced` with the tensors named as in the case file's f64.* entries.
void run_unet(const json& model_entry, const TensorMap& weights, const TensorMap& in, TensorMap* produced) {
  const auto cfg_path = fixtures_dir() / model_entry.at("config").get<std::string>();
  UNet unet(unet_config_from_diffusers(read_json(cfg_path), cfg_path.string()));
  const auto problems = test::load_strict(*unet, weights);
  ASSERT_EQ(problems, "") << "loading UNet weights";
  unet->eval();
  auto ehs = in.at("input.encoder_hidden_states").clone().requires_grad_(true);
  torch::Tensor y, text_embeds;
  if (in.count("input.text_embeds")) {
    text_embeds = in.at("input.text_embeds").clone().requires_grad_(true);
    y = unet->sdxl_vector(text_embeds, in.at("input.time_ids"));
  }
  auto out = unet->forward(in.at("input.sample"), in.at("input.timestep"), ehs, y);
  auto loss = (out - in.at("input.target")).pow(2).mean();
  loss.backward();
  (*produced)["f64.output"] = out;
  (*produced)["f64.loss"] = loss;
  (*produced)["f64.grad_encoder_hidden_states"] = ehs.grad();
  if (text_embeds.defined()) (*produced)["f64.grad_text_embeds"] = text_embeds.grad();
  const auto prefix = model_entry.value("ldm_prefix", std::string());
  for (auto& p : unet->named_parameters()) (*produced)["f64.grad." + prefix + p.key()] = p.value().grad();
}

void run_vae(const json& model_entry, const TensorMap& weights, const TensorMap& in, TensorMap* produced) {
  const auto cfg_path = fixtures_dir() / model_entry.at("config").get<std::string>();
  VAE vae(vae_config_from_diffusers(read_json(cfg_path), cfg_path.string()));
  const auto problems = test::load_strict(*vae, weights);
  ASSERT_EQ(problems, "") << "loading VAE weights";
  vae->eval();
  torch::NoGradGuard no_grad;
  const auto& image = in.at("input.image");
  (*produced)["f64.moments"] = vae->moments(image);
  auto dist = vae->encode(image);
  (*produced)["f64.mean"] = dist.mean;
  (*produced)["f64.logvar"] = dist.logvar;
  (*produced)["f64.std"] = dist.std;
  (*produced)["f64.latents_scaled"] = (dist.mean + dist.std * in.at("input.eps")) * vae->config().scaling_factor;
  (*produced)["f64.decoded_from_mean"] = vae->decode(dist.mean);
}

void run_text_encoder(const json& model_entry, const TensorMap& weights, const TensorMap& in, TensorMap* produced) {
  const auto cfg_path = fixtures_dir() / model_entry.at("config").get<std::string>();
  CLIPTextModel te(clip_text_config_from_hf(read_json(cfg_path), cfg_path.string()));
  const auto problems = test::load_strict(*te, weights);
  ASSERT_EQ(problems, "") << "loading text encoder weights";
  te->eval();
  auto out = te->forward(in.at("input.input_ids"));
  auto loss = (out.last_hidden_state - in.at("input.target")).pow(2).mean();
  loss.backward();
  (*produced)["f64.last_hidden_state"] = out.last_hidden_state;
  (*produced)["f64.penultimate_hidden_state"] = te->skip_hidden_state(out, 2, false);
  (*produced)["f64.penultimate_final_ln"] = te->skip_hidden_state(out, 2, true);
  (*produced)["f64.pooled"] = out.pooled;
  if (out.text_embeds.defined()) (*produced)["f64.text_embeds"] = out.text_embeds;
  (*produced)["f64.loss"] = loss;
  for (auto& p : te->named_parameters()) (*produced)["f64.grad." + p.key()] = p.value().grad();
}

class ParityTest : public testing::TestWithParam<CaseParam> {};

TEST_P(ParityTest, MatchesReference) {
  const auto& param = GetParam();
  if (param.id.empty())
    GTEST_SKIP() << "no parity fixtures at " << fixtures_dir().string()
                 << " (set LATHE_PARITY_FIXTURES to a folder with manifest.json)";
  torch::manual_seed(0);
  const auto manifest = read_json(fixtures_dir() / "manifest.json");
  json case_entry;
  for (const auto& c : manifest.at("cases"))
    if (c.at("id") == param.id) case_entry = c;
  const auto& model_entry = manifest.at("models").at(case_entry.at("model").get<std::string>());

  const auto weights = canonical_weights(model_entry, param.layout);
  const auto case_file = test::read_tensors(fixtures_dir() / case_entry.at("file").get<std::string>());

  TensorMap produced;
  const auto kind = case_entry.at("kind").get<std::string>();
  if (kind == "unet") run_unet(model_entry, weights, case_file, &produced);
  else if (kind == "vae") run_vae(model_entry, weights, case_file, &produced);
  else if (kind == "text_encoder") run_text_encoder(model_entry, weights, case_file, &produced);
  else FAIL() << "unknown model kind " << kind << " in " << param.id;
  if (HasFatalFailure()) return;

  int checked = 0;
  for (const auto& e : case_entry.at("expected").items()) {
    const auto& name = e.key();
    ASSERT_TRUE(case_file.count(name)) << name << " listed in the manifest but not in " << case_entry["file"];
    auto it = produced.find(name);
    if (it == produced.end()) {
      ADD_FAILURE() << param.id << ": expected tensor " << name << " is not produced by Lathe's " << kind;
      continue;
    }
    const auto report = compare(name, it->second, case_file.at(name), e.value().at("tolerance_rel").get<double>());
    EXPECT_EQ(report, "") << param.id << " (" << param.layout << " weights)";
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no expected tensors in " << param.id;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ParityTest, testing::ValuesIn(manifest_cases()), param_name);

}  // namespace
}  // namespace lathe
