// Text to image on the tiny random SD 1.5 and SDXL models: a 64x64 image, reproducible from its
// seed, different for another seed, and rendering leaves the model's train flags, grad mode and
// torch's global generator as they were (samples during training must not change training).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "common/error.h"
#include "common/interrupted.h"
#include "sample/text_to_image.h"
#include "train/model/base_model.h"

namespace lathe {
namespace {

ImageRequest tiny_request(std::uint64_t seed, SamplerKind sampler = SamplerKind::EulerAncestral) {
  ImageRequest r;
  r.prompt = "a photo of a cat";
  r.negative = "blurry";
  r.width = r.height = 64;
  r.steps = 3;
  r.cfg = 5.0;
  r.sampler = sampler;
  r.seed = seed;
  return r;
}

torch::Tensor render(BaseModel& model, const ImageRequest& r) {
  RenderOptions options;
  return decode_image(model, render_latents(model, r, options), options);
}

class TextToImage : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(TextToImage, SameSeedSameBytesOtherSeedDiffers) {
  BaseModel model = build_tiny_random_model(GetParam(), std::nullopt);
  torch::Tensor a = render(model, tiny_request(1));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{64, 64, 3}));
  EXPECT_EQ(a.scalar_type(), torch::kUInt8);
  torch::Tensor again = render(model, tiny_request(1));
  EXPECT_TRUE(torch::equal(a, again));
  torch::Tensor other = render(model, tiny_request(2));
  EXPECT_FALSE(torch::equal(a, other));
}

INSTANTIATE_TEST_SUITE_P(Families, TextToImage, ::testing::Values(ModelFamily::SD1, ModelFamily::SDXL),
                         [](const auto& info) { return info.param == ModelFamily::SDXL ? "SDXL" : "SD15"; });

TEST(TextToImageState, LeavesTrainFlagsGradModeAndGlobalRngAlone) {
  BaseModel model = build_tiny_random_model(ModelFamily::SD1, std::nullopt);
  model.unet->train();
  model.text_encoders[0]->eval();
  model.unet->time_embed->eval();  // a mixed state comes back exactly
  torch::manual_seed(99);
  torch::Tensor expected_draw = torch::randn({4});
  torch::manual_seed(99);
  ASSERT_TRUE(torch::GradMode::is_enabled());
  render(model, tiny_request(3));
  EXPECT_TRUE(torch::GradMode::is_enabled());
  EXPECT_TRUE(model.unet->is_training());
  EXPECT_FALSE(model.unet->time_embed->is_training());
  EXPECT_TRUE(model.unet->out->is_training());
  EXPECT_FALSE(model.text_encoders[0]->is_training());
  EXPECT_TRUE(torch::equal(torch::randn({4}), expected_draw));
}

TEST(TextToImageState, EverySamplerRendersAndGuidanceOffWorks) {
  BaseModel model = build_tiny_random_model(ModelFamily::SD1, std::nullopt);
  for (SamplerKind kind : {SamplerKind::DDIM, SamplerKind::Euler, SamplerKind::EulerAncestral, SamplerKind::DPMPP2M,
                           SamplerKind::DPMPP2MKarras, SamplerKind::DDPM}) {
    torch::Tensor image = render(model, tiny_request(5, kind));
    EXPECT_EQ(image.sizes(), (std::vector<int64_t>{64, 64, 3})) << to_string(kind);
  }
  ImageRequest unguided = tiny_request(5);
  unguided.cfg = 1.0;
  EXPECT_FALSE(torch::equal(render(model, unguided), render(model, tiny_request(5))));
}

TEST(TextToImageState, InitialNoiseIsTheSeedsStream) {
  torch::Tensor a = initial_noise(7, 4, 64, 64);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{1, 4, 8, 8}));
  EXPECT_TRUE(torch::equal(a, initial_noise(7, 4, 64, 64)));
  // torch.randn with torch.Generator().manual_seed(7), as diffusers draws its latents.
  auto g = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(a, torch::randn({1, 4, 8, 8}, g)));
}

TEST(TextToImageState, BadSizeAndStopAreClear) {
  BaseModel model = build_tiny_random_model(ModelFamily::SD1, std::nullopt);
  ImageRequest r = tiny_request(1);
  r.width = 60;
  try {
    render(model, r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("60x64"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("multiples of 16"), std::string::npos) << e.what();
  }
  RenderOptions options;
  int calls = 0;
  options.on_step = [&](int64_t, int64_t, const torch::Tensor&) { return ++calls < 2; };
  model.unet->train();
  EXPECT_THROW(render_latents(model, tiny_request(1), options), Interrupted);
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(model.unet->is_training());  // restored on the way out too
}

}  // namespace
}  // namespace lathe
