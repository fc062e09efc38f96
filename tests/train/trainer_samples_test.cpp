// Samples during training on the tiny random SD 1.5-shaped model: {activation} expansion and
// seeds, when samples are due, the state guard, and the promise of trainer.h: a run with
// samples on ends with the same LoRA tensors as the same run with samples off, and a run
// killed mid-epoch and resumed with samples on ends with the same tensors and renders the
// same images as an uninterrupted one (LoRA dropout, caption shuffle, flips, gradient
// accumulation and Euler a's step noise all on, so every random stream is exercised).
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <ATen/autocast_mode.h>

#include "dataset/dataset.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"
#include "train/loop/sampling_state_guard.h"
#include "train/loop/training_samples.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::vector<std::string> kRandomEverything = {"network.dropout=0.1", "dataset.shuffle_caption=true",
                                                    "dataset.flip=true", "training.gradient_accumulation_steps=2"};

// Three images (two from {activation}: one per concept) at the start, every 3 steps and at
// epoch ends: steps 0, 3, 5, 6, 9 and 10 of the 10-step run.
const std::vector<std::string> kSampling = {
    "sample.prompts=[\"{activation}, white background\", \"a shape --n blurry --d 99\"]",
    "sample.every_n_steps=3", "sample.every_n_epochs=1", "sample.at_start=true", "sample.steps=3",
    "sample.sampler=euler_a"};

std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<const TrainProgress*> samples_of(const test::Recorded& rec) {
  std::vector<const TrainProgress*> out;
  for (const auto& e : rec.events)
    if (e.kind == TrainProgress::Kind::Sample) out.push_back(&e);
  return out;
}

TEST(TrainingSamples, ActivationTagsExpandInConceptOrderWithSeedsByIndex) {
  TempDir dir;
  SampleConfig s;
  s.prompts = {"photo of {activation}, {activation} again --n ugly {activation}", "a tree --d 7 --w 128",
               "{activation} alone"};
  s.seed = 100;
  s.negative_prompt = "blurry";
  auto planned = plan_samples(s, {"redcat", "bluebot"}, 96, 64, 2);
  ASSERT_EQ(planned.size(), 5u);
  EXPECT_EQ(planned[0].request.prompt, "photo of redcat, redcat again");
  EXPECT_EQ(planned[0].request.negative, "ugly redcat");
  EXPECT_EQ(planned[1].request.prompt, "photo of bluebot, bluebot again");
  EXPECT_EQ(planned[2].request.prompt, "a tree");
  EXPECT_EQ(planned[2].request.negative, "blurry");  // [sample] negative_prompt
  EXPECT_EQ(planned[3].line, "redcat alone");
  EXPECT_EQ(planned[4].line, "bluebot alone");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(planned[i].index, i);
  EXPECT_EQ(planned[0].request.seed, 100u);
  EXPECT_EQ(planned[1].request.seed, 101u);
  EXPECT_EQ(planned[2].request.seed, 7u);  // --d wins
  EXPECT_EQ(planned[4].request.seed, 104u);
  EXPECT_EQ(planned[0].request.width, 96);  // the training resolution
  EXPECT_EQ(planned[0].request.height, 64);
  EXPECT_EQ(planned[2].request.width, 128);
  EXPECT_EQ(planned[0].request.clip_skip, 2);
  EXPECT_EQ(planned[0].request.steps, s.steps);
  s.width = 256;
  EXPECT_EQ(plan_samples(s, {"x"}, 96, 64, 1)[0].request.width, 256);

  // {activation} with no tag to put there is an error naming the prompt.
  try {
    plan_samples(s, {}, 64, 64, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample.prompts[1]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("activation_tag"), std::string::npos) << e.what();
  }
  s.prompts = {"no tag needed"};
  EXPECT_EQ(plan_samples(s, {}, 64, 64, 1).size(), 1u);
}

