// A tiny real training setup for `lathe train` tests: a dataset made on the spot (one concept
// of a few noise images with captions) and a profile on the tiny random SD 1.5-shaped model at
// 64 px, so a whole run takes seconds on a CPU. Plus helpers to read a run's status and wait.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "io/safetensors.h"
#include "runs/run_dir.h"
#include "runs/run_status.h"
#include "temp_dir.h"

namespace lathe::test {

inline std::filesystem::path make_tiny_dataset(const std::filesystem::path& root) {
  cv::RNG rng(1234);
  for (int i = 0; i < 3; ++i) {
    auto img_path = root / "2_lathecat" / fmt::format("img{}.png", i);
    std::filesystem::create_directories(img_path.parent_path());
    cv::Mat img(64, 64, CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    cv::imwrite(img_path.string(), img);
    write_text(root / "2_lathecat" / fmt::format("img{}.txt", i),
               fmt::format("lathecat, a photo, number {}", i));
  }
  return root;
}

// 3 images x 2 repeats = 6 steps per epoch at batch 1; `epochs` epochs; a checkpoint every
// 2 steps.
inline std::filesystem::path make_tiny_profile(const TempDir& dir, int epochs = 3,
                                               const std::string& extra = "") {
  auto data = make_tiny_dataset(dir / "data");
  auto profile = dir / "tiny.toml";
  write_text(profile, fmt::format(R"([model]
path = "tiny-random:sd15"

[dataset]
path = "{}"
min_bucket_reso = 64
max_bucket_reso = 128
bucket_reso_steps = 64

[network]
rank = 2
alpha = 2.0

[optimizer]
type = "adamw"
lr = 1e-3

[training]
epochs = {}
batch_size = 1
resolution = 64
seed = 11
device = "cpu"

[saving]
every_n_epochs = 1
every_n_steps = 2
precision = "fp32"
name = "tiny"
log_every_n_steps = 1
{}
)",
                                  data.string(), epochs, extra));
  return profile;
}

inline RunStatus status_of(const RunPaths& run) {
  return std::filesystem::exists(run.status()) ? read_run_status(run.status()) : RunStatus{};
}

template <typename Pred>
bool wait_until(Pred pred, int timeout_ms = 60000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// The only run of a runs folder.
inline RunPaths only_run(const std::filesystem::path& runs_root) {
  auto runs = list_runs(runs_root);
  if (runs.size() != 1)
    throw std::runtime_error(fmt::format("{} runs in {}", runs.size(), runs_root.string()));
  return runs[0];
}

// Empty when every tensor of the two files has the same name, dtype, shape and bytes;
// otherwise the first difference.
inline std::string tensor_difference(const std::filesystem::path& a,
                                     const std::filesystem::path& b) {
  SafetensorsFile fa(a), fb(b);
  if (fa.names() != fb.names()) return "different tensor names";
  for (const std::string& name : fa.names()) {
    TensorView va = fa.view(name), vb = fb.view(name);
    if (va.info->dtype != vb.info->dtype || va.info->shape != vb.info->shape)
      return name + ": shape/dtype";
    if (va.size != vb.size || std::memcmp(va.data, vb.data, va.size) != 0)
      return name + ": bytes differ";
  }
  return "";
}

}  // namespace lathe::test
