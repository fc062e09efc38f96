// TensorBoard event files: CRC32C against the standard check value, records parse back, and a
// torn final record is ignored rather than corrupting what came before.
#include "runs/tensorboard_events.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.h"

using lathe::test::TempDir;

TEST(TensorBoard, Crc32cCheckValue) {
  // The CRC-32C check value of "123456789" (RFC 3720 appendix B.4).
  EXPECT_EQ(lathe::crc32c("123456789"), 0xE3069283u);
}

TEST(TensorBoard, ScalarsRoundTrip) {
  TempDir dir;
  std::filesystem::path file;
  {
    lathe::TensorBoardWriter w(dir.path());
    file = w.path();
    w.add_scalar("loss/train", 0.25f, 1, 1000.5);
    w.add_scalar("lr", 1e-4f, 2, 1001.0);
  }
  EXPECT_EQ(file.filename().string().rfind("events.out.tfevents.", 0), 0u);
  auto events = lathe::read_scalar_events(file);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].tag, "loss/train");
  EXPECT_FLOAT_EQ(events[0].value, 0.25f);
  EXPECT_EQ(events[0].step, 1);
  EXPECT_DOUBLE_EQ(events[0].wall_time, 1000.5);
  EXPECT_EQ(events[1].tag, "lr");
  EXPECT_FLOAT_EQ(events[1].value, 1e-4f);
  EXPECT_EQ(events[1].step, 2);
}

TEST(TensorBoard, ImagesRoundTripBesideScalars) {
  TempDir dir;
  std::filesystem::path file;
  const std::string png("\x89PNG\r\n\x1a\n fake image bytes", 25);
  {
    lathe::TensorBoardWriter w(dir.path());
    file = w.path();
    w.add_scalar("loss/train", 0.5f, 3, 1000.0);
    w.add_image("samples/prompt01", png, 96, 64, 3, 1001.0);
    w.add_image("samples/prompt01", "P", 8, 8, 6, 1002.0);
  }
  const auto images = lathe::read_image_events(file);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].tag, "samples/prompt01");
  EXPECT_EQ(images[0].step, 3);
  EXPECT_DOUBLE_EQ(images[0].wall_time, 1001.0);
  EXPECT_EQ(images[0].width, 96);
  EXPECT_EQ(images[0].height, 64);
  EXPECT_EQ(images[0].colorspace, 3);
  EXPECT_EQ(images[0].encoded, png);
  EXPECT_EQ(images[1].step, 6);
  // Scalars are read without the images, and the images without the scalars.
  const auto scalars = lathe::read_scalar_events(file);
  ASSERT_EQ(scalars.size(), 1u);
  EXPECT_EQ(scalars[0].tag, "loss/train");
  // The Summary.Value bytes as TensorFlow's summary.proto lays them out: tag (1), then image
  // (4) = {height (1), width (2), colorspace (3), encoded_image_string (4)}.
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string value("\x0a\x10samples/prompt01\x22\x09\x08\x08\x10\x08\x18\x03\x22\x01P", 29);
  EXPECT_NE(bytes.find(value), std::string::npos);
  // A resume cuts images after its step like scalars.
  lathe::truncate_events_after(file, 4);
  EXPECT_EQ(lathe::read_image_events(file).size(), 1u);
  EXPECT_EQ(lathe::read_scalar_events(file).size(), 1u);
}

TEST(TensorBoard, FirstRecordIsFileVersion) {
  TempDir dir;
  std::filesystem::path file;
  { file = lathe::TensorBoardWriter(dir.path()).path(); }
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(bytes.find("brain.Event:2"), std::string::npos);
}

TEST(TensorBoard, TornRecordIsIgnored) {
  TempDir dir;
  std::filesystem::path file;
  {
    lathe::TensorBoardWriter w(dir.path());
    file = w.path();
    w.add_scalar("a", 1.0f, 1, 1.0);
    w.add_scalar("b", 2.0f, 2, 2.0);
  }
  auto size = std::filesystem::file_size(file);
  std::filesystem::resize_file(file, size - 3);  // a crash mid-record
  auto events = lathe::read_scalar_events(file);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, "a");
}
