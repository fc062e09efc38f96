// Numerical parity of Lathe's Stage C prior with the reference (diffusers StableCascadeUNet
// run in float64) on every prior case of the Stable Cascade fixture manifest, with the weights
// loaded from both key layouts (Stability's single file, diffusers names), in eval mode.
// Every expected f64.* tensor of a case is checked at its tolerance_rel_strict; one the test
// does not produce fails, so new expectations in the manifest cannot pass silently.
#include "fixture_tensors.h"
#include "models/stage_c_loader.h"
#include "stage_c_fixtures.h"

#include <gtest/gtest.h>

namespace lathe {
namespace {

using nlohmann::json;
using TensorMap = std::map<std::string, torch::Tensor>;

struct StageCCase {
  std::string id;      // "prior_tiny/case0", or "" when the fixtures are absent
  std::string layout;  // "stability" or "diffusers"
};

void PrintTo(const StageCCase& c, std::ostream* os) { *os << (c.id.empty() ? "(no fixtures)" : c.id + " " + c.layout); }

std::vector<StageCCase> prior_cases() {
  const auto path = test::stage_c_fixtures_dir() / "manifest.json";
  if (!std::filesystem::exists(path)) return {StageCCase{}};
  std::vector<StageCCase> out;
  const json manifest = test::read_json_file(path);  // kept: the loop walks into it
  for (const auto& c : manifest.at("cases"))
    if (c.at("kind") == "prior")
      for (const char* layout : {"stability", "diffusers"}) out.push_back({c.at("id").get<std::string>(), layout});
  return out;
}

std::string case_name(const testing::TestParamInfo<StageCCase>& info) {
  std::string s = info.param.id.empty() ? "fixtures_absent" : info.param.id + "_" + info.param.layout;
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// The canonical parameter a named gradient belongs to, from the manifest's Stability key and
// rows (a third of a fused in_proj is that projection of the split attention).
std::string canonical_param(const json& named_grad) {
  std::string key = named_grad.at("stability_key");
  const auto rows = named_grad.at("stability_rows").get<std::vector<std::int64_t>>();
  for (const std::string kind : {"weight", "bias"}) {
    const std::string fused = "attention.attn.in_proj_" + kind;
    const auto pos = key.find(fused);
    if (pos == std::string::npos) continue;
    const char* parts[] = {"to_q", "to_k", "to_v"};
    return key.substr(0, pos) + "attention.attn." + parts[rows.at(0) / (rows.at(1) - rows.at(0))] + "." + kind;
  }
  return key;
}

class StageCParity : public testing::TestWithParam<StageCCase> {};

TEST_P(StageCParity, MatchesReference) {
  LATHE_REQUIRE_STAGE_C_FIXTURES();
  const auto dir = test::stage_c_fixtures_dir();
  const json manifest = test::read_json_file(dir / "manifest.json");
  const json* entry = nullptr;
  for (const auto& c : manifest.at("cases"))
    if (c.at("id") == GetParam().id) entry = &c;
  ASSERT_NE(entry, nullptr);

  StageC model = load_stage_c(dir / "prior_tiny" / ("weights_" + GetParam().layout + ".safetensors"), torch::kFloat32);
  ASSERT_FALSE(model->is_training());
  const TensorMap in = test::read_tensors(dir / entry->at("file").get<std::string>());
  auto sample = in.at("input.sample").clone().requires_grad_(true);
  auto clip_text = in.at("input.clip_text").clone().requires_grad_(true);
  auto pooled = in.at("input.clip_text_pooled").clone().requires_grad_(true);
  auto clip_img = in.at("input.clip_img").clone().requires_grad_(true);

  auto r_embed = model->r_embedding(in.at("input.timestep_ratio"));
  auto clip = model->clip_embeddings(pooled, clip_text, clip_img);
  auto output = model->forward_with(sample, r_embed, clip);
  auto loss = (output - in.at("input.target")).pow(2).mean();
  loss.backward();

  TensorMap produced = {{"f64.output", output},
                        {"f64.loss", loss},
                        {"f64.r_embed", r_embed},
                        {"f64.clip", clip},
                        {"f64.grad_sample", sample.grad()},
                        {"f64.grad_clip_text", clip_text.grad()},
                        {"f64.grad_clip_text_pooled", pooled.grad()},
                        {"f64.grad_clip_img", clip_img.grad()}};
  const auto params = model->named_parameters();
  for (const auto& g : entry->at("named_grads")) {
    const std::string key = canonical_param(g);
    ASSERT_TRUE(params.contains(key)) << "no parameter " << key << " for " << g.at("tensor");
    produced[g.at("tensor").get<std::string>()] = params[key].grad();
  }

  const TensorMap expected = test::read_tensors(dir / entry->at("file").get<std::string>(), "");
  std::size_t checked = 0;
  for (const auto& [name, facts] : entry->at("expected").items()) {
    auto it = produced.find(name);
    ASSERT_NE(it, produced.end()) << GetParam().id << ": expected tensor " << name << " is not produced by the test";
    EXPECT_EQ(test::compare_rel(name, it->second, expected.at(name), facts.at("tolerance_rel_strict").get<double>()), "")
        << GetParam().id << " (" << GetParam().layout << ")";
    ++checked;
  }
  EXPECT_EQ(checked, produced.size()) << "every produced tensor has an expectation";
}

INSTANTIATE_TEST_SUITE_P(PriorTiny, StageCParity, testing::ValuesIn(prior_cases()), case_name);

}  // namespace
}  // namespace lathe
