// build_training_set on datasets generated in a temporary folder: per-concept seeded
// validation split (at least one image, never a whole concept, none from a single image),
// a validation concept folder, regularization weights, captions as the tags joined, kohya's
// tag frequency, bucketing off, and the errors when nothing is left to train.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "common/error.h"
#include "data_fixtures.h"
#include "train/config/train_config.h"
#include "train/data/training_set.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_solid_image;
using test::write_text;

// 5_cat: 4 square images with captions; 1_dog: one landscape image.
void write_two_concepts(const fs::path& root) {
  for (int i = 0; i < 4; ++i) {
    write_solid_image(root / "5_cat" / fmt::format("c{}.png", i), 128, 128);
    write_text(root / "5_cat" / fmt::format("c{}.txt", i), fmt::format("Cat, b, b, pose{}\n", i));
  }
  write_solid_image(root / "1_dog" / "d0.png", 192, 128);
  write_text(root / "1_dog" / "d0.txt", "dog,  running\nfield");
}

// A profile over dir/data at 128 px with small buckets; `dataset_keys` go into [dataset],
// `sections` after [training].
TrainConfig config_for(const TempDir& dir, const std::string& dataset_keys,
                       const std::string& sections = "") {
  const std::string text = fmt::format(R"(
[model]
path = "tiny-random:sd15"

[dataset]
path = "data"
min_bucket_reso = 64
max_bucket_reso = 256
bucket_reso_steps = 64
{}

[training]
resolution = 128
batch_size = 1

{}
)",
                                       dataset_keys, sections);
  return parse_train_config(text, dir / "p.toml");
}

TEST(DataTrainingSet, ExamplesFollowThePlan) {
  TempDir dir;
  write_two_concepts(dir / "data");
  const TrainingSet set = build_training_set(config_for(dir, ""));
  ASSERT_EQ(set.train.size(), 5u);
  ASSERT_EQ(set.plan.images.size(), 5u);
  EXPECT_TRUE(set.validation.empty());
  EXPECT_TRUE(set.warnings.empty()) << set.warnings[0];
  EXPECT_EQ(set.concept_names, (std::vector<std::string>{"1_dog", "5_cat"}));
  for (std::size_t i = 0; i < set.train.size(); ++i) {
    EXPECT_EQ(set.train[i].image_path, set.plan.images[i].path);
    EXPECT_EQ(set.train[i].assignment.bucket, set.plan.images[i].assignment.bucket);
    EXPECT_EQ(set.train[i].concept_index, set.plan.images[i].concept_index);
  }
  const TrainingExample& dog = set.train[0];
  EXPECT_EQ(dog.caption, "dog, running, field");  // the second line is read as more tags
  EXPECT_EQ(dog.image_width, 192);
  EXPECT_EQ(dog.image_height, 128);
  EXPECT_EQ(set.train[1].caption, "Cat, b, b, pose0");
  EXPECT_EQ(set.plan.total_batches, 4 * 5 + 1);
}

TEST(DataTrainingSet, TagFrequencyIsKohyas) {
  TempDir dir;
  write_two_concepts(dir / "data");
  const TrainingSet set = build_training_set(config_for(dir, ""));
  const auto& cat = set.tag_frequency.at("5_cat");
  EXPECT_EQ(cat.at("cat"), 4);  // lower-cased
  EXPECT_EQ(cat.at("b"), 8);    // twice per caption, counted twice as kohya does
  EXPECT_EQ(cat.at("pose2"), 1);
  EXPECT_EQ(set.tag_frequency.at("1_dog").at("field"), 1);
}

TEST(DataTrainingSet, SplitHoldsOutPerConceptWithTheSeed) {
  TempDir dir;
  write_two_concepts(dir / "data");
  std::set<std::string> chosen;
  for (int seed = 0; seed < 12; ++seed) {
    const TrainingSet set = build_training_set(
        config_for(dir, "", fmt::format("[validation]\nsplit = 0.2\nseed = {}\n", seed)));
    // cat: round(0.2 x 4) = 1 held out; dog has a single image and is never split.
    ASSERT_EQ(set.validation.size(), 1u);
    EXPECT_EQ(set.validation[0].concept_index, 1u);
    EXPECT_EQ(set.concept_names[set.validation[0].concept_index], "5_cat");
    EXPECT_EQ(set.train.size(), 4u);
    for (const auto& ex : set.train) EXPECT_NE(ex.image_path, set.validation[0].image_path);
    EXPECT_EQ(set.validation[0].assignment.bucket, (BucketSize{128, 128}));
    EXPECT_FALSE(set.validation[0].caption.empty());
    chosen.insert(set.validation[0].image_path.filename().string());
    // The tag frequency describes what is trained.
    int poses = 0;
    for (const auto& [tag, n] : set.tag_frequency.at("5_cat")) poses += tag.rfind("pose", 0) == 0;
    EXPECT_EQ(poses, 3);
  }
  EXPECT_GT(chosen.size(), 1u);  // different seeds hold out different images

  const auto a = build_training_set(config_for(dir, "", "[validation]\nsplit = 0.2\nseed = 5\n"));
  const auto b = build_training_set(config_for(dir, "", "[validation]\nsplit = 0.2\nseed = 5\n"));
  EXPECT_EQ(a.validation[0].image_path, b.validation[0].image_path);
}

