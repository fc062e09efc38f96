// `lathe buckets` end to end on a generated kohya dataset: the JSON lists every image with its
// bucket and the per-bucket batch counts for the chosen policy; the text names the images
// never trained; bad flags are usage errors (exit 2), a missing folder an input error (1).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "image_fixtures.h"
#include "run_command.h"
#include "temp_dir.h"

using lathe::test::run_lathe;
using lathe::test::shell_quote;
using lathe::test::TempDir;
using nlohmann::json;

namespace {

// 2_wide: 3 images 200x120 (-> 640x384, 6 entries); 1_square: 5 images 128x128 (-> 512x512,
// 5 entries); 1_tall: 2 images 120x200 (-> 384x640, 2 entries).
void make_dataset(const TempDir& dir) {
  for (int i = 0; i < 3; ++i)
    lathe::test::write_image(dir / ("2_wide/w" + std::to_string(i) + ".png"), 200, 120);
  for (int i = 0; i < 5; ++i)
    lathe::test::write_image(dir / ("1_square/s" + std::to_string(i) + ".png"), 128, 128);
  for (int i = 0; i < 2; ++i)
    lathe::test::write_image(dir / ("1_tall/t" + std::to_string(i) + ".png"), 120, 200);
}

const json* bucket_of(const json& doc, int w, int h) {
  for (const auto& b : doc["buckets"])
    if (b["bucket"][0] == w && b["bucket"][1] == h) return &b;
  return nullptr;
}

}  // namespace

TEST(BucketsCli, JsonListsEveryImageAndTheDropPolicyCounts) {
  TempDir dir;
  make_dataset(dir);
  auto r = run_lathe("buckets " + shell_quote(dir.path().string()) +
                     " --resolution 512 --batch-size 4 --policy drop --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json doc = json::parse(r.output);
  EXPECT_EQ(doc["schema"], "lathe.buckets");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["policy"], "drop");
  EXPECT_EQ(doc["batch_size"], 4);
  EXPECT_EQ(doc["resolutions"].size(), 17u);
  ASSERT_EQ(doc["images"].size(), 10u);
  for (const auto& im : doc["images"]) {
    std::string path = im["path"];
    if (path.rfind("2_wide/", 0) == 0) {
      EXPECT_EQ(im["bucket"], json({640, 384})) << path;
      EXPECT_EQ(im["resized"], json({640, 384})) << path;
      EXPECT_EQ(im["repeats"], 2);
      EXPECT_EQ(im["fate"], "rarely") << path;
      EXPECT_TRUE(im.contains("why"));
    } else if (path.rfind("1_square/", 0) == 0) {
      EXPECT_EQ(im["bucket"], json({512, 512})) << path;
      EXPECT_EQ(im["upscaled"], true);
      EXPECT_EQ(im["fate"], "trained") << path;
      EXPECT_DOUBLE_EQ(im["views_per_epoch"].get<double>(), 0.8);
    } else {
      EXPECT_EQ(path.rfind("1_tall/", 0), 0u) << path;
      EXPECT_EQ(im["bucket"], json({384, 640})) << path;
      EXPECT_EQ(im["concept"], "tall");
      EXPECT_EQ(im["fate"], "never") << path;
    }
  }
  const json* wide = bucket_of(doc, 640, 384);
  ASSERT_NE(wide, nullptr);
  EXPECT_EQ((*wide)["images"], 3);
  EXPECT_EQ((*wide)["entries"], 6);
  EXPECT_EQ((*wide)["batches"], 1);
  EXPECT_EQ((*wide)["dropped"], 2);
  const json* tall = bucket_of(doc, 384, 640);
  ASSERT_NE(tall, nullptr);
  EXPECT_EQ((*tall)["batches"], 0);
  EXPECT_EQ((*tall)["fate"], "never");
  EXPECT_EQ(doc["totals"]["batches"], 2);
  EXPECT_EQ(doc["totals"]["never_trained"], 2);
  EXPECT_EQ(doc["totals"]["rarely_trained"], 3);
}

TEST(BucketsCli, TextNamesNeverTrainedImagesAndNoUpscaleKeepsSizes) {
  TempDir dir;
  make_dataset(dir);
  auto r =
      run_lathe("buckets " + shell_quote(dir.path().string()) + " --batch-size 4 --policy drop");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Never trained (2 images)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1_tall/t0.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 steps per epoch"), std::string::npos) << r.output;

  auto p = run_lathe("buckets " + shell_quote(dir.path().string()) +
                     " --batch-size 4 --policy pad --no-upscale --json");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  json doc = json::parse(p.output);
  EXPECT_TRUE(doc["resolutions"].empty());
  for (const auto& im : doc["images"]) {
    EXPECT_EQ(im["resized"], im["size"]) << im.dump();  // never enlarged
    EXPECT_EQ(im["fate"], "trained");
  }
  EXPECT_NE(bucket_of(doc, 128, 128), nullptr);
  EXPECT_EQ(doc["totals"]["padded"], (8 - 5) + (4 - 2) + (8 - 6));
}

TEST(BucketsCli, UsageAndInputErrors) {
  // Each launch of the real binary costs a libtorch load: keep this to three.
  TempDir dir;
  std::string d = shell_quote(dir.path().string());
  EXPECT_EQ(run_lathe("buckets " + d + " --policy skip").exit_code, 2);
  EXPECT_EQ(run_lathe("buckets " + d + " --resolution 1536").exit_code, 2);  // above max 1024
  EXPECT_EQ(run_lathe("buckets " + shell_quote((dir / "missing").string())).exit_code, 1);
}

TEST(BucketsCli, ProfileConceptsWithTheirRepeats) {
  TempDir dir;
  make_dataset(dir);
  lathe::test::write_text(dir / "p.toml",
                          "[dataset]\npath = " + json(dir.path().string()).dump() +
                              "\n\n[[concepts]]\npath = \"1_square\"\nrepeats = 3\n");
  auto r = run_lathe("buckets " + shell_quote((dir / "p.toml").string()) +
                     " --batch-size 4 --policy drop --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json doc = json::parse(r.output);
  ASSERT_EQ(doc["images"].size(), 5u);  // only the listed concept
  ASSERT_EQ(doc["buckets"].size(), 1u);
  EXPECT_EQ(doc["buckets"][0]["entries"], 15);  // 5 images x 3 repeats from the profile
  EXPECT_EQ(doc["buckets"][0]["batches"], 3);
  EXPECT_EQ(doc["buckets"][0]["dropped"], 3);
}
