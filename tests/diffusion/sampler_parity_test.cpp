// Parity of Lathe's samplers with diffusers 0.32's schedulers and pipelines, replaying every
// case of samplers/manifest.json (format "lathe-sampler-fixtures/1"; ../shared/fixtures/
// README.md, section "samplers/") on the tiny fixture models: the text encoders make the
// conditioning from the case's token ids, sample() runs the loop with the guided UNet and the
// case's recorded step noise, the VAE decodes. Every expected tensor of the case (embeddings,
// initial latents, UNet outputs, guided outputs and latents of every step, image) is compared at
// the manifest's tolerance, per step for the [steps, ...] stacks; the inference schedule is
// compared too. An expected tensor Lathe does not produce is a failure. The folder comes from
// LATHE_PARITY_FIXTURES (default ../shared/fixtures), as for the model parity tests.
#include "diffusion/sampler.h"
#include "models/clip_text.h"
#include "models/fixture_tensors.h"
#include "models/unet.h"
#include "models/vae.h"
#include "test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace lathe {
namespace {

using nlohmann::json;
using TensorMap = std::map<std::string, torch::Tensor>;

std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("LATHE_PARITY_FIXTURES")) return env;
  return test::shared_dir() / "fixtures";
}

std::filesystem::path sampler_manifest_path() { return fixtures_dir() / "samplers" / "manifest.json"; }

// The sampler manifest is written by Python's json, which spells DPM-Solver's
// lambda_min_clipped as a bare -Infinity; those tokens become strings before parsing.
json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  static const std::regex bare_non_finite(R"(([:\[,]\s*)(-?Infinity|NaN)(\s*[,\]}]))");
  return json::parse(std::regex_replace(text.str(), bare_non_finite, "$1\"$2\"$3"));
}

// Case ids, or one "" when the fixtures are absent (the test then skips and says why).
std::vector<std::string> sampler_cases() {
  if (!std::filesystem::exists(sampler_manifest_path())) return {""};
  const auto manifest = read_json(sampler_manifest_path());
  std::vector<std::string> ids;
  for (const auto& c : manifest.at("cases")) ids.push_back(c.at("id"));
  return ids;
}

std::string case_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param.empty() ? "fixtures_absent" : info.param;
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// A model folder's config and weights through the model manifest: the LDM layout for the UNet
// and the VAE (the names Lathe's modules register), Hugging Face names for text encoders.
struct ModelFiles {
  json config;
  TensorMap weights;
};

ModelFiles model_files(const json& models, const std::string& folder) {
  const auto& entry = models.at(folder);
  ModelFiles out;
  out.config = read_json(fixtures_dir() / entry.at("config").get<std::string>());
  if (entry.at("kind") == "text_encoder") {
    out.weights = test::read_tensors(fixtures_dir() / entry.at("weights").at("hf").get<std::string>());
  } else {
    out.weights = test::read_tensors(fixtures_dir() / entry.at("weights").at("ldm").get<std::string>(),
                                     entry.value("ldm_prefix", std::string()));
  }
  return out;
}

template <typename Module>
void load_into(Module& module, const ModelFiles& files, const std::string& folder) {
  const auto problems = test::load_strict(*module, files.weights);
  if (!problems.empty()) throw std::runtime_error("loading " + folder + ":\n" + problems);
  module->eval();
}

// Replays a case's input.step_noise: draw i is step i's noise.
class ReplayedStepNoise : public StepNoise {
 public:
  explicit ReplayedStepNoise(torch::Tensor draws) : draws_(std::move(draws)) {}
  torch::Tensor next(const torch::Tensor& like) override {
    if (!draws_.defined() || used_ >= draws_.size(0))
      throw std::runtime_error("the sampler drew more step noise than the reference (" + std::to_string(used_) + ")");
    return draws_[used_++].to(like.device(), like.scalar_type());
  }
  int64_t used() const { return used_; }

 private:
  torch::Tensor draws_;
  int64_t used_ = 0;
};

// The case's conditioning: per prompt, the encoders' outputs concatenated along the width
// (SD: last_hidden_state; SDXL: the penultimate layer, no final LayerNorm), and the pooled
// text_embeds of the encoder that has a projection.
struct Conditioning {
  torch::Tensor embeds;
  torch::Tensor pooled;
};