TEST(DataTrainingSet, SplitNeverTakesAWholeConcept) {
  TempDir dir;
  write_two_concepts(dir / "data");
  const TrainingSet set = build_training_set(config_for(dir, "", "[validation]\nsplit = 0.9\n"));
  EXPECT_EQ(set.validation.size(), 3u);  // round(3.6) = 4, capped at 4 - 1
  EXPECT_EQ(set.train.size(), 2u);
}

TEST(DataTrainingSet, ValidationConceptIsScannedAsItsOwnConcept) {
  TempDir dir;
  write_two_concepts(dir / "data");
  write_solid_image(dir / "val" / "v0.png", 64, 256);
  write_solid_image(dir / "val" / "v1.png", 128, 128);
  write_text(dir / "val" / "v1.txt", "held out");
  write_text(dir / "val" / "v2.png", "not a png");
  const TrainConfig config =
      config_for(dir, "on_bad_image = \"skip\"", "[validation]\nconcept = \"val\"\n");
  const TrainingSet set = build_training_set(config);
  EXPECT_EQ(set.train.size(), 5u);
  ASSERT_EQ(set.validation.size(), 2u);
  ASSERT_EQ(set.concept_names.size(), 3u);
  EXPECT_EQ(set.concept_names[2], "val");
  for (const auto& ex : set.validation) EXPECT_EQ(ex.concept_index, 2u);
  EXPECT_EQ(set.validation[0].assignment.bucket, (BucketSize{64, 256}));
  EXPECT_EQ(set.validation[0].assignment.bucket,
            BucketSelector(bucket_settings(config)).select(64, 256).bucket);
  EXPECT_EQ(set.validation[1].caption, "held out");
  ASSERT_EQ(set.warnings.size(), 1u);
  EXPECT_NE(set.warnings[0].find("v2.png"), std::string::npos) << set.warnings[0];
}

TEST(DataTrainingSet, EmptyValidationConceptIsAnError) {
  TempDir dir;
  write_two_concepts(dir / "data");
  fs::create_directories(dir / "val");
  try {
    build_training_set(config_for(dir, "", "[validation]\nconcept = \"val\"\n"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("val"), std::string::npos) << e.what();
  }
}

TEST(DataTrainingSet, RegularizationConceptsKeepTheirWeight) {
  TempDir dir;
  write_two_concepts(dir / "data");
  for (int i = 0; i < 2; ++i) write_solid_image(dir / "reg" / fmt::format("r{}.png", i), 128, 128);
  const std::string concepts = R"(
[[concepts]]
path = "5_cat"

[[concepts]]
path = "../reg"
is_regularization = true
loss_weight = 0.25
)";
  const TrainingSet set =
      build_training_set(config_for(dir, "", concepts + "\n[validation]\nsplit = 0.5\n"));
  std::size_t reg = 0;
  for (const auto& ex : set.train) {
    if (set.concept_names[ex.concept_index] != "reg") continue;
    ++reg;
    EXPECT_TRUE(ex.is_regularization);
    EXPECT_DOUBLE_EQ(ex.loss_weight, 0.25);
  }
  EXPECT_EQ(reg, 2u);  // regularization images are never held out
  for (const auto& ex : set.validation) EXPECT_FALSE(ex.is_regularization);
}

TEST(DataTrainingSet, BucketingOffUsesTheResolutionAsTheOnlyBucket) {
  TempDir dir;
  write_two_concepts(dir / "data");
  const std::string text = R"(
[model]
path = "tiny-random:sd15"

[dataset]
path = "data"
bucketing = false

[training]
resolution = [192, 128]
)";
  const TrainingSet set = build_training_set(parse_train_config(text, dir / "p.toml"));
  ASSERT_EQ(set.plan.buckets.size(), 1u);
  for (const auto& ex : set.train) {
    EXPECT_EQ(ex.assignment.bucket, (BucketSize{192, 128}));
    EXPECT_GE(ex.assignment.resized_width, 192);
    EXPECT_GE(ex.assignment.resized_height, 128);
  }
  // A 128x128 image covers 192x128 at 192x192 and is centre-cropped by 32 rows.
  EXPECT_EQ(set.train[1].assignment.resized_height, 192);
  EXPECT_EQ(set.train[1].assignment.crop_top, 32);
}

