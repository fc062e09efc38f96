// dataset.on_bad_image during a run: what happens when an image cannot be used. Under "stop"
// (the default) the run ends with an error naming the file and what to do; under "skip" the
// image is left out (of its batch, of every later epoch, of validation) with one warning in
// log.txt naming it. Runs without bad images are untouched: nothing here draws randomness or
// reorders data, so their batches stay a pure function of the seed and the position.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "train/data/training_image.h"

namespace lathe {

enum class BadImagePolicy;
struct Dataset;

class BadImages {
 public:
  using Warn = std::function<void(const std::string&)>;
  BadImages(BadImagePolicy policy, Warn warn);

  // True when `image` failed earlier in this run and is left out ("skip").
  bool left_out(const std::filesystem::path& image) const { return left_out_.count(image) > 0; }

  // A failure met while training: throws the stop error under "stop"; under "skip" records the
  // image and warns once.
  void handle(const BadImageError& e);

  std::size_t count() const { return left_out_.size(); }

 private:
  BadImagePolicy policy_;
  Warn warn_;
  std::set<std::filesystem::path> left_out_;
};

// The message a run stops with on a bad image (under "stop").
std::string bad_image_stop_message(const std::string& what);

// Before training: every image of `dataset` whose header, end of file or size rules it out
// (the scan already read them: no file is opened again). Under "stop" throws one error listing
// them (the first few and a count); under "skip" removes them from the dataset and returns one
// warning per image.
std::vector<std::string> remove_bad_images(Dataset& dataset, BadImagePolicy policy);

}  // namespace lathe
