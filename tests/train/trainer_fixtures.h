// Small training setups for the trainer tests: a generated two-concept dataset (OpenCV
// drawings with captions) in a TempDir, a profile for a tiny random model on it, and a
// Trainer driver that records the progress snapshots.
#pragma once

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/tensor_io.h"
#include "temp_dir.h"
#include "train/config/train_config.h"
#include "train/loop/trainer.h"

namespace lathe::test {

// Concept folder `folder` with `count` 64x64 drawings: red circles (shape 0) or blue squares
// (shape 1) at varying places, each with a caption.
inline void write_concept(const std::filesystem::path& folder, int count, int shape,
                          const std::string& tag) {
  std::filesystem::create_directories(folder);
  for (int i = 0; i < count; ++i) {
    cv::Mat m(64, 64, CV_8UC3, cv::Scalar(230, 230, 230));
    const cv::Point c(16 + (i * 7) % 32, 16 + (i * 11) % 32);
    if (shape == 0) cv::circle(m, c, 12, cv::Scalar(30, 30, 220), cv::FILLED);
    else cv::rectangle(m, c - cv::Point(10, 10), c + cv::Point(10, 10), cv::Scalar(220, 60, 30), cv::FILLED);
    const std::string stem = folder.string() + "/img" + std::to_string(i);
    cv::imwrite(stem + ".png", m);
    write_text(stem + ".txt", tag + ", " + (shape == 0 ? "red circle" : "blue square") + ", white background");
  }
}

// data/2_redcat (6 images), data/2_bluebot (4 images): 10 batches of 2 per epoch, val (2 red circles).
inline void write_dataset(const std::filesystem::path& root) {
  write_concept(root / "data" / "2_redcat", 6, 0, "redcat");
  write_concept(root / "data" / "2_bluebot", 4, 1, "bluebot");
  write_concept(root / "val", 2, 0, "redcat");
}

// A profile for `model` ("tiny-random:sd15" / "tiny-random:sdxl") on the dataset under root,
// with fp32 base weights on every machine (model.dtype "auto" would pick bf16 on the CPU).
// `extra` lines are appended as --set overrides ("training.max_steps=6").
inline TrainConfig tiny_config(const std::filesystem::path& root, const std::string& model = "tiny-random:sd15",
                               const std::vector<std::string>& extra = {}) {
  const std::string text = R"(
[model]
path = ")" + model + R"("
dtype = "fp32"
[dataset]
path = "data"
min_bucket_reso = 64
max_bucket_reso = 128
bucket_reso_steps = 64
[network]
rank = 4
alpha = 4.0
[optimizer]
type = "adamw"
lr = 2e-3
[training]
epochs = 2
batch_size = 2
resolution = 64
seed = 11
device = "cpu"
[validation]
concept = "val"
timesteps = [200, 500, 800]
seed = 3
[saving]
name = "t"
precision = "fp32"
[output]
dir = "runs"
)";
  return parse_train_config(text, root / "profile.toml", extra);
}

struct Recorded {
  std::vector<TrainProgress> events;
  std::vector<double> step_losses;
  std::vector<double> validation_losses;
  std::vector<std::string> messages;
};

inline TrainCallbacks recording(Recorded& r, std::int64_t stop_at_step = -1, const Trainer** trainer = nullptr) {
  TrainCallbacks cb;
  cb.on_progress = [&r](const TrainProgress& p) {
    r.events.push_back(p);
    if (p.kind == TrainProgress::Kind::Step) r.step_losses.push_back(p.loss);
    if (p.kind == TrainProgress::Kind::Validation) r.validation_losses.push_back(*p.validation_loss);
    if (p.kind == TrainProgress::Kind::Message) r.messages.push_back(p.message);
  };
  if (stop_at_step >= 0) {
    cb.between_steps = [trainer, stop_at_step]() {
      return (*trainer)->step() >= stop_at_step ? TrainRequest::Stop : TrainRequest::Continue;
    };
  }
  return cb;
}

// Every tensor of a safetensors file, as fp32 CPU tensors.
inline std::map<std::string, torch::Tensor> read_lora(const std::filesystem::path& path) {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& name : file.names()) out[name] = tensor_from_view(file.view(name), torch::kFloat32);
  return out;
}

inline bool identical(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, t] : a) {
    auto it = b.find(k);
    if (it == b.end() || !torch::equal(t, it->second)) return false;
  }
  return true;
}

}  // namespace lathe::test
