// Loading training images on pictures written with OpenCV: crop offsets and flips on known
// pixel values, [-1, 1] range, resizing both ways, alpha composited on white, 16-bit and grey
// images, a JPEG whose EXIF orientation rotates it, decode errors naming the file, and the
// view choice (centre crop and no flip draw nothing; random crops stay inside the image).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <set>

#include "common/error.h"
#include "data_fixtures.h"
#include "dataset/image_fixtures.h"
#include "dataset/image_header.h"
#include "train/config/train_config.h"
#include "train/data/training_image.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

float unit(double v, double max = 255.0) {
  return static_cast<float>(v / max * 2.0 - 1.0);
}

BucketAssignment assignment(int bw, int bh, int rw, int rh) {
  BucketAssignment a;
  a.bucket = {bw, bh};
  a.resized_width = rw;
  a.resized_height = rh;
  a.crop_left = (rw - bw) / 2;
  a.crop_top = (rh - bh) / 2;
  return a;
}

// 8x8: red = 30 x column, green = 30 x row, blue = 7.
fs::path write_gradient(const TempDir& dir) {
  cv::Mat m(8, 8, CV_8UC3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(7, y * 30, x * 30);
  const fs::path p = dir / "gradient.png";
  cv::imwrite(p.string(), m);
  return p;
}

TEST(DataTrainingImage, CropTakesTheViewOffsetInRgbOrder) {
  TempDir dir;
  const fs::path p = write_gradient(dir);
  const torch::Tensor t = load_training_image(p, assignment(4, 4, 8, 8), ImageView{2, 3, false});
  ASSERT_EQ(t.sizes(), (std::vector<std::int64_t>{3, 4, 4}));
  EXPECT_EQ(t.dtype(), torch::kFloat32);
  auto a = t.accessor<float, 3>();
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(a[0][j][i], unit((i + 2) * 30), 1e-6) << i << "," << j;
      EXPECT_NEAR(a[1][j][i], unit((j + 3) * 30), 1e-6) << i << "," << j;
      EXPECT_NEAR(a[2][j][i], unit(7), 1e-6);
    }
}

TEST(DataTrainingImage, FlipMirrorsTheCrop) {
  TempDir dir;
  const fs::path p = write_gradient(dir);
  const torch::Tensor t = load_training_image(p, assignment(4, 4, 8, 8), ImageView{2, 3, true});
  auto a = t.accessor<float, 3>();
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(a[0][j][i], unit((2 + 3 - i) * 30), 1e-6) << i << "," << j;
      EXPECT_NEAR(a[1][j][i], unit((j + 3) * 30), 1e-6);
    }
}