TEST(TrainingSamples, ActivationTagsOfADatasetSkipRegularisationConcepts) {
  Dataset d;
  Concept a, reg, b, same;
  a.activation_tag = "lathecat";
  reg.activation_tag = "woman";
  reg.is_regularization = true;
  b.activation_tag = "lathedog";
  same.activation_tag = "lathecat";
  d.concepts = {a, reg, b, same};
  EXPECT_EQ(concept_activation_tags(d), (std::vector<std::string>{"lathecat", "lathedog"}));
}

TEST(TrainingSamples, DueAtStepMultiplesAndEpochEnds) {
  SampleConfig s;
  s.prompts = {"x"};
  s.every_n_steps = 4;
  s.every_n_epochs = 2;
  EXPECT_TRUE(samples_due(s, 4, false, 0));
  EXPECT_FALSE(samples_due(s, 5, false, 0));
  EXPECT_FALSE(samples_due(s, 5, true, 1));  // epoch 1 ended: not a multiple of 2
  EXPECT_TRUE(samples_due(s, 10, true, 2));
  EXPECT_TRUE(samples_due(s, 8, true, 1));   // a step multiple that also ends an epoch
  EXPECT_FALSE(samples_due(SampleConfig{}, 4, true, 2));  // sampling off
}

TEST(TrainingSamples, StateGuardRestoresModesGradAutocastAndGenerators) {
  torch::nn::Sequential model(torch::nn::Linear(2, 2), torch::nn::Dropout(0.5));
  model->train();
  model[1]->eval();  // a mix of modes comes back as it was
  torch::manual_seed(5);
  const torch::Tensor expected = torch::rand({4});
  torch::manual_seed(5);
  {
    SamplingStateGuard guard({model.ptr()}, torch::kCPU);
    model->eval();
    torch::GradMode::set_enabled(false);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kHalf);
    torch::rand({1000});  // draws from the global generator
  }
  EXPECT_TRUE(model->is_training());
  EXPECT_TRUE(model[0]->is_training());
  EXPECT_FALSE(model[1]->is_training());
  EXPECT_TRUE(torch::GradMode::is_enabled());
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  EXPECT_EQ(at::autocast::get_autocast_dtype(at::kCPU), at::kBFloat16);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));  // the stream continues where it was
}

struct SampledRun {
  std::map<std::string, torch::Tensor> final_lora, epoch1;
  std::map<std::int64_t, std::vector<std::string>> pngs;  // step -> the images' bytes
  test::Recorded rec;
};

void collect(SampledRun& out, const fs::path& run, const TrainResult& r) {
  out.final_lora = test::read_lora(run / r.final_file);
  out.epoch1 = test::read_lora(run / "epochs/t-e0001.safetensors");
  for (const TrainProgress* p : samples_of(out.rec)) out.pngs[p->step].push_back(p->sample->png);
}

SampledRun train(const TrainConfig& config, const fs::path& run) {
  SampledRun out;
  Trainer trainer(config, run, test::recording(out.rec));
  collect(out, run, trainer.run());
  return out;
}

