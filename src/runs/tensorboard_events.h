// TensorBoard event files (events.out.tfevents.*): TFRecord framing (length, masked CRC32C of
// the length, payload, masked CRC32C of the payload) around hand-encoded `Event` protobufs
// carrying scalar and image summaries. Append-only: each record is flushed as written; a record torn by a
// crash fails its CRC and readers (TensorBoard included) stop there, so earlier data is safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lathe {

std::uint32_t crc32c(std::string_view bytes);
std::uint32_t masked_crc32c(std::string_view bytes);

struct ScalarEvent {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string tag;
  float value = 0;
};

// A Summary.Value.image: an encoded image (PNG) with its size, as tf.summary.image writes it;
// TensorBoard's Images tab shows one slider over the steps of each tag.
struct ImageEvent {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string tag;
  int height = 0;
  int width = 0;
  int colorspace = 3;   // 1 grey, 3 RGB, 4 RGBA
  std::string encoded;  // the PNG file's bytes
};

class TensorBoardWriter {
 public:
  // Creates `dir/events.out.tfevents.<unix time>.<host>` (or appends to it if it exists) and
  // writes the file_version record first. Throws lathe::Error naming the file on failure.
  explicit TensorBoardWriter(const std::filesystem::path& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void add_scalar(const std::string& tag, float value, std::int64_t step, double wall_time);
  // `png`: a whole PNG file of an RGB image of `width` x `height`.
  void add_image(const std::string& tag, std::string_view png, int width, int height, std::int64_t step,
                 double wall_time);
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(std::string_view payload);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// Rewrites an event file (atomically) keeping only the records up to `step`, for a run resumed
// from a checkpoint at `step`: its log then equals an uninterrupted run's. A torn tail is
// dropped too. Throws lathe::Error naming the file when it cannot be read or written.
void truncate_events_after(const std::filesystem::path& path, std::int64_t step);

// Reads every complete, CRC-valid scalar event of an event file (stops at a torn record).
// Throws lathe::Error when the file cannot be opened.
std::vector<ScalarEvent> read_scalar_events(const std::filesystem::path& path);

// The same for image summaries.
std::vector<ImageEvent> read_image_events(const std::filesystem::path& path);

}  // namespace lathe
