// Header reading and the --deep decode check on real OpenCV-written files and on hand-damaged
// ones: sizes per format, EXIF orientation in both byte orders, top-down BMPs, and every
// problem the reader must report instead of throwing.
#include "dataset/image_header.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>

#include "dataset/image_container.h"
#include "dataset/image_fixtures.h"
#include "dataset/jpeg_data_check.h"

namespace lathe {
namespace {

using test::TempDir;
using test::write_text;

struct FormatCase {
  const char* name;
  ImageFormat format;
  std::vector<int> params;
};

TEST(ImageHeader, ReadsSizeOfEveryFormat) {
  TempDir dir;
  const FormatCase cases[] = {
      {"a.png", ImageFormat::Png, {}},
      {"b.jpg", ImageFormat::Jpeg, {}},
      {"c.JPEG", ImageFormat::Jpeg, {}},
      {"d.webp", ImageFormat::Webp, {cv::IMWRITE_WEBP_QUALITY, 80}},   // lossy: VP8
      {"e.webp", ImageFormat::Webp, {cv::IMWRITE_WEBP_QUALITY, 101}},  // lossless: VP8L
      {"f.bmp", ImageFormat::Bmp, {}},
      {"g.PNG", ImageFormat::Png, {}},
  };
  for (const FormatCase& c : cases) {
    test::write_image(dir / c.name, 37, 23, c.params);
    ImageInfo info = read_image_header(dir / c.name);
    EXPECT_TRUE(info.ok) << c.name << ": " << info.problem;
    EXPECT_EQ(info.format, c.format) << c.name;
    EXPECT_EQ(info.width, 37) << c.name;
    EXPECT_EQ(info.height, 23) << c.name;
    EXPECT_EQ(info.exif_orientation, 1) << c.name;
    EXPECT_FALSE(info.extension_mismatch) << c.name;
    EXPECT_EQ(info.file_size, std::filesystem::file_size(dir / c.name)) << c.name;
    EXPECT_EQ(decode_check(dir / c.name), "") << c.name;
  }
}

TEST(ImageHeader, WebpExtendedHeader) {
  // A VP8X header (as written for alpha/animation/metadata): canvas size minus one, 24-bit LE.
  TempDir dir;
  std::string b = "RIFF";
  b += std::string("\x16\0\0\0", 4) + "WEBPVP8X" + std::string("\x0a\0\0\0", 4);
  b += std::string("\x10\0\0\0", 4);    // flags (alpha) + reserved
  b += std::string("\x1f\x03\x00", 3);  // width - 1 = 799
  b += std::string("\x57\x02\x00", 3);  // height - 1 = 599
  write_text(dir / "x.webp", b);
  ImageInfo info = read_image_header(dir / "x.webp");
  ASSERT_TRUE(info.ok) << info.problem;
  EXPECT_EQ(info.width, 800);
  EXPECT_EQ(info.height, 600);
}

TEST(ImageHeader, ExifOrientationSwapsSidesInBothByteOrders) {
  TempDir dir;
  const std::string jpeg = test::encode_image(".jpg", 40, 30);
  struct Case {
    int orientation;
    bool little;
    bool swapped;
  } cases[] = {{6, true, true},  {6, false, true},  {8, false, true}, {5, true, true},
               {3, true, false}, {2, false, false}, {1, true, false}};
  for (const Case& c : cases) {
    auto path = dir / ("o" + std::to_string(c.orientation) + (c.little ? "ii" : "mm") + ".jpg");
    write_text(path,
               test::with_segment_after_soi(jpeg, test::exif_segment(c.orientation, c.little)));
    ImageInfo info = read_image_header(path);
    ASSERT_TRUE(info.ok) << path << ": " << info.problem;
    EXPECT_EQ(info.exif_orientation, c.orientation) << path;
    EXPECT_EQ(info.width, c.swapped ? 30 : 40) << path;
    EXPECT_EQ(info.height, c.swapped ? 40 : 30) << path;
    EXPECT_EQ(decode_check(path), "") << path;
  }
}

TEST(ImageHeader, LargeExifSegmentBeyondFirstWindow) {
  // 40 KB of EXIF before the frame header: the reader must fetch further than its first read.
  TempDir dir;
  std::string jpeg = test::encode_image(".jpg", 40, 30);
  write_text(dir / "big.jpg",
             test::with_segment_after_soi(jpeg, test::exif_segment(6, true, 40000)));
  ImageInfo info = read_image_header(dir / "big.jpg");
  ASSERT_TRUE(info.ok) << info.problem;
  EXPECT_EQ(info.width, 30);
  EXPECT_EQ(info.height, 40);
}

TEST(ImageHeader, InvalidOrientationValueIsIgnored) {
  TempDir dir;
  std::string jpeg = test::encode_image(".jpg", 40, 30);
  write_text(dir / "o9.jpg", test::with_segment_after_soi(jpeg, test::exif_segment(9, true)));
  ImageInfo info = read_image_header(dir / "o9.jpg");
  ASSERT_TRUE(info.ok);
  EXPECT_EQ(info.exif_orientation, 1);
  EXPECT_EQ(info.width, 40);
}

TEST(ImageHeader, BmpTopDownNegativeHeight) {
  TempDir dir;
  std::string bmp = test::encode_image(".bmp", 12, 9);
  ASSERT_EQ(static_cast<unsigned char>(bmp[22]), 9u);
  std::int32_t h = -9;
  std::memcpy(&bmp[22], &h, 4);  // little-endian host, as BMP
  write_text(dir / "td.bmp", bmp);
  ImageInfo info = read_image_header(dir / "td.bmp");
  ASSERT_TRUE(info.ok) << info.problem;
  EXPECT_EQ(info.width, 12);
  EXPECT_EQ(info.height, 9);
  EXPECT_EQ(decode_check(dir / "td.bmp"), "");
}

TEST(ImageHeader, BmpCoreHeader) {
  // OS/2 BITMAPCOREHEADER: 12-byte info header with 16-bit sizes.
  TempDir dir;
  std::string b = "BM" + std::string(8, '\0') + std::string("\x1a\0\0\0", 4);
  b += std::string("\x0c\0\0\0", 4) + std::string("\x05\x00\x03\x00\x01\x00\x18\x00", 8);
  b += std::string(3 * 16, '\x7f');  // 3 rows of 5 RGB pixels padded to 16 bytes
  write_text(dir / "core.bmp", b);
  ImageInfo info = read_image_header(dir / "core.bmp");
  ASSERT_TRUE(info.ok) << info.problem;
  EXPECT_EQ(info.width, 5);
  EXPECT_EQ(info.height, 3);
}

TEST(ImageHeader, ZeroByteFile) {
  TempDir dir;
  write_text(dir / "empty.png", "");
  ImageInfo info = read_image_header(dir / "empty.png");
  EXPECT_FALSE(info.ok);
  EXPECT_EQ(info.problem, "zero-byte file");
  EXPECT_EQ(info.file_size, 0u);
  EXPECT_EQ(decode_check(dir / "empty.png"), "zero-byte file");
}

TEST(ImageHeader, MissingFile) {
  TempDir dir;
  ImageInfo info = read_image_header(dir / "nope.png");
  EXPECT_FALSE(info.ok);
  EXPECT_NE(info.problem.find("No such file"), std::string::npos) << info.problem;
}

TEST(ImageHeader, UnreadableFile) {
  if (test::running_as_root()) GTEST_SKIP() << "running as root: chmod 000 does not block reads";
  TempDir dir;
  test::write_image(dir / "locked.png", 8, 8);
  std::filesystem::permissions(dir / "locked.png", std::filesystem::perms::none);
  ImageInfo info = read_image_header(dir / "locked.png");
  EXPECT_FALSE(info.ok);
  EXPECT_NE(info.problem.find("Permission denied"), std::string::npos) << info.problem;
  EXPECT_NE(decode_check(dir / "locked.png").find("Permission denied"), std::string::npos);
}

TEST(ImageHeader, TruncatedHeaders) {
  TempDir dir;
  const std::pair<const char*, std::size_t> cases[] = {
      {"t.png", 20}, {"t.jpg", 40}, {"t.webp", 20}, {"t.bmp", 20}};
  for (const auto& [name, keep] : cases) {
    std::string ext = std::filesystem::path(name).extension().string();
    std::string bytes = test::encode_image(ext, 16, 16);
    // JPEG at 40 bytes: cut inside the tables OpenCV writes before the frame header.
    write_text(dir / name, bytes.substr(0, keep));
    ImageInfo info = read_image_header(dir / name);
    EXPECT_FALSE(info.ok) << name;
    EXPECT_EQ(info.problem.rfind("truncated", 0), 0u) << name << ": " << info.problem;
  }
}

TEST(ImageHeader, UnknownSignatures) {
  TempDir dir;
  write_text(dir / "page.png", "<html><body>404</body></html>");
  ImageInfo html = read_image_header(dir / "page.png");
  EXPECT_FALSE(html.ok);
  EXPECT_NE(html.problem.find("not a PNG file"), std::string::npos) << html.problem;
  EXPECT_NE(html.problem.find("failed download"), std::string::npos) << html.problem;

  write_text(dir / "anim.jpg", std::string("GIF89a") + std::string(20, '\0'));
  ImageInfo gif = read_image_header(dir / "anim.jpg");
  EXPECT_FALSE(gif.ok);
  EXPECT_NE(gif.problem.find("GIF"), std::string::npos) << gif.problem;

  write_text(dir / "noise.webp", std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  ImageInfo noise = read_image_header(dir / "noise.webp");
  EXPECT_FALSE(noise.ok);
  EXPECT_NE(noise.problem.find("unknown signature (starts with 01 02 03 04"), std::string::npos)
      << noise.problem;
  EXPECT_NE(decode_check(dir / "noise.webp"), "");
}

TEST(ImageHeader, ContentFormatDiffersFromExtension) {
  TempDir dir;
  write_text(dir / "photo.png", test::encode_image(".jpg", 33, 21));
  ImageInfo info = read_image_header(dir / "photo.png");
  EXPECT_TRUE(info.ok);
  EXPECT_TRUE(info.extension_mismatch);
  EXPECT_EQ(info.format, ImageFormat::Jpeg);
  EXPECT_EQ(info.width, 33);
  EXPECT_EQ(info.height, 21);
  EXPECT_EQ(info.problem, "the extension says PNG but the content is JPEG; rename it to .jpg");
}

TEST(ImageHeader, AbsurdSizes) {
  TempDir dir;
  std::string png = test::encode_image(".png", 16, 16);
  std::string zero = png;
  zero[16] = zero[17] = zero[18] = zero[19] = 0;  // IHDR width 0
  write_text(dir / "zero.png", zero);
  std::string huge = png;
  huge[16] = 0x00, huge[17] = 0x10, huge[18] = 0x00, huge[19] = 0x00;  // width 1048576
  write_text(dir / "huge.png", huge);
  for (const char* name : {"zero.png", "huge.png"}) {
    ImageInfo info = read_image_header(dir / name);
    EXPECT_FALSE(info.ok) << name;
    EXPECT_EQ(info.problem.rfind("absurd size", 0), 0u) << name << ": " << info.problem;
  }
}

TEST(ImageHeader, CorruptStructure) {
  TempDir dir;
  std::string png = test::encode_image(".png", 16, 16);
  png.replace(12, 4, "IDAT");
  write_text(dir / "noihdr.png", png);
  EXPECT_EQ(read_image_header(dir / "noihdr.png").problem,
            "corrupt PNG: the first chunk is not IHDR");

  std::string jpeg = test::encode_image(".jpg", 16, 16);
  // SOI, an empty APP0 segment, then bytes where the next marker should be.
  write_text(dir / "nomarker.jpg",
             jpeg.substr(0, 2) + std::string("\xFF\xE0\x00\x02", 4) + std::string(64, '\x11'));
  ImageInfo info = read_image_header(dir / "nomarker.jpg");
  EXPECT_FALSE(info.ok);
  EXPECT_EQ(info.problem, "corrupt JPEG: no marker at byte 6");
}

TEST(ImageHeader, EndOfFileCheckFindsTruncationWithoutDecoding) {
  // Files cut short keep an intact header and OpenCV decodes them to half-grey images: the
  // plain header read (every `lathe audit`) must already refuse them.
  TempDir dir;
  const std::string png = test::encode_image(".png", 64, 64);
  const std::string jpeg = test::encode_image(".jpg", 64, 64);
  const std::string webp = test::encode_image(".webp", 64, 64);
  const std::string bmp = test::encode_image(".bmp", 64, 64);
  struct Case {
    const char* name;
    std::string bytes;
    const char* expect_prefix;
  } cases[] = {
      {"half.png", png.substr(0, png.size() / 2), "truncated PNG"},
      {"noiend.png", png.substr(0, png.size() - 12), "truncated PNG"},
      {"half.jpg", jpeg.substr(0, jpeg.size() / 2), "truncated JPEG"},
      {"noeoi.jpg", jpeg.substr(0, jpeg.size() - 2), "truncated JPEG"},
      {"cut.webp", webp.substr(0, webp.size() - 10), "truncated WebP"},
      {"tail.webp", webp + "trailing", "corrupt WebP"},
      {"cut.bmp", bmp.substr(0, bmp.size() - 100), "truncated BMP"},
  };
  for (const Case& c : cases) {
    write_text(dir / c.name, c.bytes);
    const ImageInfo info = read_image_header(dir / c.name);
    EXPECT_FALSE(info.ok) << c.name;
    EXPECT_EQ(info.problem.rfind(c.expect_prefix, 0), 0u) << c.name << ": " << info.problem;
    std::string problem = decode_check(dir / c.name);
    EXPECT_EQ(problem.rfind(c.expect_prefix, 0), 0u) << c.name << ": " << problem;
  }
}

TEST(ImageHeader, EndOfFileCheckAcceptsPaddingAndTrailers) {
  // Padding after a JPEG's EOI, a phone's trailer or motion-photo video after it, bytes after
  // a PNG's IEND: the image itself is complete and decodes.
  TempDir dir;
  const std::string jpeg = test::encode_image(".jpg", 64, 64);
  const std::string png = test::encode_image(".png", 64, 64);
  std::string trailer(20000, '\0');
  for (std::size_t i = 0; i < trailer.size(); ++i) trailer[i] = static_cast<char>((i * 37) % 251);
  struct Case {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"zeros.jpg", jpeg + std::string(300, '\0')},
      {"ff.jpg", jpeg + std::string(7, '\xFF')},
      {"motion.jpg", jpeg + "ftypmp42" + trailer},
      {"after_iend.png", png + "tEXtjunk"},
  };
  for (const Case& c : cases) {
    write_text(dir / c.name, c.bytes);
    const ImageInfo info = read_image_header(dir / c.name);
    EXPECT_TRUE(info.ok) << c.name << ": " << info.problem;
    EXPECT_EQ(info.width, 64) << c.name;
    EXPECT_EQ(decode_check(dir / c.name), "") << c.name;
  }
  // A cut JPEG padded with zeros is still cut: the padding is not an end marker.
  write_text(dir / "cut_padded.jpg", jpeg.substr(0, jpeg.size() / 2) + std::string(64, '\0'));
  EXPECT_EQ(read_image_header(dir / "cut_padded.jpg").problem.rfind("truncated JPEG", 0), 0u);
}

TEST(ImageHeader, EndOfFileCheckOnLargeFilesReadsTheTail) {
  // A JPEG larger than the reader's first window: its end is a separate read.
  TempDir dir;
  const std::string jpeg = test::encode_image(".jpg", 600, 400, {cv::IMWRITE_JPEG_QUALITY, 100});
  ASSERT_GT(jpeg.size(), 3u * kEndCheckBytes);
  write_text(dir / "big.jpg", jpeg);
  EXPECT_TRUE(read_image_header(dir / "big.jpg").ok);
  write_text(dir / "big_cut.jpg", jpeg.substr(0, jpeg.size() - 5000));
  const ImageInfo cut = read_image_header(dir / "big_cut.jpg");
  EXPECT_FALSE(cut.ok);
  EXPECT_EQ(cut.problem.rfind("truncated JPEG", 0), 0u) << cut.problem;
}

TEST(DecodeCheck, PngCrcMismatch) {
  TempDir dir;
  std::string png = test::encode_image(".png", 32, 32);
  std::size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  png[idat + 10] ^= 0x55;
  write_text(dir / "crc.png", png);
  EXPECT_EQ(decode_check(dir / "crc.png").rfind("corrupt PNG: CRC mismatch in chunk 'IDAT'", 0),
            0u);
}

TEST(DecodeCheck, RefusesDecompressionBombs) {
  // A valid PNG whose IHDR claims 20000x20000: the header is fine, decoding would need 1.2 GB.
  TempDir dir;
  std::string png = test::encode_image(".png", 16, 16);
  const unsigned char side[4] = {0x00, 0x00, 0x4E, 0x20};  // 20000, big-endian
  std::memcpy(&png[16], side, 4);
  std::memcpy(&png[20], side, 4);
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  const unsigned char crc_be[4] = {
      static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
      static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  std::memcpy(&png[29], crc_be, 4);
  write_text(dir / "bomb.png", png);
  ImageInfo info = read_image_header(dir / "bomb.png");
  EXPECT_TRUE(info.ok);
  EXPECT_EQ(info.width, 20000);
  EXPECT_EQ(decode_check(dir / "bomb.png"),
            "the image is 20000x20000 (400 megapixels), too large to decode; resize it");
}

TEST(DecodeCheck, JpegWithDamagedDataIsRefusedInLathesWords) {
  // libjpeg decodes damaged entropy-coded data with only a warning on stderr and grey blocks;
  // the check turns the warning into the finding and prints nothing itself.
  TempDir dir;
  const std::string damaged = test::jpeg_with_damaged_scan();
  write_text(dir / "damaged.jpg", damaged);
  ASSERT_EQ(container_problem(reinterpret_cast<const unsigned char*>(damaged.data()),
                              damaged.size()),
            "");
  testing::internal::CaptureStderr();
  const std::string problem = decode_check(dir / "damaged.jpg");
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(problem.rfind("libjpeg reports damaged data: Corrupt JPEG data", 0), 0u) << problem;
  EXPECT_EQ(printed, "");
}

TEST(DecodeCheck, SoundJpegsPassTheDataCheck) {
  for (const std::vector<int>& params :
       {std::vector<int>{}, std::vector<int>{cv::IMWRITE_JPEG_PROGRESSIVE, 1},
        std::vector<int>{cv::IMWRITE_JPEG_RST_INTERVAL, 4}}) {
    const std::string jpeg = test::encode_image(".jpg", 70, 45, params);
    EXPECT_EQ(jpeg_data_problem(reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size()),
              "");
  }
  const std::string cut = test::encode_image(".jpg", 64, 64).substr(0, 300);
  EXPECT_NE(jpeg_data_problem(reinterpret_cast<const unsigned char*>(cut.data()), cut.size()), "");
}

TEST(ImageHeader, ExtensionHelpers) {
  EXPECT_TRUE(is_image_extension("a/b.PNG"));
  EXPECT_TRUE(is_image_extension("x.JpEg"));
  EXPECT_TRUE(is_image_extension("x y.webp"));
  EXPECT_TRUE(is_image_extension("x.bmp"));
  EXPECT_FALSE(is_image_extension("x.gif"));
  EXPECT_FALSE(is_image_extension("x.png.txt"));
  EXPECT_FALSE(is_image_extension("png"));
  EXPECT_FALSE(is_image_extension("dir.png/file"));
  EXPECT_EQ(image_format_from_extension("a.jpg"), ImageFormat::Jpeg);
  EXPECT_STREQ(image_format_name(ImageFormat::Webp), "WebP");
}

}  // namespace
}  // namespace lathe