TEST(DataTrainingSet, UnusableImagesStopTheRunBeforeItStarts) {
  // on_bad_image = "stop" (the default): one error naming every bad image and what to do.
  TempDir dir;
  write_two_concepts(dir / "data");
  write_text(dir / "data" / "5_cat" / "broken.png", "not a png");
  const std::string png = test::encode_png(64, 64);
  write_text(dir / "data" / "5_cat" / "cut.png", png.substr(0, png.size() / 2));
  try {
    build_training_set(config_for(dir, ""));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("2 images training cannot use"), std::string::npos) << m;
    EXPECT_NE(m.find("broken.png"), std::string::npos) << m;
    EXPECT_NE(m.find("cut.png: truncated PNG"), std::string::npos) << m;
    EXPECT_NE(m.find("dataset.on_bad_image = \"skip\""), std::string::npos) << m;
  }
}

TEST(DataTrainingSet, UnusableImagesAreLeftOutUnderSkip) {
  TempDir dir;
  write_two_concepts(dir / "data");
  write_text(dir / "data" / "5_cat" / "broken.png", "not a png");
  const TrainingSet set = build_training_set(config_for(dir, "on_bad_image = \"skip\""));
  EXPECT_EQ(set.train.size(), 5u);
  ASSERT_EQ(set.warnings.size(), 1u);
  EXPECT_NE(set.warnings[0].find("broken.png"), std::string::npos) << set.warnings[0];
  EXPECT_NE(set.warnings[0].find("not trained"), std::string::npos) << set.warnings[0];
  for (const auto& ex : set.train) EXPECT_NE(ex.image_path.filename(), "broken.png");
}

TEST(DataTrainingSet, SkippingBadImagesKeepsTheOthersInTheSameOrder) {
  // Determinism: the good images' examples and buckets are those of the same set without the
  // bad file.
  TempDir clean, dirty;
  write_two_concepts(clean / "data");
  write_two_concepts(dirty / "data");
  write_text(dirty / "data" / "5_cat" / "c1b.png", "not a png");
  const TrainingSet a = build_training_set(config_for(clean, "on_bad_image = \"skip\""));
  const TrainingSet b = build_training_set(config_for(dirty, "on_bad_image = \"skip\""));
  ASSERT_EQ(a.train.size(), b.train.size());
  for (std::size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_EQ(a.train[i].image_path.filename(), b.train[i].image_path.filename());
    EXPECT_EQ(a.train[i].assignment.bucket, b.train[i].assignment.bucket);
  }
}

TEST(DataTrainingSet, ImageOverTheDecodeLimitIsBad) {
  TempDir dir;
  write_two_concepts(dir / "data");
  write_text(dir / "data" / "5_cat" / "bomb.png", test::png_claiming(30000, 30000));
  try {
    build_training_set(config_for(dir, ""));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.png: the image is 30000x30000 (900 megapixels), "
                                         "too large to decode"),
              std::string::npos)
        << e.what();
  }
}

TEST(DataTrainingSet, NothingToTrainIsAnErrorNamingTheDataset) {
  TempDir dir;
  fs::create_directories(dir / "data" / "1_empty");
  try {
    build_training_set(config_for(dir, ""));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nothing to train"), std::string::npos) << e.what();
  }
}

TEST(DataTrainingSet, DropPolicyWithNoFullBatchIsAnError) {
  TempDir dir;
  write_solid_image(dir / "data" / "1_a" / "a.png", 128, 128);
  const std::string text = R"(
[model]
path = "tiny-random:sd15"

[dataset]
path = "data"
remainder_policy = "drop"

[training]
resolution = 128
batch_size = 4
)";
  try {
    build_training_set(parse_train_config(text, dir / "p.toml"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch_size"), std::string::npos) << e.what();
  }
}

TEST(DataTrainingSet, BucketSettingsComeFromTheProfile) {
  TempDir dir;
  TrainConfig c = config_for(dir, "bucket_no_upscale = true");
  BucketSettings s = bucket_settings(c);
  EXPECT_EQ(s.width, 128);
  EXPECT_EQ(s.height, 128);
  EXPECT_EQ(s.min_bucket_reso, 64);
  EXPECT_EQ(s.max_bucket_reso, 256);
  EXPECT_EQ(s.bucket_reso_steps, 64);
  EXPECT_TRUE(s.no_upscale);
  EXPECT_FALSE(s.single_bucket);
}

}  // namespace
}  // namespace lathe