Conditioning encode(const json& case_entry, const json& models, const TensorMap& inputs, const std::string& ids_name) {
  const bool sdxl = case_entry.at("family") == "sdxl";
  std::vector<torch::Tensor> parts;
  Conditioning out;
  int index = 0;
  for (const auto& te : case_entry.at("models").at("text_encoders")) {
    const auto folder = te.at("dir").get<std::string>();
    const auto files = model_files(models, folder);
    CLIPTextModel model(clip_text_config_from_hf(files.config, folder + "/config.json"));
    load_into(model, files, folder);
    const auto& ids = inputs.at(index == 0 ? ids_name : ids_name + "_2");
    auto result = model->forward(ids);
    parts.push_back(sdxl ? model->skip_hidden_state(result, 2, false) : result.last_hidden_state);
    if (result.text_embeds.defined()) out.pooled = result.text_embeds;
    ++index;
  }
  out.embeds = torch::cat(parts, -1);
  return out;
}

// `max|actual - expected| <= tol * max|expected|`, per step slice for the [steps, ...] stacks.
std::string compare(const std::string& name, const torch::Tensor& actual_in, const torch::Tensor& expected,
                    double tolerance_rel, bool per_step) {
  if (!actual_in.defined()) return name + ": not produced";
  auto actual = actual_in.detach().to(torch::kFloat64).reshape(expected.sizes());
  const int64_t slices = per_step ? expected.size(0) : 1;
  std::ostringstream report;
  for (int64_t i = 0; i < slices; ++i) {
    auto e = per_step ? expected[i] : expected;
    auto a = per_step ? actual[i] : actual;
    const double scale = e.abs().max().item<double>();
    const double max_diff = (a - e).abs().max().item<double>();
    if (std::getenv("LATHE_PARITY_VERBOSE"))
      std::cout << "  " << name << (per_step ? "[" + std::to_string(i) + "]" : "") << ": "
                << max_diff / scale << " relative (tolerance " << tolerance_rel << ")\n";
    if (std::isfinite(max_diff) && max_diff <= tolerance_rel * scale) continue;
    report << name << (per_step ? " step " + std::to_string(i) : "") << ": max |actual - expected| = " << max_diff
           << " > " << tolerance_rel << " x " << scale << " (" << max_diff / scale << " relative)";
    auto flat_a = a.reshape({-1}), flat_e = e.reshape({-1});
    auto worst = (flat_a - flat_e).abs().argmax().item<int64_t>();
    report << "; worst element [" << worst << "] actual " << flat_a[worst].item<double>() << " expected "
           << flat_e[worst].item<double>() << "\n";
    if (per_step) break;  // later steps inherit the first divergence
  }
  return report.str();
}

class SamplerParityTest : public testing::TestWithParam<std::string> {};

