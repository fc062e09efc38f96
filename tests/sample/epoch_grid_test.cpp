// The epoch grid end to end on the tiny SD 1.5-shaped model: two LoRA files with different
// weights as two epochs, two prompts; the sheet has the layout's size, a parameters chunk
// naming the first cell, rows that differ (each row's LoRA is attached alone, then detached),
// columns that keep one seed down the rows; a stop asked for mid-way writes nothing; a missing
// epoch file is named before any model loads.
#include "sample/epoch_grid.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "common/error.h"
#include "common/interrupted.h"
#include "io/atomic_file.h"
#include "lora/lora_network.h"
#include "sample/contact_sheet.h"
#include "sample/png_text.h"
#include "temp_dir.h"
#include "train/config/train_config.h"
#include "train/model/base_model.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

// A LoRA file for the tiny model whose up weights are random (a fresh one changes nothing).
void write_lora(const fs::path& path, std::uint64_t seed) {
  ModelConfig config;
  config.path = "tiny-random:sd15";
  BaseModel model = load_base_model(config, torch::kCPU);
  LoRAOptions options;
  options.rank = 4;
  options.alpha = 4;
  LoRANetwork network(model.unet, model.text_encoders, model.family, options);
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : network->named_parameters())
    if (p.key().find("lora_up") != std::string::npos) p.value().normal_(0, 0.5);
  network->save(path, torch::kFloat32, {});
}

EpochGridJob tiny_job(const test::TempDir& tmp) {
  EpochGridJob job;
  job.sampling.model = "tiny-random:sd15";
  PromptSpec cat, dog;
  cat.prompt = "a photo of a cat";
  dog.prompt = "a photo of a dog";
  dog.seed = 99;  // a prompt's own seed holds for its whole column
  job.sampling.prompts = {cat, dog};
  job.sampling.defaults.width = job.sampling.defaults.height = 64;
  job.sampling.defaults.steps = 2;
  job.sampling.defaults.seed = 7;
  job.sampling.device = "cpu";
  job.sampling.dtype = "fp32";
  job.rows = {{tmp.path() / "demo-e0001.safetensors", "epoch 1\nloss 0.2000"},
              {tmp.path() / "demo-e0002.safetensors", "epoch 2\nloss 0.1000"}};
  job.out = tmp.path() / "grid.png";
  return job;
}

TEST(EpochGrid, RendersEveryEpochAndPromptIntoOneSheet) {
  test::TempDir tmp;
  write_lora(tmp.path() / "demo-e0001.safetensors", 1);
  write_lora(tmp.path() / "demo-e0002.safetensors", 2);
  EpochGridJob job = tiny_job(tmp);
  std::vector<ImageRequest> columns = run_epoch_grid(job, {});
  ASSERT_EQ(columns.size(), 2u);
  EXPECT_EQ(columns[0].seed, 7u);
  EXPECT_EQ(columns[1].seed, 99u);

  cv::Mat bgr = cv::imread(job.out.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(bgr.empty());
  ContactSheetInput shape;
  shape.row_labels = {job.rows[0].label, job.rows[1].label};
  shape.column_labels = {grid_column_label(columns[0]), grid_column_label(columns[1])};
  shape.cells.assign(4, cv::Mat(64, 64, CV_8UC3));
  const ContactSheetLayout l = contact_sheet_layout(shape);
  EXPECT_EQ(bgr.cols, l.width());
  EXPECT_EQ(bgr.rows, l.height());

  // The two epochs' LoRAs give different images of the same prompt and seed.
  EXPECT_GT(cv::norm(bgr(l.cell(0, 0)), bgr(l.cell(1, 0)), cv::NORM_L1), 0);
  EXPECT_GT(cv::norm(bgr(l.cell(0, 1)), bgr(l.cell(1, 1)), cv::NORM_L1), 0);

  std::string parameters;
  for (const auto& [key, text] : read_png_texts(read_file(job.out), job.out.string()))
    if (key == "parameters") parameters = text;
  EXPECT_NE(parameters.find("a photo of a cat"), std::string::npos) << parameters;
  EXPECT_NE(parameters.find("Seed: 7"), std::string::npos) << parameters;
  EXPECT_NE(parameters.find("demo-e0001"), std::string::npos) << parameters;

  // The second epoch's row equals a grid of that epoch alone: the first row's LoRA was
  // detached before the second was attached.
  EpochGridJob second = job;
  second.rows = {job.rows[1]};
  second.out = tmp.path() / "second.png";
  run_epoch_grid(second, {});
  cv::Mat alone = cv::imread(second.out.string(), cv::IMREAD_COLOR);
  ContactSheetInput one = shape;
  one.row_labels = {job.rows[1].label};
  one.cells.resize(2);
  const ContactSheetLayout l1 = contact_sheet_layout(one);
  EXPECT_EQ(cv::norm(bgr(l.cell(1, 0)), alone(l1.cell(0, 0)), cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(bgr(l.cell(1, 1)), alone(l1.cell(0, 1)), cv::NORM_INF), 0);
}

TEST(EpochGrid, StopWritesNothingAndMissingFilesAreNamed) {
  test::TempDir tmp;
  write_lora(tmp.path() / "demo-e0001.safetensors", 1);
  EpochGridJob job = tiny_job(tmp);
  job.rows.resize(1);
  SampleCallbacks stop;
  stop.on_step = [](const SampleProgress& p) { return p.done_steps < 3; };
  EXPECT_THROW(run_epoch_grid(job, stop), Interrupted);
  EXPECT_FALSE(fs::exists(job.out));

  job.rows.push_back({tmp.path() / "demo-e0009.safetensors", "epoch 9"});
  try {
    run_epoch_grid(job, {});
    FAIL() << "a missing epoch file was not reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("demo-e0009.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(job.out));
}

}  // namespace
}  // namespace lathe
