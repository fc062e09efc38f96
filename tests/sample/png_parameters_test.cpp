// A1111's parameters text (exact format, quoting, the reader), PNG text chunks (tEXt for
// Latin-1, iTXt otherwise, before IDAT, read back) and the atomic PNG writer.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <torch/torch.h>

#include "common/error.h"
#include "io/atomic_file.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"
#include "temp_dir.h"

namespace lathe {
namespace {

ImageRequest example_request() {
  ImageRequest r;
  r.prompt = "photo of a woman, red hair";
  r.negative = "blurry";
  r.width = 512;
  r.height = 768;
  r.steps = 20;
  r.cfg = 7.0;
  r.sampler = SamplerKind::EulerAncestral;
  r.seed = 1234;
  return r;
}

TEST(A1111Parameters, MatchesCreateInfotextFormat) {
  ModelIdentity model{"v1-5-pruned-emaonly", "6ce0161689"};
  std::vector<LoRAIdentity> loras{{"my_lora", "1a2b3c4d5e6f", 0.8}};
  EXPECT_EQ(a1111_parameters(example_request(), model, loras),
            "photo of a woman, red hair <lora:my_lora:0.8>\n"
            "Negative prompt: blurry\n"
            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: 6ce0161689, "
            "Model: v1-5-pruned-emaonly, Lora hashes: \"my_lora: 1a2b3c4d5e6f\"");
}

TEST(A1111Parameters, NoNegativeLineWhenEmptyAndQuotesOnlyWhenNeeded) {
  ImageRequest r = example_request();
  r.negative.clear();
  r.cfg = 7.5;
  r.clip_skip = 2;
  r.sampler = SamplerKind::DPMPP2MKarras;
  const std::string text = a1111_parameters(r, {"tiny-random:sd15", ""}, {});
  EXPECT_EQ(text,
            "photo of a woman, red hair\n"
            "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, "
            "Model: \"tiny-random:sd15\", Clip skip: 2");
  EXPECT_EQ(a1111_quote("plain"), "plain");
  EXPECT_EQ(a1111_quote("a, \"b\""), "\"a, \\\"b\\\"\"");
  EXPECT_EQ(a1111_quote("line\nbreak"), "\"line\\nbreak\"");
}

TEST(A1111Parameters, ReaderGetsEveryFieldBack) {
  ImageRequest r = example_request();
  r.prompt = "line one\nline two: with colon";
  const std::string text = a1111_parameters(r, {"model,name", "0123456789"}, {{"a,b:c", "aaaaaaaaaaaa", 1.0}});
  EXPECT_EQ(a1111_field(text, "Prompt"), "line one\nline two: with colon <lora:a,b:c:1>");
  EXPECT_EQ(a1111_field(text, "Negative prompt"), "blurry");
  EXPECT_EQ(a1111_field(text, "Steps"), "20");
  EXPECT_EQ(a1111_field(text, "Sampler"), "Euler a");
  EXPECT_EQ(a1111_field(text, "Seed"), "1234");
  EXPECT_EQ(a1111_field(text, "Size"), "512x768");
  EXPECT_EQ(a1111_field(text, "Model"), "model,name");
  EXPECT_EQ(a1111_field(text, "Model hash"), "0123456789");
  // A1111 strips ':' and ',' from the alias in Lora hashes.
  EXPECT_EQ(a1111_field(text, "Lora hashes"), "abc: aaaaaaaaaaaa");
  EXPECT_EQ(a1111_field(text, "Denoising strength"), "");
}

cv::Mat gradient(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 8, y * 8, 200);
  return m;
}

std::vector<std::string> chunk_types(const std::string& png) {
  std::vector<std::string> out;
  for (std::size_t at = 8; at + 8 <= png.size();) {
    const auto len = (std::uint32_t(std::uint8_t(png[at])) << 24) | (std::uint32_t(std::uint8_t(png[at + 1])) << 16) |
                     (std::uint32_t(std::uint8_t(png[at + 2])) << 8) | std::uint32_t(std::uint8_t(png[at + 3]));
    out.push_back(png.substr(at + 4, 4));
    at += 12 + len;
  }
  return out;
}

TEST(PngText, Latin1IsTextAndOtherTextIsITXtBeforeImageData) {
  const std::string png = encode_png(gradient(16, 8), {{"parameters", "café, 7"}, {"comment", "猫 cat"}});
  auto types = chunk_types(png);
  ASSERT_GE(types.size(), 4u);
  EXPECT_EQ(types[0], "IHDR");
  auto pos = [&](const std::string& t) { return std::find(types.begin(), types.end(), t) - types.begin(); };
  EXPECT_LT(pos("tEXt"), pos("IDAT"));
  EXPECT_LT(pos("iTXt"), pos("IDAT"));
  EXPECT_EQ(types.back(), "IEND");
  // The Latin-1 text is stored as Latin-1 (one byte for é), as Pillow writes it.
  EXPECT_NE(png.find(std::string("parameters\0caf\xe9, 7", 18)), std::string::npos);
  PngTexts texts = read_png_texts(png, "x.png");
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0], std::make_pair(std::string("parameters"), std::string("café, 7")));
  EXPECT_EQ(texts[1], std::make_pair(std::string("comment"), std::string("猫 cat")));
}

TEST(PngText, PixelsSurviveAndCrcIsValidForDecoders) {
  cv::Mat rgb = gradient(16, 8);
  const std::string png = encode_png(rgb, {{"parameters", "x"}});
  std::vector<uchar> bytes(png.begin(), png.end());
  cv::Mat back = cv::imdecode(bytes, cv::IMREAD_COLOR);  // libpng checks every chunk's CRC
  ASSERT_FALSE(back.empty());
  cv::Mat back_rgb;
  cv::cvtColor(back, back_rgb, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(back_rgb, rgb, cv::NORM_INF), 0);
}

TEST(PngText, BadInputIsAnError) {
  EXPECT_THROW(read_png_texts("not a png", "x.png"), Error);
  const std::string png = encode_png(gradient(4, 4));
  EXPECT_THROW(read_png_texts(png.substr(0, 20), "cut.png"), Error);
  EXPECT_THROW(encode_png(gradient(4, 4), {{"", "empty keyword"}}), Error);
  EXPECT_THROW(encode_png(cv::Mat(4, 4, CV_8UC1)), Error);
}

TEST(ParametersPng, WritesAtomicallyAndReadsBack) {
  test::TempDir dir;
  torch::Tensor image = torch::arange(4 * 6 * 3, torch::kInt64).remainder(256).to(torch::kUInt8).reshape({4, 6, 3});
  const auto path = dir / "00000-1.png";
  write_parameters_png(path, image, "a cat\nSteps: 4, Sampler: Euler, Seed: 1");
  const std::string bytes = read_file(path);
  PngTexts texts = read_png_texts(bytes, path.string());
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0].first, "parameters");
  EXPECT_EQ(a1111_field(texts[0].second, "Seed"), "1");
  // Only the file itself is left (no temporary).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 1);
  EXPECT_THROW(write_parameters_png(dir / "bad.png", torch::zeros({4, 4}), "x"), Error);
}

}  // namespace
}  // namespace lathe
