// `lathe sample`'s job: option helpers, seeds per prompt, output names that never overwrite,
// regularisation captions, and LoRA files applied through LoRANetwork (scale 0 = no LoRA,
// scale 1 changes the image, two files stack).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <torch/torch.h>

#include "common/error.h"
#include "io/atomic_file.h"
#include "lora/lora_network.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"
#include "sample/sample_job.h"
#include "train/model/base_model.h"
#include "temp_dir.h"

namespace lathe {
namespace {

TEST(SampleOptions, LoRAChoiceSizeAndConceptFolders) {
  EXPECT_EQ(parse_lora_choice("style.safetensors:0.5").path, "style.safetensors");
  EXPECT_DOUBLE_EQ(parse_lora_choice("style.safetensors:0.5").scale, 0.5);
  EXPECT_DOUBLE_EQ(parse_lora_choice("style.safetensors:-1").scale, -1.0);
  EXPECT_EQ(parse_lora_choice("odd:name.safetensors").path, "odd:name.safetensors");
  EXPECT_DOUBLE_EQ(parse_lora_choice("style.safetensors").scale, 1.0);
  EXPECT_THROW(parse_lora_choice("style.safetensors:inf"), Error);
  EXPECT_EQ(parse_image_size("512x768"), std::make_pair(int64_t{512}, int64_t{768}));
  EXPECT_THROW(parse_image_size("512"), Error);
  EXPECT_THROW(parse_image_size("512x"), Error);
  EXPECT_THROW(parse_image_size("-512x512"), Error);
  EXPECT_TRUE(is_concept_folder("reg/1_woman"));
  EXPECT_TRUE(is_concept_folder("reg/40_sks dog/"));
  EXPECT_FALSE(is_concept_folder("reg/woman"));
  EXPECT_FALSE(is_concept_folder("samples"));
}

TEST(SampleOptions, SeedsCountUpPerPromptAndPromptsOverrideDefaults) {
  SampleJob job;
  job.prompts = {parse_prompt_line("a cat", "t:1"), parse_prompt_line("a dog --d 100 --w 640 --s 5", "t:2")};
  job.defaults.seed = 5;
  job.defaults.width = job.defaults.height = 0;
  job.count = 3;
  auto r = expand_requests(job, 512);
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].seed, 5u);
  EXPECT_EQ(r[2].seed, 7u);
  EXPECT_EQ(r[0].width, 512);
  EXPECT_EQ(r[3].prompt, "a dog");
  EXPECT_EQ(r[3].seed, 100u);
  EXPECT_EQ(r[5].seed, 102u);
  EXPECT_EQ(r[3].width, 640);
  EXPECT_EQ(r[3].height, 512);
  EXPECT_EQ(r[3].steps, 5);
  job.count = 0;
  EXPECT_THROW(expand_requests(job, 512), Error);
}

TEST(SampleOptions, NextIndexContinuesAfterTheHighest) {
  test::TempDir dir;
  EXPECT_EQ(next_image_index(dir.path()), 0);
  test::write_text(dir / "00000-5.png", "x");
  test::write_text(dir / "00007-1.png", "x");
  test::write_text(dir / "notes.png", "x");
  EXPECT_EQ(next_image_index(dir.path()), 8);
  EXPECT_EQ(image_path(dir.path(), 8, 42), dir / "00008-42.png");
  EXPECT_EQ(next_image_index(dir / "absent"), 0);
}

SampleJob tiny_job(const std::filesystem::path& out) {
  SampleJob job;
  job.model = "tiny-random:sd15";
  job.prompts = {parse_prompt_line("photo of a woman", "--prompt")};
  job.defaults.width = job.defaults.height = 64;
  job.defaults.steps = 2;
  job.defaults.seed = 5;
  job.out_dir = out;
  job.device = "cpu";
  job.dtype = "fp32";
  return job;
}

cv::Mat pixels(const std::filesystem::path& png) {
  std::string bytes = read_file(png);
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
}

bool same_pixels(const std::filesystem::path& a, const std::filesystem::path& b) {
  return cv::norm(pixels(a), pixels(b), cv::NORM_INF) == 0;
}