TEST_P(SamplerParityTest, MatchesDiffusers) {
  if (GetParam().empty())
    GTEST_SKIP() << "no sampler fixtures at " << sampler_manifest_path().string()
                 << " (set LATHE_PARITY_FIXTURES to the folder that holds samplers/manifest.json)";
  const auto manifest = read_json(sampler_manifest_path());
  const auto models = read_json(fixtures_dir() / "manifest.json").at("models");
  json case_entry;
  for (const auto& c : manifest.at("cases"))
    if (c.at("id") == GetParam()) case_entry = c;
  const auto inputs = test::read_tensors(fixtures_dir() / case_entry.at("file").get<std::string>());
  torch::NoGradGuard no_grad;

  SamplerConfig config;
  config.kind = sampler_from_string(case_entry.at("sampler"), "manifest sampler");
  config.steps = case_entry.at("num_inference_steps");
  config.prediction = prediction_from_string(case_entry.at("prediction_type"), "manifest prediction_type");
  config.steps_offset = case_entry.at("scheduler").at("config").at("steps_offset");
  const auto& scheduler_config = case_entry.at("scheduler").at("config");
  ASSERT_EQ(scheduler_config.at("timestep_spacing"), "leading");
  ASSERT_EQ(scheduler_config.at("beta_schedule"), "scaled_linear");
  ASSERT_EQ(scheduler_config.value("rescale_betas_zero_snr", false), false);
  NoiseScheduleConfig schedule_config;
  schedule_config.num_timesteps = scheduler_config.at("num_train_timesteps");
  schedule_config.beta_start = scheduler_config.at("beta_start");
  schedule_config.beta_end = scheduler_config.at("beta_end");
  const NoiseSchedule schedule(schedule_config);

  // The schedule the reference ran with.
  const auto plan = inference_schedule(schedule, config);
  EXPECT_TRUE(torch::equal(plan.timesteps, inputs.at("schedule.timesteps")))
      << "timesteps " << plan.timesteps << " expected " << inputs.at("schedule.timesteps");
  if (inputs.count("schedule.sigmas")) {
    ASSERT_TRUE(plan.sigmas.defined());
    EXPECT_TRUE(torch::allclose(plan.sigmas, inputs.at("schedule.sigmas"), 1e-6, 0))
        << "sigmas " << plan.sigmas << " expected " << inputs.at("schedule.sigmas");
  }
  const double init_noise_sigma = inputs.at("schedule.init_noise_sigma").item<double>();
  // 1e-6 relative like the sigmas: float32 cumprod rounds differently between machines (the
  // fixture's alphas_cumprod and Lathe's differ in the last bit here and there).
  EXPECT_NEAR(plan.init_noise_sigma, init_noise_sigma, 1e-6 * init_noise_sigma);
  EXPECT_TRUE(torch::allclose(schedule.alphas_cumprod(), inputs.at("schedule.alphas_cumprod"), 1e-6, 0));

  // Conditioning, batch [uncond, cond].
  TensorMap produced;
  const auto prompt = encode(case_entry, models, inputs, "input.prompt_ids");
  Conditioning negative;
  if (case_entry.at("negative_conditioning") == "zeros") {
    negative = {torch::zeros_like(prompt.embeds), prompt.pooled.defined() ? torch::zeros_like(prompt.pooled) : torch::Tensor()};
  } else {
    negative = encode(case_entry, models, inputs, "input.negative_prompt_ids");
    produced["f64.negative_prompt_embeds"] = negative.embeds;
    produced["f64.negative_pooled_prompt_embeds"] = negative.pooled;
  }
  produced["f64.prompt_embeds"] = prompt.embeds;
  produced["f64.pooled_prompt_embeds"] = prompt.pooled;
  const auto context = torch::cat({negative.embeds, prompt.embeds});

  const auto unet_folder = case_entry.at("models").at("unet").get<std::string>();
  const auto unet_files = model_files(models, unet_folder);
  UNet unet(unet_config_from_diffusers(unet_files.config, unet_folder + "/config.json"));
  load_into(unet, unet_files, unet_folder);
  torch::Tensor added;  // SDXL: pooled text embeds and size/crop time ids
  if (inputs.count("input.add_time_ids"))
    added = unet->sdxl_vector(torch::cat({negative.pooled, prompt.pooled}), inputs.at("input.add_time_ids"));

  const double guidance = case_entry.at("guidance_scale");
  std::vector<torch::Tensor> unet_outputs, noise_preds, latents;
  const Denoiser denoiser = [&](const torch::Tensor& x_in, const torch::Tensor& timestep) {
    auto out = unet->forward(torch::cat({x_in, x_in}), timestep.expand({2}), context, added);
    unet_outputs.push_back(out);
    noise_preds.push_back(guide(out.slice(0, 0, 1), out.slice(0, 1, 2), guidance));
    return noise_preds.back();
  };
  ReplayedStepNoise step_noise(inputs.count("input.step_noise") ? inputs.at("input.step_noise") : torch::Tensor());
  const auto& noise = inputs.at("input.noise");
  const auto final_latent = sample(schedule, config, noise, denoiser, step_noise,
                                   [&](int64_t, int64_t, const torch::Tensor& x) {
                                     latents.push_back(x.clone());
                                     return true;
                                   });
  EXPECT_EQ(step_noise.used(), inputs.count("input.step_noise") ? inputs.at("input.step_noise").size(0) : 0)
      << "step noise draws";
  EXPECT_EQ(draws_step_noise(config.kind), step_noise.used() > 0);
  produced["f64.latents_init"] = noise * plan.init_noise_sigma;
  produced["f64.unet_output"] = torch::stack(unet_outputs);
  produced["f64.noise_pred"] = torch::stack(noise_preds);
  produced["f64.latents"] = torch::stack(latents);
  produced["f64.final_latent"] = final_latent;

  const auto vae_folder = case_entry.at("models").at("vae").get<std::string>();
  const auto vae_files = model_files(models, vae_folder);
  VAE vae(vae_config_from_diffusers(vae_files.config, vae_folder + "/config.json"));
  load_into(vae, vae_files, vae_folder);
  produced["f64.image"] = vae->decode(final_latent / case_entry.at("vae_scaling_factor").get<double>());

  int checked = 0;
  for (const auto& e : case_entry.at("expected").items()) {
    ASSERT_TRUE(inputs.count(e.key())) << e.key() << " is in the manifest but not in " << case_entry.at("file");
    auto it = produced.find(e.key());
    if (it == produced.end() || !it->second.defined()) {
      ADD_FAILURE() << GetParam() << ": expected tensor " << e.key() << " is not produced by Lathe";
      continue;
    }
    const bool per_step = e.value().value("rule", std::string()) == "per step";
    EXPECT_EQ(compare(e.key(), it->second, inputs.at(e.key()), e.value().at("tolerance_rel"), per_step), "")
        << GetParam();
    ++checked;
  }
  EXPECT_GE(checked, 7) << "too few expected tensors in " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SamplerParityTest, testing::ValuesIn(sampler_cases()), case_name);

}  // namespace
}  // namespace lathe
