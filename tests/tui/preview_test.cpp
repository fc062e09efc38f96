// Image preview cells and colour mapping: half blocks carry two pixels per cell, the image
// keeps its aspect and is centred, the colour depth follows COLORTERM and the terminal, and
// RGB maps to the nearest 256- or 8-colour entry.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "dataset/image_fixtures.h"
#include "temp_dir.h"

#include "tui/image_preview.h"
#include "tui/theme.h"

namespace lathe::tui {
namespace {

cv::Mat two_band(int w, int h) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(0, 0, 255));                   // red (BGR)
  m(cv::Rect(0, h / 2, w, h - h / 2)).setTo(cv::Scalar(255, 0, 0));  // blue lower half
  return m;
}

TEST(Preview, HalfBlocksCarryTopAndBottomPixels) {
  PreviewCells p = render_preview(two_band(64, 64), 8, 4, true);
  ASSERT_EQ(p.cols, 8);
  ASSERT_EQ(p.rows, 4);
  // Square image in 8x4 cells = 8x8 half-block pixels: fills the box.
  for (bool in : p.inside) EXPECT_TRUE(in);
  EXPECT_EQ(p.top[0], 0xFF0000u);
  EXPECT_EQ(p.bottom[0], 0xFF0000u);
  EXPECT_EQ(p.top[3 * 8], 0x0000FFu);
  EXPECT_EQ(p.bottom[3 * 8], 0x0000FFu);
}

TEST(Preview, KeepsAspectAndCentres) {
  // A wide image in a tall box: full width, rows above and below left empty.
  PreviewCells p = render_preview(two_band(200, 50), 20, 20, true);
  int rows_used = 0;
  for (int y = 0; y < 20; ++y) rows_used += p.inside[static_cast<std::size_t>(y) * 20] ? 1 : 0;
  EXPECT_EQ(rows_used, 3);  // 20 wide -> 5 pixels tall -> 3 half-block rows
  EXPECT_FALSE(p.inside[0]);
  EXPECT_TRUE(p.inside[static_cast<std::size_t>(9) * 20]);
  // Whole cells are 1:2, so the same image takes fewer rows than cells are wide.
  PreviewCells q = render_preview(two_band(100, 100), 20, 20, false);
  int used = 0;
  for (int y = 0; y < 20; ++y) used += q.inside[static_cast<std::size_t>(y) * 20 + 10] ? 1 : 0;
  EXPECT_EQ(used, 10);
}

TEST(Preview, EmptyInputs) {
  PreviewCells p = render_preview(cv::Mat(), 10, 5, true);
  for (bool in : p.inside) EXPECT_FALSE(in);
  PreviewCells z = render_preview(two_band(10, 10), 0, 0, true);
  EXPECT_TRUE(z.top.empty());
}

TEST(Preview, RampFromDarkToLight) {
  EXPECT_EQ(ramp_char(0x000000), ' ');
  EXPECT_EQ(ramp_char(0xFFFFFF), '@');
  const std::string ramp = " .:-=+*#%@";
  EXPECT_LT(ramp.find(ramp_char(0x404040)), ramp.find(ramp_char(0xC0C0C0)));
}

TEST(Theme, DepthFollowsTerminalAndColorterm) {
  EXPECT_EQ(pick_color_depth(0, nullptr), ColorDepth::Mono);
  EXPECT_EQ(pick_color_depth(2, "truecolor"), ColorDepth::Mono);
  EXPECT_EQ(pick_color_depth(8, nullptr), ColorDepth::Eight);
  EXPECT_EQ(pick_color_depth(256, nullptr), ColorDepth::Palette256);
  EXPECT_EQ(pick_color_depth(256, "truecolor"), ColorDepth::Palette256);  // no direct colour
  EXPECT_EQ(pick_color_depth(0x1000000, "truecolor"), ColorDepth::TrueColor);
  EXPECT_EQ(pick_color_depth(0x1000000, "24bit"), ColorDepth::TrueColor);
  EXPECT_EQ(pick_color_depth(0x1000000, nullptr), ColorDepth::Palette256);
}

TEST(Theme, RgbTo256And8) {
  EXPECT_EQ(rgb_to_256(255, 0, 0), 196);
  EXPECT_EQ(rgb_to_256(0, 0, 0), 16);
  EXPECT_EQ(rgb_to_256(255, 255, 255), 231);
  EXPECT_EQ(rgb_to_256(128, 128, 128), 244);  // the grey ramp beats the cube
  EXPECT_EQ(rgb_to_8(0, 0, 0), 0);
  EXPECT_EQ(rgb_to_8(255, 0, 0), 1);
  EXPECT_EQ(rgb_to_8(0, 200, 0), 2);
  EXPECT_EQ(rgb_to_8(0, 0, 255), 4);
  EXPECT_EQ(rgb_to_8(250, 250, 250), 7);
  EXPECT_EQ(rgb_to_8(230, 140, 40), 3);  // orange -> yellow
}

TEST(Preview, ImageBombsCutFilesAndDamagedJpegsAreNotDecoded) {
  // The header decides before OpenCV runs: a small PNG claiming 30000x30000 pixels would take
  // gigabytes to decode (the audit's and training's limit applies), a file cut short would
  // show half grey.
  test::TempDir dir;
  std::vector<unsigned char> buf;
  cv::Mat m(16, 16, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::imencode(".png", m, buf);
  std::string png(buf.begin(), buf.end());
  test::write_text(dir / "ok.png", png);
  EXPECT_EQ(preview_problem(dir / "ok.png"), "");
  std::string bomb = png;
  const unsigned char side[4] = {0x00, 0x00, 0x75, 0x30};  // 30000, big-endian
  std::memcpy(&bomb[16], side, 4);
  std::memcpy(&bomb[20], side, 4);
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(bomb.data() + 12), 17);
  for (int i = 0; i < 4; ++i) bomb[29 + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
  test::write_text(dir / "bomb.png", bomb);
  EXPECT_EQ(preview_problem(dir / "bomb.png"),
            "the image is 30000x30000 (900 megapixels), too large to decode; resize it");
  test::write_text(dir / "cut.png", png.substr(0, png.size() - 12));
  EXPECT_EQ(preview_problem(dir / "cut.png").rfind("truncated PNG", 0), 0u);
  // Damaged JPEG data: libjpeg's warning would be printed over the screen by OpenCV.
  test::write_text(dir / "damaged.jpg", test::jpeg_with_damaged_scan());
  testing::internal::CaptureStderr();
  EXPECT_EQ(preview_problem(dir / "damaged.jpg").rfind("libjpeg reports damaged data", 0), 0u);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  test::write_text(dir / "ok.jpg", test::encode_image(".jpg", 40, 30));
  EXPECT_EQ(preview_problem(dir / "ok.jpg"), "");
}

}  // namespace
}  // namespace lathe::tui
