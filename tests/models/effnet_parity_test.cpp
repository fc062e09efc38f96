// Numerical parity of the EfficientNet encoder and its image preparation with OneTrainer /
// torchvision, on the effnet cases of ../shared/fixtures/stable_cascade/manifest.json: case0
// (normalized image -> features, latent) and case1 ([0, 1] image -> resized, normalized,
// features, latent). Every expected tensor of a case is checked at the manifest's tolerance_rel
// (max|actual - expected| <= tol * max|expected|), float32 against the float64 truth; an
// expected tensor this test does not produce is a failure. LATHE_PARITY_FIXTURES overrides the
// fixtures folder (its stable_cascade/ subfolder is read).
#include "models/fixture_tensors.h"
#include "models/effnet_encoder.h"
#include "models/effnet_image.h"
#include "models/tensor_io.h"
#include "temp_dir.h"
#include "cascade_fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "common/error.h"

namespace lathe {
namespace {

using nlohmann::json;
using TensorMap = std::map<std::string, torch::Tensor>;

using test::cascade_dir;

json manifest() {
  std::ifstream in(cascade_dir() / "manifest.json");
  return json::parse(in);
}

std::vector<std::string> effnet_cases() {
  if (!std::filesystem::exists(cascade_dir() / "manifest.json")) return {""};
  std::vector<std::string> ids;
  const auto m = manifest();
  for (const auto& c : m.at("cases"))
    if (c.at("kind") == "effnet") ids.push_back(c.at("id"));
  return ids;
}

// "" when within tolerance, else the error and the first differing elements.
std::string compare(const torch::Tensor& actual, const torch::Tensor& expected, double tol) {
  if (actual.sizes() != expected.sizes())
    return "shape " + c10::str(actual.sizes()) + " but " + c10::str(expected.sizes()) + " expected";
  const auto a = actual.to(torch::kFloat64).flatten();
  const auto e = expected.to(torch::kFloat64).flatten();
  const double scale = e.abs().max().item<double>();
  const auto diff = (a - e).abs();
  const double worst = diff.max().item<double>();
  if (worst <= tol * scale) return "";
  std::string out = "max|diff| " + std::to_string(worst) + " > " + std::to_string(tol) + " * " + std::to_string(scale);
  const auto bad = (diff > tol * scale).nonzero().flatten();
  for (int64_t i = 0; i < std::min<int64_t>(5, bad.size(0)); ++i) {
    const auto at = bad[i].item<int64_t>();
    out += "\n  [" + std::to_string(at) + "] " + std::to_string(a[at].item<double>()) + " vs " +
           std::to_string(e[at].item<double>());
  }
  return out;
}

class EffNetParity : public testing::TestWithParam<std::string> {};

TEST_P(EffNetParity, MatchesReference) {
  if (GetParam().empty()) GTEST_SKIP() << "needs " << (cascade_dir() / "manifest.json").string() << "; not found";
  json spec;
  const auto m = manifest();
  for (const auto& c : m.at("cases"))
    if (c.at("id") == GetParam()) spec = c;
  auto encoder = load_effnet_encoder(cascade_dir() / "effnet_tiny/weights.safetensors");
  const auto tensors = test::read_tensors(cascade_dir() / spec.at("file").get<std::string>());

  torch::NoGradGuard no_grad;
  TensorMap produced;
  torch::Tensor image;
  if (tensors.count("input.image01")) {
    produced["resized"] = resize_for_effnet(tensors.at("input.image01"));
    produced["normalized"] = imagenet_normalize(produced["resized"]);
    image = produced["normalized"];
  } else {
    image = tensors.at("input.image");
  }
  produced["features"] = encoder->features(image);
  produced["latent"] = encoder->latent_from_features(produced["features"]);
  // Through the one-call path too: the latent of forward() must be the same.
  EXPECT_TRUE(torch::equal(encoder->forward(image), produced["latent"]));

  int checked = 0;
  for (const auto& [name, info] : spec.at("expected").items()) {
    const std::string key = name.substr(std::string("f64.").size());
    auto it = produced.find(key);
    if (it == produced.end()) {
      ADD_FAILURE() << GetParam() << ": expected tensor " << name << " is not produced by this test";
      continue;
    }
    auto actual = it->second;
    const auto& expected = tensors.at(name);
    if (actual.dim() == expected.dim() + 1) actual = actual.squeeze(0);  // [1, 3, h, w] vs [3, h, w]
    const auto problem = compare(actual, expected, info.at("tolerance_rel").get<double>());
    if (std::getenv("LATHE_PARITY_VERBOSE")) {
      const auto e = expected.to(torch::kFloat64);
      const double rel = (actual.to(torch::kFloat64).reshape(e.sizes()) - e).abs().max().item<double>() /
                         e.abs().max().item<double>();
      std::cout << GetParam() << " " << name << " rel " << rel << "\n";
    }
    EXPECT_EQ(problem, "") << GetParam() << " " << name;
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EffNetParity, testing::ValuesIn(effnet_cases()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param.empty() ? "fixtures_absent" : info.param;
                           for (auto& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// A bfloat16 file loads into float32 with the bf16-rounded values, and a misshapen tensor or a
// missing file is an error naming the file and the key.
TEST(EffNetLoad, Bf16FileAndErrors) {
  const auto weights = cascade_dir() / "effnet_tiny/weights.safetensors";
  if (!std::filesystem::exists(weights)) GTEST_SKIP() << "needs " << weights.string() << "; not found";
  const auto tensors = test::read_tensors(weights);
  const test::TempDir temp;
  const auto& dir = temp.path();

  std::vector<std::pair<std::string, torch::Tensor>> bf16;
  for (const auto& [k, v] : tensors) bf16.emplace_back(k, v.is_floating_point() ? v.to(torch::kBFloat16) : v);
  write_tensors(dir / "bf16.safetensors", bf16);
  auto encoder = load_effnet_encoder(dir / "bf16.safetensors");
  const auto params = encoder->named_parameters();
  const auto& w = params["backbone.4.2.block.1.0.weight"];
  EXPECT_EQ(w.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(w, tensors.at("backbone.4.2.block.1.0.weight").to(torch::kBFloat16).to(torch::kFloat32)));
  const auto buffers = encoder->named_buffers();
  EXPECT_TRUE(torch::equal(buffers["mapper.1.running_var"],
                           tensors.at("mapper.1.running_var").to(torch::kBFloat16).to(torch::kFloat32)));

  auto broken = bf16;
  for (auto& [k, v] : broken)
    if (k == "backbone.3.1.block.1.0.weight") v = torch::zeros({24, 95, 1, 1});
  write_tensors(dir / "broken.safetensors", broken);
  try {
    load_effnet_encoder(dir / "broken.safetensors");
    ADD_FAILURE() << "a misshapen tensor loaded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("broken.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("backbone.3.1.block.1.0.weight"), std::string::npos) << msg;
  }
  try {
    load_effnet_encoder(dir / "absent.safetensors");
    ADD_FAILURE() << "a missing file loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lathe