TEST(TrainerSamples, SamplesDoNotChangeTheLoRAAndResumeRendersTheSameImages) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  const TrainConfig off = test::tiny_config(tmp.path(), "tiny-random:sd15", kRandomEverything);
  const TrainConfig on = test::tiny_config(tmp.path(), "tiny-random:sd15", joined(kRandomEverything, kSampling));
  SampledRun without = train(off, tmp / "off");
  SampledRun with = train(on, tmp / "on");
  EXPECT_TRUE(samples_of(without.rec).empty());
  EXPECT_TRUE(test::identical(without.final_lora, with.final_lora));
  EXPECT_TRUE(test::identical(without.epoch1, with.epoch1));

  // What was rendered: 3 images at steps 0, 3, 5, 6, 9, 10; prompts 0 and 1 are the concepts'
  // activation tags, prompt 2 has its own seed.
  std::vector<const TrainProgress*> images = samples_of(with.rec);
  ASSERT_EQ(images.size(), 18u);
  std::vector<std::int64_t> steps;
  for (const auto& [step, pngs] : with.pngs) {
    steps.push_back(step);
    EXPECT_EQ(pngs.size(), 3u) << step;
  }
  EXPECT_EQ(steps, (std::vector<std::int64_t>{0, 3, 5, 6, 9, 10}));
  const SampleImage& first = *images[0]->sample;
  EXPECT_EQ(first.prompt_index, 0);
  EXPECT_EQ(first.seed, 42u);
  EXPECT_EQ(first.epochs_done, 0);
  EXPECT_EQ(images[1]->sample->seed, 43u);
  EXPECT_EQ(images[2]->sample->seed, 99u);
  EXPECT_EQ(images[2]->sample->prompt, "a shape --n blurry --d 99");
  std::vector<std::string> expanded = {images[0]->sample->prompt, images[1]->sample->prompt};
  std::sort(expanded.begin(), expanded.end());
  EXPECT_EQ(expanded, (std::vector<std::string>{"bluebot, white background", "redcat, white background"}));
  for (const TrainProgress* p : images) {
    const std::int64_t epochs_done = p->step >= 10 ? 2 : p->step >= 5 ? 1 : 0;
    EXPECT_EQ(p->sample->epochs_done, epochs_done) << "step " << p->step;
    EXPECT_GT(p->seconds, 0.0);
  }
  // Each is a 64x64 PNG with A1111's parameters.
  const std::string& png = images[2]->sample->png;
  cv::Mat decoded = cv::imdecode(cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
                                 cv::IMREAD_UNCHANGED);
  EXPECT_EQ(decoded.rows, 64);
  EXPECT_EQ(decoded.cols, 64);
  EXPECT_EQ(decoded.channels(), 3);
  const PngTexts texts = read_png_texts(png, "sample");
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0].first, "parameters");
  EXPECT_EQ(a1111_field(texts[0].second, "Seed"), "99");
  EXPECT_EQ(a1111_field(texts[0].second, "Negative prompt"), "blurry");
  EXPECT_EQ(a1111_field(texts[0].second, "Steps"), "3");
  EXPECT_EQ(a1111_field(texts[0].second, "Sampler"), "Euler a");
  // The LoRA moves the images: step 10's differ from the fresh LoRA's at step 0.
  EXPECT_NE(with.pngs[0][0], with.pngs[10][0]);
  // The run says where the time went.
  bool reported = false;
  for (const auto& m : with.rec.messages) reported |= m.find("not counted as training time") != std::string::npos;
  EXPECT_TRUE(reported);

  // Killed at step 8 (no stop, no save: an exception out of the progress callback), then
  // resumed from the newest checkpoint (step 5, the end of epoch 1) in a new Trainer.
  const fs::path split = tmp / "killed";
  {
    test::Recorded rec;
    TrainCallbacks cb = test::recording(rec);
    auto record = cb.on_progress;
    cb.on_progress = [record](const TrainProgress& p) {
      record(p);
      if (p.kind == TrainProgress::Kind::Step && p.step == 8) throw std::runtime_error("killed");
    };
    Trainer trainer(on, split, cb);
    EXPECT_THROW(trainer.run(), std::runtime_error);
  }
  auto latest = latest_checkpoint(split);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->filename(), "step-00000005");
  SampledRun resumed;
  {
    Trainer trainer(on, split, test::recording(resumed.rec));
    trainer.resume_from(*latest);
    collect(resumed, split, trainer.run());
  }
  EXPECT_TRUE(test::identical(with.final_lora, resumed.final_lora));
  // The resumed run rendered steps 6, 9 and 10 again, byte for byte as the uninterrupted run.
  std::vector<std::int64_t> resumed_steps;
  for (const auto& [step, pngs] : resumed.pngs) resumed_steps.push_back(step);
  EXPECT_EQ(resumed_steps, (std::vector<std::int64_t>{6, 9, 10}));
  for (std::int64_t step : resumed_steps) EXPECT_EQ(resumed.pngs[step], with.pngs[step]) << "step " << step;
}

}  // namespace
}  // namespace lathe