TEST(DataTrainingImage, BlackAndWhiteMapToMinusOneAndOne) {
  TempDir dir;
  cv::Mat m(4, 8, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(4, 0, 4, 4)).setTo(cv::Scalar(255, 255, 255));
  cv::imwrite((dir / "bw.png").string(), m);
  const torch::Tensor t = load_training_image(dir / "bw.png", assignment(8, 4, 8, 4), ImageView{});
  EXPECT_FLOAT_EQ(t.min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(t.max().item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(t.index({0, 0, 0}).item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(t.index({2, 3, 7}).item<float>(), 1.0f);
}

TEST(DataTrainingImage, ResizesDownAndUpToTheAssignment) {
  TempDir dir;
  test::write_solid_image(dir / "big.png", 32, 16, cv::Scalar(10, 100, 200));
  const torch::Tensor down =
      load_training_image(dir / "big.png", assignment(8, 4, 8, 4), ImageView{});
  ASSERT_EQ(down.sizes(), (std::vector<std::int64_t>{3, 4, 8}));
  EXPECT_NEAR(down[0].mean().item<float>(), unit(200), 1e-5);
  EXPECT_NEAR(down[2].mean().item<float>(), unit(10), 1e-5);

  const torch::Tensor up =
      load_training_image(dir / "big.png", assignment(48, 32, 64, 32), ImageView{8, 0, false});
  ASSERT_EQ(up.sizes(), (std::vector<std::int64_t>{3, 32, 48}));
  EXPECT_NEAR(up[1].min().item<float>(), unit(100), 1e-4);
  EXPECT_NEAR(up[1].max().item<float>(), unit(100), 1e-4);
}

TEST(DataTrainingImage, LanczosOvershootIsClamped) {
  TempDir dir;
  cv::Mat m(4, 4, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(2, 0, 2, 4)).setTo(cv::Scalar(255, 255, 255));
  cv::imwrite((dir / "edge.png").string(), m);
  const torch::Tensor t = load_training_image(dir / "edge.png", assignment(16, 16, 16, 16), {});
  EXPECT_GE(t.min().item<float>(), -1.0f);
  EXPECT_LE(t.max().item<float>(), 1.0f);
}

TEST(DataTrainingImage, AlphaIsCompositedOnWhite) {
  TempDir dir;
  cv::Mat m(1, 3, CV_8UC4);
  m.at<cv::Vec4b>(0, 0) = cv::Vec4b(0, 0, 0, 0);      // transparent black -> white
  m.at<cv::Vec4b>(0, 1) = cv::Vec4b(0, 0, 255, 255);  // opaque red
  m.at<cv::Vec4b>(0, 2) = cv::Vec4b(0, 0, 0, 128);    // half-transparent black -> grey
  cv::imwrite((dir / "alpha.png").string(), m);
  const torch::Tensor t = load_training_image(dir / "alpha.png", assignment(3, 1, 3, 1), {});
  auto a = t.accessor<float, 3>();
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(a[c][0][0], 1.0f, 1e-6);
  EXPECT_NEAR(a[0][0][1], 1.0f, 1e-6);
  EXPECT_NEAR(a[1][0][1], -1.0f, 1e-6);
  EXPECT_NEAR(a[2][0][1], -1.0f, 1e-6);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(a[c][0][2], unit(255.0 - 128.0), 1e-5);
}

TEST(DataTrainingImage, SixteenBitUsesTheFullRange) {
  TempDir dir;
  cv::Mat m(1, 3, CV_16UC3);
  m.at<cv::Vec3w>(0, 0) = cv::Vec3w(0, 0, 0);
  m.at<cv::Vec3w>(0, 1) = cv::Vec3w(65535, 65535, 65535);
  m.at<cv::Vec3w>(0, 2) = cv::Vec3w(1000, 32768, 300);
  cv::imwrite((dir / "deep.png").string(), m);
  const torch::Tensor t = load_training_image(dir / "deep.png", assignment(3, 1, 3, 1), {});
  auto a = t.accessor<float, 3>();
  EXPECT_NEAR(a[0][0][0], -1.0f, 1e-6);
  EXPECT_NEAR(a[0][0][1], 1.0f, 1e-6);
  EXPECT_NEAR(a[0][0][2], unit(300, 65535), 1e-6);  // red is the last BGR channel
  EXPECT_NEAR(a[1][0][2], unit(32768, 65535), 1e-6);
  EXPECT_NEAR(a[2][0][2], unit(1000, 65535), 1e-6);
}

TEST(DataTrainingImage, GreyBecomesThreeEqualChannels) {
  TempDir dir;
  cv::Mat m(2, 2, CV_8UC1, cv::Scalar(51));
  cv::imwrite((dir / "grey.png").string(), m);
  const torch::Tensor t = load_training_image(dir / "grey.png", assignment(2, 2, 2, 2), {});
  EXPECT_NEAR(t.min().item<float>(), unit(51), 1e-6);
  EXPECT_NEAR(t.max().item<float>(), unit(51), 1e-6);
}

// A JPEG with an EXIF APP1 segment (orientation tag only) spliced in after SOI.
std::string with_exif_orientation(const std::vector<uchar>& jpeg, int orientation) {
  const unsigned char app1[] = {0xFF, 0xE1,
                                0x00, 0x22,  // APP1, length 34
                                'E',  'x',
                                'i',  'f',
                                0,    0,  // EXIF signature
                                'M',  'M',
                                0x00, 0x2A,
                                0x00, 0x00,
                                0x00, 0x08,  // big-endian TIFF, IFD0 at 8
                                0x00, 0x01,  // one entry
                                0x01, 0x12,
                                0x00, 0x03,
                                0x00, 0x00,
                                0x00, 0x01,  // Orientation, SHORT, count 1
                                0x00, static_cast<unsigned char>(orientation),
                                0x00, 0x00,
                                0x00, 0x00,
                                0x00, 0x00};  // no next IFD
  std::string out(jpeg.begin(), jpeg.begin() + 2);
  out.append(reinterpret_cast<const char*>(app1), sizeof app1);
  out.append(jpeg.begin() + 2, jpeg.end());
  return out;
}

TEST(DataTrainingImage, ExifOrientationRotatesTheJpeg) {
  TempDir dir;
  // Stored 32 wide x 16 high: left half black, right half white.
  cv::Mat m(16, 32, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(16, 0, 16, 16)).setTo(cv::Scalar(255, 255, 255));
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", m, jpeg, {cv::IMWRITE_JPEG_QUALITY, 100});
  const fs::path p = dir / "rotated.jpg";
  test::write_text(p, with_exif_orientation(jpeg, 6));  // 6: rotate 90 degrees clockwise

  const ImageInfo info = read_image_header(p);
  ASSERT_TRUE(info.ok) << info.problem;
  ASSERT_EQ(info.exif_orientation, 6);
  ASSERT_EQ(info.width, 16);
  ASSERT_EQ(info.height, 32);
  const torch::Tensor t = load_training_image(p, assignment(16, 32, 16, 32), {});
  ASSERT_EQ(t.sizes(), (std::vector<std::int64_t>{3, 32, 16}));
  // Turned clockwise, the stored left (black) half is now on top.
  using torch::indexing::Slice;
  EXPECT_LT(t.index({Slice(), Slice(0, 14), Slice()}).mean().item<float>(), -0.95f);
  EXPECT_GT(t.index({Slice(), Slice(18, 32), Slice()}).mean().item<float>(), 0.95f);
}

TEST(DataTrainingImage, UndecodableFileIsAnErrorNamingIt) {
  TempDir dir;
  test::write_text(dir / "broken.png", "\x89PNG\r\n\x1a\n then garbage");
  try {
    load_training_image(dir / "broken.png", assignment(8, 8, 8, 8), {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.png"), std::string::npos) << e.what();
  }
}

TEST(DataTrainingImage, CropOutsideTheImageIsAnError) {
  TempDir dir;
  const fs::path p = write_gradient(dir);
  EXPECT_THROW(load_training_image(p, assignment(4, 4, 8, 8), ImageView{5, 0, false}), Error);
}

TEST(DataTrainingImage, CentreCropWithoutFlipDrawsNothing) {
  const BucketAssignment a = assignment(64, 64, 96, 64);
  SeededRng rng(1), twin(1);
  const ImageView v = choose_image_view(a, CropMode::Center, false, rng);
  EXPECT_EQ(v.crop_left, 16);
  EXPECT_EQ(v.crop_top, 0);
  EXPECT_FALSE(v.flipped);
  EXPECT_EQ(rng.next(), twin.next());
}

TEST(DataTrainingImage, RandomCropsStayInsideAndFlipsHappenBothWays) {
  const BucketAssignment a = assignment(64, 64, 96, 70);
  std::set<int> lefts, tops;
  int flips = 0;
  for (std::uint64_t s = 0; s < 400; ++s) {
    SeededRng rng(s);
    const ImageView v = choose_image_view(a, CropMode::Random, true, rng);
    ASSERT_GE(v.crop_left, 0);
    ASSERT_LE(v.crop_left, 32);
    ASSERT_GE(v.crop_top, 0);
    ASSERT_LE(v.crop_top, 6);
    lefts.insert(v.crop_left);
    tops.insert(v.crop_top);
    flips += v.flipped;
  }
  EXPECT_EQ(tops.size(), 7u);  // every offset 0..6 is reachable
  EXPECT_GT(lefts.size(), 25u);
  EXPECT_GT(flips, 150);
  EXPECT_LT(flips, 250);
}

// A load that must fail with a BadImageError naming the file and saying `expect`.
void expect_bad_image(const fs::path& path, const std::string& expect) {
  try {
    load_training_image(path, assignment(8, 8, 8, 8), {});
    FAIL() << "expected an error for " << path;
  } catch (const BadImageError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
    EXPECT_NE(e.problem().find(expect), std::string::npos) << e.problem();
  }
}

TEST(DataTrainingImage, TruncatedFilesAreRefusedNotTrainedAsGrey) {
  // libjpeg decodes a JPEG cut in half with only a warning on stderr ("Premature end of JPEG
  // file"), libpng a PNG without its end: training must refuse them, naming the file.
  TempDir dir;
  cv::Mat m(64, 64, CV_8UC3);
  cv::randu(m, 0, 256);
  std::vector<unsigned char> jpeg, png;
  cv::imencode(".jpg", m, jpeg);
  cv::imencode(".png", m, png);
  test::write_text(dir / "cut.jpg", std::string(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  test::write_text(dir / "cut.png", std::string(png.begin(), png.end() - 12));
  expect_bad_image(dir / "cut.jpg", "truncated JPEG");
  expect_bad_image(dir / "cut.png", "truncated PNG");
}

TEST(DataTrainingImage, DamagedJpegDataIsRefusedWithTheFileNamed) {
  // Complete file, damaged scan data: OpenCV would return grey blocks and libjpeg would print
  // "Corrupt JPEG data" with no file name; training refuses it in its own words instead.
  TempDir dir;
  test::write_text(dir / "damaged.jpg", test::jpeg_with_damaged_scan());
  testing::internal::CaptureStderr();
  expect_bad_image(dir / "damaged.jpg", "libjpeg reports damaged data");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(DataTrainingImage, ImageBombsAreRefusedBeforeDecoding) {
  // 30000x30000 (8-bit) and 32000x32000 16-bit claims in a few hundred bytes: refused from the
  // header with the audit's limit, never handed to OpenCV.
  TempDir dir;
  test::write_text(dir / "bomb.png", test::png_claiming(30000, 30000));
  std::string deep = test::png_claiming(32000, 32000);
  deep[24] = 16;  // bit depth 16
  test::fix_ihdr_crc(deep);
  test::write_text(dir / "bomb16.png", deep);
  expect_bad_image(dir / "bomb.png", "30000x30000 (900 megapixels), too large to decode");
  expect_bad_image(dir / "bomb16.png", "32000x32000 (1024 megapixels), too large to decode");
}

TEST(DataTrainingImage, CorruptPixelDataIsABadImage) {
  // Complete container, valid CRCs, but the compressed stream is garbage: the decoder fails.
  TempDir dir;
  std::string png = test::encode_png(32, 32);
  const std::size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const std::uint32_t len = (std::uint32_t(std::uint8_t(png[idat - 4])) << 24) |
                            (std::uint32_t(std::uint8_t(png[idat - 3])) << 16) |
                            (std::uint32_t(std::uint8_t(png[idat - 2])) << 8) |
                            std::uint32_t(std::uint8_t(png[idat - 1]));
  for (std::uint32_t i = 0; i < len; ++i) png[idat + 4 + i] = static_cast<char>(0xA5 ^ i);
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + idat), len + 4);
  for (int i = 0; i < 4; ++i)
    png[idat + 4 + len + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
  test::write_text(dir / "garbage.png", png);
  expect_bad_image(dir / "garbage.png", "cannot decode");
}

}  // namespace
}  // namespace lathe
