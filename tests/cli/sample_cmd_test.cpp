// `lathe sample` through the real binary: a tiny SD 1.5 image with its parameters chunk, seeds
// counting up, captions in a kohya concept folder, a prompts file, and clear errors for a
// missing model, a bad --size, a bad prompts line and conflicting prompt flags.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <torch/torch.h>

#include "embedding/embedding_file.h"
#include "embedding/embedding_install.h"
#include "io/atomic_file.h"
#include "run_command.h"
#include "sample/png_parameters.h"
#include "sample/png_text.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "train/config/train_config.h"
#include "train/model/base_model.h"

namespace lathe::test {
namespace {

const std::string kTinyModel = "sample tiny-random:sd15 --device cpu --dtype fp32 ";
const std::string kTiny = kTinyModel + "--size 64x64 --steps 2 ";

std::string parameters_of(const std::filesystem::path& png) {
  return read_png_texts(read_file(png), png.string()).at(0).second;
}

TEST(SampleCommand, WritesPngsWithParametersAndSeedsCountUp) {
  TempDir dir;
  auto r = run_lathe(kTiny + "--prompt 'a red fox' --negative 'blurry' --seed 41 --count 2 --cfg 6.5 --sampler ddim --out " +
                     shell_quote((dir / "out").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + (dir / "out" / "00000-41.png").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 images in"), std::string::npos) << r.output;
  const std::string params = parameters_of(dir / "out" / "00001-42.png");
  EXPECT_EQ(a1111_field(params, "Prompt"), "a red fox");
  EXPECT_EQ(a1111_field(params, "Negative prompt"), "blurry");
  EXPECT_EQ(a1111_field(params, "Seed"), "42");
  EXPECT_EQ(a1111_field(params, "Sampler"), "DDIM");
  EXPECT_EQ(a1111_field(params, "CFG scale"), "6.5");
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "00000-41.txt"));  // not a concept folder
}

TEST(SampleCommand, ConceptFolderGetsCaptionsAndPromptsFileWorks) {
  TempDir dir;
  write_text(dir / "prompts.txt", "# two prompts\nphoto of a woman --d 7\nphoto of a man --d 9 --ss euler\n");
  auto r = run_lathe(kTiny + "--prompts " + shell_quote((dir / "prompts.txt").string()) + " --out " +
                     shell_quote((dir / "reg" / "1_person").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir / "reg" / "1_person" / "00000-7.txt"), "photo of a woman");
  EXPECT_EQ(read_file(dir / "reg" / "1_person" / "00001-9.txt"), "photo of a man");
  EXPECT_EQ(a1111_field(parameters_of(dir / "reg" / "1_person" / "00001-9.png"), "Sampler"), "Euler");
}

TEST(SampleCommand, CtrlCStopsCleanlyWithoutAPartialFile) {
  TempDir dir;
  // A long job, interrupted a few seconds in: exit code 130, every PNG left is complete, and no
  // temporary file stays behind.
  // The signal goes once the model is loaded (its note is printed), so it lands mid-render.
  const std::string log = shell_quote((dir / "log.txt").string());
  const std::string command = shell_quote(lathe_binary().string()) + " " + kTinyModel +
                              "--size 64x64 --prompt x --seed 1 --count 50 --steps 500 --out " +
                              shell_quote((dir / "out").string()) + " >" + log + " 2>&1 & pid=$!; " +
                              "for i in $(seq 1 1200); do grep -q '^model ' " + log +
                              " && break; sleep 0.1; done; sleep 1; kill -INT $pid; wait $pid; echo rc=$?; cat " + log;
  auto r = run_command(command);
  EXPECT_NE(r.output.find("rc=130"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stopped (Ctrl-C)"), std::string::npos) << r.output;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "out", ec)) {
    EXPECT_EQ(entry.path().extension(), ".png") << entry.path();
    EXPECT_NO_THROW(read_png_texts(read_file(entry.path()), entry.path().string())) << entry.path();
  }
}

TEST(SampleCommand, ErrorsAreClear) {
  TempDir dir;
  auto missing = run_lathe("sample " + shell_quote((dir / "nope.safetensors").string()) + " --prompt x --out " +
                           shell_quote((dir / "out").string()));
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("nope.safetensors: no such file or folder"), std::string::npos) << missing.output;

  auto bad_size = run_lathe(kTinyModel + "--prompt x --size 64by64");
  EXPECT_EQ(bad_size.exit_code, 1) << bad_size.output;
  EXPECT_NE(bad_size.output.find("--size 64by64: write WIDTHxHEIGHT"), std::string::npos) << bad_size.output;

  auto odd_size = run_lathe("sample tiny-random:sd15 --size 60x64 --steps 2 --device cpu --prompt x --out " +
                            shell_quote((dir / "odd").string()));
  EXPECT_EQ(odd_size.exit_code, 1) << odd_size.output;
  EXPECT_NE(odd_size.output.find("60x64: width and height must be positive multiples of 16"), std::string::npos)
      << odd_size.output;

  write_text(dir / "bad.txt", "fine\nbroken --w wide\n");
  auto bad_line = run_lathe(kTiny + "--prompts " + shell_quote((dir / "bad.txt").string()));
  EXPECT_EQ(bad_line.exit_code, 1) << bad_line.output;
  EXPECT_NE(bad_line.output.find((dir / "bad.txt").string() + ":2: width (--w) 'wide'"), std::string::npos)
      << bad_line.output;

  auto both = run_lathe(kTiny + "--prompt x --prompts " + shell_quote((dir / "bad.txt").string()));
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("either --prompt TEXT or --prompts FILE"), std::string::npos) << both.output;

