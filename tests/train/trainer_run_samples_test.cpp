// Samples in a run folder, through the run worker and the real trainer on the tiny random
// model: PNGs in samples/ under the names runs/sample_files.h reads, a "sample" line in
// metrics.jsonl for each, the same PNGs as TensorBoard image summaries beside the scalars,
// the sampling time in status.json and log.txt apart from training time, and a resume that
// drops the samples after its checkpoint and renders them again.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "io/atomic_file.h"
#include "runs/metrics_log.h"
#include "runs/run_recorder.h"
#include "runs/run_dir.h"
#include "runs/run_status.h"
#include "runs/run_worker.h"
#include "runs/sample_files.h"
#include "runs/tensorboard_events.h"
#include "trainer_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::vector<ImageEvent> image_events(const RunPaths& run) {
  std::vector<ImageEvent> out;
  for (const auto& e : fs::directory_iterator(run.dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      for (auto& ev : read_image_events(e.path())) out.push_back(std::move(ev));
  return out;
}

TEST(TrainerRunSamples, SamplesLandInTheRunFolderMetricsAndTensorBoard) {
  TempDir tmp;
  test::write_dataset(tmp.path());
  const TrainConfig config = test::tiny_config(
      tmp.path(), "tiny-random:sd15",
      {"training.epochs=1", "sample.prompts=[\"{activation}\", \"a shape\"]", "sample.every_n_steps=4",
       "sample.steps=2", "sample.seed=7"});
  RunPaths run = create_run_dir(tmp / "runs", "samples", 1795300000);
  write_file_atomic(run.profile(), render_profile_toml(config));
  WorkerOptions options;
  options.handle_signals = false;
  WorkerOutcome out = run_worker(run, options);
  ASSERT_EQ(out.state, RunState::Done) << out.error;

  // 10 steps: samples at steps 4 and 8, three prompts each (two activation tags, one plain).
  const std::vector<SampleFile> files = list_samples(run.dir);
  ASSERT_EQ(files.size(), 6u);
  std::set<std::int64_t> steps;
  for (const SampleFile& f : files) {
    steps.insert(f.step);
    EXPECT_EQ(f.epoch, 0);
    EXPECT_EQ(f.seed, 7u + static_cast<std::uint64_t>(f.prompt_index));
    EXPECT_EQ(f.path.parent_path(), run.samples());
  }
  EXPECT_EQ(steps, (std::set<std::int64_t>{4, 8}));
  EXPECT_EQ(files[0].path.filename(), "step000004-epoch000-prompt00-seed7.png");

  const RunMetrics metrics = read_metrics(run.metrics());
  ASSERT_EQ(metrics.samples.size(), 6u);
  EXPECT_EQ(metrics.steps.size(), 10u);
  double sampling = 0;
  for (const SampleMetric& m : metrics.samples) {
    EXPECT_TRUE(fs::exists(run.dir / m.file)) << m.file;
    EXPECT_EQ(parse_sample_name(m.file)->prompt_index, m.prompt_index);
    EXPECT_GT(m.seconds, 0.0);
    sampling += m.seconds;
  }
  EXPECT_EQ(metrics.samples[2].prompt, "a shape");

  // TensorBoard: one image tag per prompt, the PNG bytes of the files.
  const std::vector<ImageEvent> images = image_events(run);
  ASSERT_EQ(images.size(), 6u);
  for (const ImageEvent& ev : images) {
    EXPECT_EQ(ev.width, 64);
    EXPECT_EQ(ev.height, 64);
    EXPECT_EQ(ev.colorspace, 3);
    const int prompt = std::stoi(ev.tag.substr(std::string("samples/prompt").size()));
    const std::string file = fmt::format("samples/step{:06}-epoch000-prompt{:02}-seed{}.png", ev.step, prompt, 7 + prompt);
    EXPECT_EQ(ev.encoded, read_file(run.dir / file)) << ev.tag << " step " << ev.step;
  }

  // The time: summed in status.json, and training time (runs show) leaves it out.
  const RunStatus status = read_run_status(run.status());
  EXPECT_NEAR(status.sampling_seconds, sampling, 1e-6);
  EXPECT_EQ(status.last_sample, metrics.samples.back().file);
  const std::string log = read_file(run.log());
  EXPECT_NE(log.find("samples at step 8: 3 of 3 images in"), std::string::npos) << log;
  EXPECT_NE(log.find("sample samples/step000008-epoch000-prompt02-seed9.png (64x64, seed 9)"), std::string::npos) << log;

  // A resume from step 4's state cuts everything after it, samples included.
  RunStatus resumed_status = status;
  const RunLog resumed_log(run.log(), {});
  RunRecorder recorder(run, resumed_status, resumed_log, 0);
  recorder.restart_at(4);
  EXPECT_EQ(list_samples(run.dir).size(), 3u);
  EXPECT_EQ(read_metrics(run.metrics()).samples.size(), 3u);
  EXPECT_EQ(image_events(run).size(), 3u);
}

}  // namespace
}  // namespace lathe
