// Writes a synthetic kohya-style dataset quickly: N real, decodable images (PNG, JPEG and WebP
// in turn, in a handful of sizes and aspect ratios) with comma-separated tag captions, spread
// over concept folders "10_concept0", "10_concept1", ... Each image size/format is encoded
// once with OpenCV and its bytes reused, so 100k files take seconds (the time is the file
// system's). Header-only; used by the audit benchmark and by the dataset tests.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace lathe::bench {

struct GeneratedDataset {
  std::filesystem::path root;
  std::size_t images = 0;
  std::size_t captions = 0;
  std::uint64_t bytes = 0;
};

struct DatasetGenOptions {
  std::size_t images = 1000;
  int concepts = 4;
  int repeats = 10;
  bool captions = true;
  unsigned seed = 1;
};

namespace detail {

inline void write_bytes(const std::filesystem::path& path, const void* data, std::size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + path.string());
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  ::close(fd);
}

struct Encoded {
  const char* extension;
  std::vector<unsigned char> bytes;
};

// A few small images per format; sizes keep bucket-like aspect ratios (square, portrait,
// landscape) so bucket planning on the generated set is not trivial.
inline std::vector<Encoded> encode_templates(unsigned seed) {
  const int sizes[][2] = {{64, 64}, {48, 80}, {80, 48}, {56, 72}, {96, 64}, {64, 96}};
  const char* extensions[] = {".png", ".jpg", ".webp"};
  std::vector<Encoded> out;
  for (const auto& wh : sizes) {
    // Smooth gradients compress to a few hundred bytes: the files stay small, like thumbnails.
    cv::Mat img(wh[1], wh[0], CV_8UC3);
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x)
        img.at<cv::Vec3b>(y, x) =
            cv::Vec3b(static_cast<unsigned char>(x * 3 + seed), static_cast<unsigned char>(y * 2),
                      static_cast<unsigned char>((x + y) * 5));
    for (const char* ext : extensions) {
      Encoded e{ext, {}};
      if (!cv::imencode(ext, img, e.bytes))
        throw std::runtime_error(std::string("cannot encode ") + ext);
      out.push_back(std::move(e));
    }
  }
  return out;
}

inline const std::vector<std::string>& tag_pool() {
  static const std::vector<std::string> tags = {"1girl",
                                                "solo",
                                                "long hair",
                                                "short hair",
                                                "smile",
                                                "looking at viewer",
                                                "blue eyes",
                                                "brown hair",
                                                "black hair",
                                                "blonde hair",
                                                "open mouth",
                                                "simple background",
                                                "white background",
                                                "outdoors",
                                                "indoors",
                                                "sky",
                                                "cloud",
                                                "tree",
                                                "day",
                                                "night",
                                                "upper body",
                                                "full body",
                                                "standing",
                                                "sitting",
                                                "holding",
                                                "jacket",
                                                "shirt",
                                                "dress",
                                                "hat",
                                                "glasses",
                                                "red eyes",
                                                "green eyes",
                                                "closed eyes",
                                                "blush",
                                                "from side",
                                                "portrait",
                                                "close-up",
                                                "water",
                                                "city",
                                                "street",
                                                "flower",
                                                "sunlight",
                                                "shadow",
                                                "dutch angle",
                                                "depth of field",
                                                "blurry background",
                                                "hand up",
                                                "jewelry",
                                                "earrings",
                                                "necklace",
                                                "scarf",
                                                "gloves",
                                                "boots",
                                                "skirt",
                                                "pants",
                                                "armor",
                                                "sword",
                                                "book"};
  return tags;
}

}  // namespace detail

// Creates `root` (which should be empty or absent) and fills it. Throws std::runtime_error
// when a file cannot be written.
inline GeneratedDataset generate_dataset(const std::filesystem::path& root,
                                         const DatasetGenOptions& options = {}) {
  GeneratedDataset out;
  out.root = root;
  const std::vector<detail::Encoded> templates = detail::encode_templates(options.seed);
  const auto& tags = detail::tag_pool();
  std::mt19937 rng(options.seed);
  const int concepts = std::max(1, options.concepts);
  std::vector<std::filesystem::path> folders;
  for (int c = 0; c < concepts; ++c) {
    folders.push_back(root / (std::to_string(options.repeats) + "_concept" + std::to_string(c)));
    std::filesystem::create_directories(folders.back());
  }
  for (std::size_t i = 0; i < options.images; ++i) {
    const int c = static_cast<int>(i % static_cast<std::size_t>(concepts));
    const detail::Encoded& t = templates[i % templates.size()];
    const std::string stem = "img_" + std::to_string(i);
    detail::write_bytes(folders[c] / (stem + t.extension), t.bytes.data(), t.bytes.size());
    out.images++;
    out.bytes += t.bytes.size();
    if (!options.captions) continue;
    std::string caption = "concept" + std::to_string(c) + "_token";
    const int n = 5 + static_cast<int>(rng() % 16);
    for (int k = 0; k < n; ++k) caption += ", " + tags[rng() % tags.size()];
    caption += '\n';
    detail::write_bytes(folders[c] / (stem + ".txt"), caption.data(), caption.size());
    out.captions++;
    out.bytes += caption.size();
  }
  return out;
}

}  // namespace lathe::bench
