// Data-pipeline speed per training sample, so it can be weighed against a step: decoding and
// preparing one photo-sized JPEG for a 512 px bucket (the uncached path every sample takes with
// cache_latents = "off"), hashing an image file's bytes for the latent-cache key, and planning
// one epoch's order over 10,000 images. Run: build-*/data_loading_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "dataset/bucket_plan.h"
#include "temp_dir.h"
#include "train/data/content_hash.h"
#include "train/data/epoch_order.h"
#include "train/data/training_image.h"

namespace {

namespace fs = std::filesystem;

// A 1024 x 768 JPEG with some structure (gradients and circles), about what a phone photo
// downscaled for a dataset looks like to the decoder.
struct Photo {
  lathe::test::TempDir dir;
  fs::path path = dir / "photo.jpg";
  Photo() {
    cv::Mat m(768, 1024, CV_8UC3);
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x)
        m.at<cv::Vec3b>(y, x) = cv::Vec3b(x % 256, y % 256, (x + y) % 256);
    for (int i = 0; i < 40; ++i)
      cv::circle(m, {(i * 97) % 1024, (i * 61) % 768}, 20 + i, cv::Scalar(i * 6, 255 - i * 6, 128),
                 3);
    cv::imwrite(path.string(), m, {cv::IMWRITE_JPEG_QUALITY, 92});
  }
};

void BM_LoadTrainingImage(benchmark::State& state) {
  Photo photo;
  lathe::BucketSelector selector(lathe::BucketSettings{});
  const lathe::BucketAssignment a = selector.select(1024, 768);  // 576 x 448 at 512 px
  const lathe::ImageView view{a.crop_left, a.crop_top, true};
  for (auto _ : state) benchmark::DoNotOptimize(lathe::load_training_image(photo.path, a, view));
  state.SetLabel(fmt::format("1024x768 JPEG -> {}x{}", a.bucket.width, a.bucket.height));
}
BENCHMARK(BM_LoadTrainingImage)->Unit(benchmark::kMillisecond);

void BM_ContentHash(benchmark::State& state) {
  std::string bytes(static_cast<std::size_t>(state.range(0)), '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 2654435761u >> 13);
  for (auto _ : state) benchmark::DoNotOptimize(lathe::content_hash(bytes));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ContentHash)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

void BM_EpochBatches(benchmark::State& state) {
  lathe::Dataset ds;
  lathe::Concept c;
  c.repeats = 10;
  for (int i = 0; i < 10000; ++i) {
    lathe::Item it;
    it.image_path = fmt::format("{}.png", i);
    it.image.ok = true;
    it.image.width = 512 + (i % 7) * 64;
    it.image.height = 512 + (i % 5) * 64;
    c.items.push_back(it);
  }
  ds.concepts.push_back(c);
  const lathe::BucketPlan plan =
      lathe::plan_buckets(ds, lathe::BucketSettings{}, 4, lathe::RemainderPolicy::Pad);
  std::int64_t epoch = 0;
  for (auto _ : state) benchmark::DoNotOptimize(lathe::epoch_batches(plan, 42, epoch++));
  state.SetLabel("10,000 images x 10 repeats, batch 4");
}
BENCHMARK(BM_EpochBatches)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