  auto bad_sampler = run_lathe(kTiny + "--prompt x --sampler heun");
  EXPECT_EQ(bad_sampler.exit_code, 1) << bad_sampler.output;
  EXPECT_NE(bad_sampler.output.find("--sampler"), std::string::npos) << bad_sampler.output;
}

// --tiled-decode reaches the decoder: above one tile (64 latent px) the tiled image differs from
// the full decode in the last bits but stays far closer to it than another seed's image.
TEST(SampleCommand, TiledDecodeIsAskedForAndStaysCloseToTheFullDecode) {
  TempDir dir;
  const std::string big = kTinyModel + "--size 640x576 --steps 1 --prompt x ";
  auto render = [&](int seed, const std::string& flags, const std::string& out) {
    auto r = run_lathe(big + "--seed " + std::to_string(seed) + flags + " --out " + shell_quote((dir / out).string()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return cv::imread((dir / out / ("00000-" + std::to_string(seed) + ".png")).string());
  };
  const cv::Mat full = render(3, "", "full");
  const cv::Mat tiled = render(3, " --tiled-decode", "tiled");
  const cv::Mat other = render(4, "", "other");
  ASSERT_FALSE(full.empty());
  ASSERT_FALSE(tiled.empty());
  ASSERT_FALSE(other.empty());
  const double tiled_gap = cv::norm(full, tiled, cv::NORM_L1) / full.total();
  const double seed_gap = cv::norm(full, other, cv::NORM_L1) / full.total();
  EXPECT_GT(tiled_gap, 0.0) << "the tiled path was not taken";
  EXPECT_LT(tiled_gap, 0.25 * seed_gap) << tiled_gap << " vs " << seed_gap;
}

// An embedding whose vectors are the token rows of "red fox" renders "a <word>" exactly as the
// base model renders "a red fox"; without --embedding the word is ordinary text and the image
// differs; an embedding of another family's widths is refused naming the file.
TEST(SampleCommand, EmbeddingWordsRenderAsTheirVectors) {
  TempDir dir;
  ModelConfig config;
  config.path = "tiny-random:sd15";
  BaseModel model = load_base_model(config, torch::kCPU);
  const auto file = dir.path() / "zqxword.safetensors";
  write_embedding_file(file, embedding_from_init_word(model, "zqxword", 2, "red fox"));
  const std::string common = kTiny + "--seed 7 --out ";
  auto render = [&](const std::string& out, const std::string& flags) {
    auto r = run_lathe(common + shell_quote((dir.path() / out).string()) + " " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return cv::imread((dir.path() / out / "00000-7.png").string(), cv::IMREAD_UNCHANGED);
  };
  const cv::Mat with_word = render("word", "--prompt 'a zqxword' --embedding " + shell_quote(file.string()));
  const cv::Mat base = render("base", "--prompt 'a red fox'");
  const cv::Mat plain = render("plain", "--prompt 'a zqxword'");
  ASSERT_FALSE(with_word.empty());
  ASSERT_FALSE(base.empty());
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(cv::norm(with_word, base, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(plain, base, cv::NORM_INF), 0.0);

  Embedding xl;
  xl.name = "xlword";
  xl.vectors = {torch::randn({2, 768}), torch::randn({2, 1280})};
  const auto xl_file = dir.path() / "xlword.safetensors";
  write_embedding_file(xl_file, xl);
  auto refused = run_lathe(common + shell_quote((dir.path() / "xl").string()) + " --prompt x --embedding " +
                           shell_quote(xl_file.string()));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--embedding " + xl_file.string()), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace lathe::test
