// Small datasets and images for the data-pipeline tests: PNGs of known pixels written with
// OpenCV, and in-memory Datasets whose items carry image sizes (no files) for bucket plans.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "dataset/dataset.h"
#include "temp_dir.h"

namespace lathe::test {

// A w x h image of one BGR colour, as PNG (or whatever the extension says).
inline void write_solid_image(const std::filesystem::path& path, int w, int h,
                              cv::Scalar bgr = cv::Scalar(40, 120, 200)) {
  std::filesystem::create_directories(path.parent_path());
  cv::Mat m(h, w, CV_8UC3, bgr);
  if (!cv::imwrite(path.string(), m)) throw std::runtime_error("cannot write " + path.string());
}

// An item of a concept with a readable size and a caption, for in-memory plans.
inline Item sized_item(const std::string& name, int w, int h) {
  Item it;
  it.image_path = name;
  it.image.ok = true;
  it.image.width = w;
  it.image.height = h;
  it.image.format = ImageFormat::Png;
  return it;
}

}  // namespace lathe::test