TEST(SampleJobRun, RegularisationFolderGetsCaptionsAndNothingIsOverwritten) {
  test::TempDir dir;
  SampleJob job = tiny_job(dir / "reg" / "1_woman");
  job.captions = is_concept_folder(job.out_dir);
  job.count = 2;
  int steps_seen = 0;
  SampleCallbacks callbacks;
  callbacks.on_step = [&](const SampleProgress& p) {
    ++steps_seen;
    EXPECT_EQ(p.total_steps, 4);
    return true;
  };
  auto written = run_sample_job(job, callbacks);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(steps_seen, 4);
  EXPECT_EQ(written[0], dir / "reg" / "1_woman" / "00000-5.png");
  EXPECT_EQ(written[1], dir / "reg" / "1_woman" / "00001-6.png");
  EXPECT_EQ(read_file(dir / "reg" / "1_woman" / "00000-5.txt"), "photo of a woman");
  const std::string params = read_png_texts(read_file(written[1]), written[1].string()).at(0).second;
  EXPECT_EQ(a1111_field(params, "Prompt"), "photo of a woman");
  EXPECT_EQ(a1111_field(params, "Seed"), "6");
  EXPECT_EQ(a1111_field(params, "Steps"), "2");
  EXPECT_EQ(a1111_field(params, "Size"), "64x64");
  EXPECT_EQ(a1111_field(params, "Sampler"), "Euler a");
  EXPECT_EQ(a1111_field(params, "Model"), "tiny-random:sd15");
  // A second run adds after the existing files, and the same seed gives the same pixels.
  job.count = 1;
  auto again = run_sample_job(job, {});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], dir / "reg" / "1_woman" / "00002-5.png");
  EXPECT_TRUE(same_pixels(again[0], written[0]));
}

// A LoRA file for the tiny SD 1.5 model with nonzero up weights (a fresh network is a no-op).
std::filesystem::path make_lora(const std::filesystem::path& path, std::uint64_t seed) {
  BaseModel model = build_tiny_random_model(ModelFamily::SD1, std::nullopt);
  LoRAOptions options;
  options.rank = 2;
  options.alpha = 2;
  options.text_encoders = true;
  LoRANetwork network(model.unet, model.text_encoders, model.family, options);
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : network->named_parameters())
    if (p.key().find("lora_up") != std::string::npos) p.value().normal_(0, 0.5);
  network->save(path, torch::kFloat32, {});
  return path;
}

TEST(SampleJobRun, LoRAAtZeroIsTheBaseAtOneDiffersAndTwoStack) {
  test::TempDir dir;
  const auto lora_a = make_lora(dir / "a.safetensors", 1);
  const auto lora_b = make_lora(dir / "b.safetensors", 2);
  auto render_with = [&](const std::string& folder, std::vector<LoRAChoice> loras) {
    SampleJob job = tiny_job(dir / folder);
    job.loras = std::move(loras);
    return run_sample_job(job, {}).at(0);
  };
  const auto base = render_with("base", {});
  const auto zero = render_with("zero", {{lora_a, 0.0}});
  const auto one = render_with("one", {{lora_a, 1.0}});
  const auto both = render_with("both", {{lora_a, 1.0}, {lora_b, 1.0}});
  EXPECT_TRUE(same_pixels(base, zero));
  EXPECT_FALSE(same_pixels(base, one));
  EXPECT_FALSE(same_pixels(one, both));
  const std::string params = read_png_texts(read_file(both), both.string()).at(0).second;
  EXPECT_EQ(a1111_field(params, "Prompt"), "photo of a woman <lora:a:1> <lora:b:1>");
  EXPECT_EQ(a1111_field(params, "Lora hashes").size(), std::string("a: 123456789012, b: 123456789012").size());
}

TEST(SampleJobRun, MissingModelAndLoRAAreClearErrors) {
  test::TempDir dir;
  SampleJob job = tiny_job(dir / "out");
  job.model = (dir / "nope.safetensors").string();
  try {
    run_sample_job(job, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.safetensors: no such file"), std::string::npos) << e.what();
  }
  job = tiny_job(dir / "out");
  job.loras = {{dir / "missing.safetensors", 1.0}};
  EXPECT_THROW(run_sample_job(job, {}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

TEST(SampleProgressLine, ShowsImageStepBarRateAndEta) {
  SampleProgress p{1, 4, 5, 10, 15, 40};
  EXPECT_EQ(format_sample_progress(p, 5.0, 8), "image 2/4  step 5/10  [###.....]  3.00 it/s  ETA 0:08");
  SampleProgress start{0, 1, 0, 20, 0, 20};
  EXPECT_EQ(format_sample_progress(start, 0.0, 4), "image 1/1  step 0/20  [....]  - it/s  ETA -");
  SampleProgress slow{0, 1, 1, 20, 1, 20};
  EXPECT_EQ(format_sample_progress(slow, 4.0, 4), "image 1/1  step 1/20  [....]  4.00 s/it  ETA 1:16");
}

}  // namespace
}  // namespace lathe
