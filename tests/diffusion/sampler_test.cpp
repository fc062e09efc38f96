// The sampler loop without models: sampler names (Lathe's, kohya's, A1111's) and their errors,
// guide() arithmetic, the step callback and early stop, step noise draws, a denoiser of the
// wrong shape, and an oracle denoiser that knows the clean latents: every sampler, in epsilon
// and in v-prediction, must then end on them (DDIM up to its last step's alphas_cumprod[0]).
#include "diffusion/sampler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace lathe {
namespace {

constexpr SamplerKind kAllKinds[] = {SamplerKind::DDIM,    SamplerKind::Euler,         SamplerKind::EulerAncestral,
                                     SamplerKind::DPMPP2M, SamplerKind::DPMPP2MKarras, SamplerKind::DDPM};

std::string error_of(const std::string& name) {
  try {
    sampler_from_string(name, "sample.sampler");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SamplerNames, RoundTripThroughLatheAndA1111Names) {
  for (auto kind : kAllKinds) {
    EXPECT_EQ(sampler_from_string(to_string(kind), "k"), kind) << to_string(kind);
    EXPECT_EQ(sampler_from_string(a1111_name(kind), "k"), kind) << a1111_name(kind);
  }
  EXPECT_EQ(to_string(SamplerKind::EulerAncestral), "euler_a");
  EXPECT_EQ(to_string(SamplerKind::DPMPP2MKarras), "dpmpp_2m_karras");
  EXPECT_EQ(a1111_name(SamplerKind::EulerAncestral), "Euler a");
  EXPECT_EQ(a1111_name(SamplerKind::DPMPP2MKarras), "DPM++ 2M Karras");
  EXPECT_EQ(a1111_name(SamplerKind::DDIM), "DDIM");
}

TEST(SamplerNames, KohyaSpellingsAndCase) {
  EXPECT_EQ(sampler_from_string("k_euler_a", "k"), SamplerKind::EulerAncestral);
  EXPECT_EQ(sampler_from_string("k_euler", "k"), SamplerKind::Euler);
  EXPECT_EQ(sampler_from_string("dpmsolver++", "k"), SamplerKind::DPMPP2M);
  EXPECT_EQ(sampler_from_string("EULER_A", "k"), SamplerKind::EulerAncestral);
  EXPECT_EQ(sampler_from_string("dpm++ 2m karras", "k"), SamplerKind::DPMPP2MKarras);
}

TEST(SamplerNames, UnknownNameErrorNamesKeyValueAndChoices) {
  const auto message = error_of("eulerr");
  EXPECT_NE(message.find("sample.sampler"), std::string::npos) << message;
  EXPECT_NE(message.find("\"eulerr\""), std::string::npos) << message;
  EXPECT_NE(message.find("ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, ddpm"), std::string::npos) << message;
  EXPECT_NE(error_of("").find("sample.sampler"), std::string::npos);
}

TEST(SamplerNames, KohyaSamplersLatheLacksAreNamedAsSuch) {
  const auto message = error_of("heun");
  EXPECT_NE(message.find("sample.sampler"), std::string::npos) << message;
  EXPECT_NE(message.find("not one Lathe has"), std::string::npos) << message;
}

TEST(SamplerNames, StepNoiseSamplers) {
  for (auto kind : kAllKinds)
    EXPECT_EQ(draws_step_noise(kind), kind == SamplerKind::EulerAncestral || kind == SamplerKind::DDPM);
}

TEST(Guide, UncondPlusScaleTimesDifference) {
  const auto uncond = torch::tensor({1.0f, -2.0f, 0.5f});
  const auto cond = torch::tensor({3.0f, -2.0f, -0.5f});
  EXPECT_TRUE(torch::allclose(guide(uncond, cond, 7.0), torch::tensor({15.0f, -2.0f, -6.5f})));
  EXPECT_TRUE(torch::equal(guide(uncond, cond, 1.0), cond));
  EXPECT_TRUE(torch::equal(guide(uncond, cond, 0.0), uncond));
  EXPECT_TRUE(torch::allclose(guide(uncond, cond, -1.0), torch::tensor({-1.0f, -2.0f, 1.5f})));
}

// Counts draws; each is a constant so a test can see it in the latents.
class CountingNoise : public StepNoise {
 public:
  torch::Tensor next(const torch::Tensor& like) override {
    ++draws;
    return torch::full_like(like, 0.25);
  }
  int64_t draws = 0;
};

// The exact model output for latents whose clean value is x0: with x_in in VP coordinates
// (alpha x0 + sigma_t eps, which every sampler hands the UNet), eps = (x_in - alpha x0) / sigma_t.
Denoiser oracle(const NoiseSchedule& schedule, Prediction prediction, torch::Tensor x0, int* calls) {
  return [&schedule, prediction, x0, calls](const torch::Tensor& x_in, const torch::Tensor& timestep) {
    ++*calls;
    const auto t = static_cast<int64_t>(std::llround(timestep.item<double>()));
    const double a = schedule.alphas_cumprod()[t].item<double>();
    const auto eps = (x_in - std::sqrt(a) * x0) / std::sqrt(1.0 - a);
    if (prediction == Prediction::Epsilon) return eps;
    return std::sqrt(a) * eps - std::sqrt(1.0 - a) * x0;
  };
}

TEST(Sample, OracleDenoiserLeadsEverySamplerToTheCleanLatents) {
  const NoiseSchedule schedule;
  torch::manual_seed(3);
  const auto x0 = torch::randn({1, 4, 8, 8}) * 0.5;
  const auto noise = torch::randn({1, 4, 8, 8});
  for (auto prediction : {Prediction::Epsilon, Prediction::VPrediction}) {
    for (auto kind : kAllKinds) {
      SamplerConfig config;
      config.kind = kind;
      config.steps = 12;
      config.prediction = prediction;
      int calls = 0;
      CountingNoise step_noise;
      const auto out = sample(schedule, config, noise, oracle(schedule, prediction, x0, &calls), step_noise);
      const auto label = to_string(kind) + " " + to_string(prediction);
      EXPECT_EQ(calls, 12) << label;
      EXPECT_EQ(step_noise.draws, draws_step_noise(kind) ? 12 : 0) << label;
      EXPECT_EQ(out.scalar_type(), torch::kFloat32) << label;
      // DDIM's last step lands on alphas_cumprod[0] = 1 - 0.00085 and keeps the noise the
      // oracle saw at the first step: x = sqrt(acp0) x0 + sqrt(1 - acp0) eps_first.
      const auto plan = inference_schedule(schedule, config);
      const double a_first = schedule.alphas_cumprod()[plan.timesteps[0].item<int64_t>()].item<double>();
      const auto eps_first = (noise - std::sqrt(a_first) * x0) / std::sqrt(1.0 - a_first);
      const auto expected =
          kind == SamplerKind::DDIM ? std::sqrt(1.0 - 0.00085) * x0 + std::sqrt(0.00085) * eps_first : x0;
      const double err = (out - expected).abs().max().item<double>();
      EXPECT_LT(err, 2e-4) << label;
    }
  }
}

TEST(Sample, CallbackSeesEveryStepAndFalseStops) {
  const NoiseSchedule schedule;
  SamplerConfig config;
  config.kind = SamplerKind::Euler;
  config.steps = 6;
  int calls = 0;
  CountingNoise step_noise;
  std::vector<int64_t> seen;
  const auto noise = torch::randn({1, 4, 8, 8});
  const auto x0 = torch::zeros({1, 4, 8, 8});
  torch::Tensor last_reported;
  const auto out = sample(schedule, config, noise, oracle(schedule, Prediction::Epsilon, x0, &calls), step_noise,
                          [&](int64_t step, int64_t steps, const torch::Tensor& latents) {
                            EXPECT_EQ(steps, 6);
                            seen.push_back(step);
                            last_reported = latents;
                            return step < 2;
                          });
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(torch::equal(out, last_reported));
  EXPECT_GT(out.abs().max().item<double>(), 0.01) << "stopped early, so still noisy";
}

TEST(Sample, DenoiserOfTheWrongShapeIsAnError) {
  const NoiseSchedule schedule;
  SamplerConfig config;
  config.kind = SamplerKind::DDIM;
  CountingNoise step_noise;
  const Denoiser wrong = [](const torch::Tensor& x, const torch::Tensor&) { return x.slice(1, 0, 3); };
  try {
    sample(schedule, config, torch::randn({1, 4, 8, 8}), wrong, step_noise);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 3, 8, 8]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[1, 4, 8, 8]"), std::string::npos) << e.what();
  }
}

TEST(Sample, DenoiserGetsTimestepsAsDiffusersPassesThem) {
  const NoiseSchedule schedule;
  for (auto kind : kAllKinds) {
    SamplerConfig config;
    config.kind = kind;
    config.steps = 4;
    const auto plan = inference_schedule(schedule, config);
    std::vector<torch::Tensor> seen;
    CountingNoise step_noise;
    const Denoiser record = [&](const torch::Tensor& x, const torch::Tensor& t) {
      seen.push_back(t);
      return torch::zeros_like(x);
    };
    sample(schedule, config, torch::randn({1, 4, 8, 8}), record, step_noise);
    ASSERT_EQ(seen.size(), 4u);
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].sizes(), (std::vector<int64_t>{1}));
      EXPECT_EQ(seen[i].scalar_type(), plan.timesteps.scalar_type());
      EXPECT_EQ(seen[i].item<double>(), plan.timesteps[static_cast<int64_t>(i)].item<double>());
    }
  }
}

TEST(Sample, EulerScalesTheModelInputAndTheInitialNoise) {
  const NoiseSchedule schedule;
  SamplerConfig config;
  config.kind = SamplerKind::Euler;
  config.steps = 4;
  const auto plan = inference_schedule(schedule, config);
  const auto noise = torch::ones({1, 4, 2, 2});
  torch::Tensor first_input;
  CountingNoise step_noise;
  sample(schedule, config, noise,
         [&](const torch::Tensor& x, const torch::Tensor&) {
           if (!first_input.defined()) first_input = x.clone();
           return torch::zeros_like(x);
         },
         step_noise);
  const double sigma = plan.sigmas[0].item<double>();
  // x = noise * sqrt(sigma^2 + 1), then the UNet sees x / sqrt(sigma^2 + 1) = noise.
  EXPECT_NEAR(plan.init_noise_sigma, std::sqrt(sigma * sigma + 1.0), 1e-5);
  EXPECT_TRUE(torch::allclose(first_input, noise, 1e-5, 1e-6));
}

}  // namespace
}  // namespace lathe
