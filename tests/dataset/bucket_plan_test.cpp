// The bucket planner: kohya's answers for 160 image sizes in three settings (fixture), the
// bucket lists, Lathe's documented rule where kohya breaks, and the three remainder policies
// on in-memory datasets (repeats, regularization balancing, skipped images).
#include "dataset/bucket_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "test_paths.h"

using lathe::BucketAssignment;
using lathe::BucketSelector;
using lathe::BucketSettings;
using lathe::BucketSize;
using lathe::RemainderPolicy;
using lathe::TrainFate;

namespace {

using Row = std::map<std::string, std::string>;

std::vector<Row> read_tsv(const std::string& rel) {
  std::ifstream in(lathe::test::shared_dir() / rel);
  std::vector<Row> rows;
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string cell;
    while (std::getline(ss, cell, '\t')) out.push_back(cell);
    return out;
  };
  while (std::getline(in, line)) {
    if (header.empty()) {
      header = split(line);
      continue;
    }
    auto cells = split(line);
    Row r;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) r[header[i]] = cells[i];
    rows.push_back(r);
  }
  return rows;
}

BucketSettings s512() {
  return {};
}
BucketSettings nu512() {
  BucketSettings s;
  s.no_upscale = true;
  return s;
}
BucketSettings s1024() {
  BucketSettings s;
  s.width = s.height = 1024;
  s.max_bucket_reso = 2048;
  return s;
}

std::string describe(const Row& r, const std::string& prefix, const BucketAssignment& a) {
  return "row idx=" + r.at("idx") + " group=" + r.at("group") + " size=" + r.at("w") + "x" +
         r.at("h") + " [" + prefix + "]: expected bucket " + r.at(prefix + "bucket_w") + "x" +
         r.at(prefix + "bucket_h") + " resized " + r.at(prefix + "resized_w") + "x" +
         r.at(prefix + "resized_h") + ", got bucket " + std::to_string(a.bucket.width) + "x" +
         std::to_string(a.bucket.height) + " resized " + std::to_string(a.resized_width) + "x" +
         std::to_string(a.resized_height);
}

void expect_row(const Row& r, const std::string& prefix, const BucketAssignment& a) {
  std::string what = describe(r, prefix, a);
  EXPECT_FALSE(a.degenerate) << what;
  EXPECT_EQ(a.bucket.width, std::stoi(r.at(prefix + "bucket_w"))) << what;
  EXPECT_EQ(a.bucket.height, std::stoi(r.at(prefix + "bucket_h"))) << what;
  EXPECT_EQ(a.resized_width, std::stoi(r.at(prefix + "resized_w"))) << what;
  EXPECT_EQ(a.resized_height, std::stoi(r.at(prefix + "resized_h"))) << what;
  // The centred crop of the fixture README.
  EXPECT_EQ(a.crop_left, (a.resized_width - a.bucket.width) / 2) << what;
  EXPECT_EQ(a.crop_top, (a.resized_height - a.bucket.height) / 2) << what;
}

// Lathe's rule where kohya has no usable answer (bucket_plan.h, select_bucket).
void expect_degenerate_rule(const Row& r, const BucketSettings& s, const BucketAssignment& a) {
  std::string what = "row idx=" + r.at("idx") + " size=" + r.at("w") + "x" + r.at("h") +
                     " flags=" + r.at("nu512_flags") + ": got bucket " +
                     std::to_string(a.bucket.width) + "x" + std::to_string(a.bucket.height) +
                     " resized " + std::to_string(a.resized_width) + "x" +
                     std::to_string(a.resized_height);
  int w = std::stoi(r.at("w")), h = std::stoi(r.at("h"));
  const int step = s.bucket_reso_steps;
  EXPECT_TRUE(a.degenerate) << what;
  EXPECT_GE(a.bucket.width, step) << what;
  EXPECT_GE(a.bucket.height, step) << what;
  EXPECT_EQ(a.bucket.width % step, 0) << what;
  EXPECT_EQ(a.bucket.height % step, 0) << what;
  EXPECT_LE(a.bucket.area(), static_cast<long long>(s.width) * s.height) << what;
  EXPECT_GE(a.resized_width, a.bucket.width) << what;
  EXPECT_GE(a.resized_height, a.bucket.height) << what;
  // The short side is raised to exactly one step (after any downscale to the budget).
  EXPECT_EQ(std::min(a.resized_width, a.resized_height), step) << what;
  // The aspect ratio is kept to within the rounding of one pixel.
  double ar = static_cast<double>(w) / h;
  double rar = static_cast<double>(a.resized_width) / a.resized_height;
  double tol = std::max(ar, 1 / ar) / step + 1e-9;
  EXPECT_NEAR(std::max(rar, 1 / rar), std::max(ar, 1 / ar), std::max(ar, 1 / ar) * tol) << what;
  // Enlarged only when a side of the image itself is below one step (20000x300 is shrunk).
  EXPECT_EQ(a.upscaled, std::min(w, h) < step) << what;
}

}  // namespace

TEST(BucketFixtures, BucketListsMatchKohya) {
  LATHE_REQUIRE_SHARED("fixtures/buckets/resos_512.tsv");
  for (auto [file, settings] : {std::pair{"fixtures/buckets/resos_512.tsv", s512()},
                                std::pair{"fixtures/buckets/resos_1024.tsv", s1024()}}) {
    auto rows = read_tsv(file);
    auto resos = lathe::make_bucket_resolutions(settings);
    ASSERT_EQ(resos.size(), rows.size()) << file;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(resos[i].width, std::stoi(rows[i]["bucket_w"])) << file << " idx " << i;
      EXPECT_EQ(resos[i].height, std::stoi(rows[i]["bucket_h"])) << file << " idx " << i;
      EXPECT_EQ(resos[i].aspect(), std::strtod(rows[i]["aspect"].c_str(), nullptr))
          << file << " idx " << i;
    }
  }
  EXPECT_TRUE(lathe::make_bucket_resolutions(nu512()).empty());
}

TEST(BucketFixtures, EveryRowMatchesKohyaOrTheDocumentedRule) {
  LATHE_REQUIRE_SHARED("fixtures/buckets/cases.tsv");
  auto rows = read_tsv("fixtures/buckets/cases.tsv");
  ASSERT_EQ(rows.size(), 160u);
  BucketSelector normal(s512()), no_up(nu512()), sdxl(s1024());
  int degenerate_rows = 0, kohya_nu_rows = 0;
  for (const Row& r : rows) {
    int w = std::stoi(r.at("w")), h = std::stoi(r.at("h"));
    expect_row(r, "s512_", normal.select(w, h));

    BucketAssignment x = sdxl.select(w, h);
    expect_row(r, "s1024_", x);
    for (auto [col, got] :
         {std::pair{"s1024_crop_l", x.ltrb.left}, std::pair{"s1024_crop_t", x.ltrb.top},
          std::pair{"s1024_crop_r", x.ltrb.right}, std::pair{"s1024_crop_b", x.ltrb.bottom}}) {
      EXPECT_EQ(got, std::strtod(r.at(col).c_str(), nullptr))
          << "row idx=" << r.at("idx") << " size=" << w << "x" << h << " column " << col
          << ": expected " << r.at(col) << ", got " << got;
    }

    const std::string flags = r.at("nu512_flags");
    BucketAssignment n = no_up.select(w, h);
    if (flags.find("zero_division") != std::string::npos ||
        flags.find("zero_side") != std::string::npos) {
      ++degenerate_rows;
      expect_degenerate_rule(r, nu512(), n);
    } else {
      ++kohya_nu_rows;  // includes over_max and below_min: kohya's answer exactly
      expect_row(r, "nu512_", n);
    }
  }
  EXPECT_EQ(degenerate_rows, 19 + 5);
  EXPECT_EQ(kohya_nu_rows, 160 - 24);
}

TEST(BucketDegenerate, HandComputedAnswers) {
  BucketSelector sel(nu512());
  struct Case {
    int w, h, bw, bh, rw, rh, left, top;
  };
  for (const Case& c :
       {Case{63, 64, 64, 64, 64, 65, 0, 0}, Case{1, 1, 64, 64, 64, 64, 0, 0},
        Case{40, 500, 64, 768, 64, 800, 0, 16}, Case{593, 46, 768, 64, 825, 64, 28, 0},
        Case{1000, 1, 4096, 64, 64000, 64, 29952, 0},      // area cap
        Case{10000, 50, 4096, 64, 12800, 64, 4352, 0}}) {  // above the budget
    auto a = sel.select(c.w, c.h);
    std::string what = std::to_string(c.w) + "x" + std::to_string(c.h);
    EXPECT_TRUE(a.degenerate) << what;
    EXPECT_EQ(a.bucket, (BucketSize{c.bw, c.bh}))
        << what << " got " << a.bucket.width << "x" << a.bucket.height;
    EXPECT_EQ(a.resized_width, c.rw) << what;
    EXPECT_EQ(a.resized_height, c.rh) << what;
    EXPECT_EQ(a.crop_left, c.left) << what;
    EXPECT_EQ(a.crop_top, c.top) << what;
  }
  // The normal mode never needs the rule, whatever the size.
  EXPECT_FALSE(BucketSelector(s512()).select(1, 1).degenerate);
}

TEST(BucketSelect, ExactAndNearestAndErrors) {
  BucketSelector sel(s512());
  auto a = sel.select(640, 384);  // exactly a bucket: no resize, no crop
  EXPECT_EQ(a.bucket, (BucketSize{640, 384}));
  EXPECT_EQ(a.resized_width, 640);
  EXPECT_EQ(a.crop_left, 0);
  EXPECT_FALSE(a.upscaled);
  auto b = sel.select(1920, 1080);  // 16:9 -> 640x384 (1.667), scaled to height 384
  EXPECT_EQ(b.bucket, (BucketSize{640, 384}));
  EXPECT_EQ(b.resized_width, 683);
  EXPECT_EQ(b.resized_height, 384);
  EXPECT_EQ(b.crop_left, 21);
  EXPECT_NEAR(b.aspect_error, 640.0 / 384 - 1920.0 / 1080, 1e-15);
  EXPECT_TRUE(sel.select(100, 100).upscaled);
  EXPECT_THROW(sel.select(0, 10), lathe::Error);
}

TEST(BucketSettingsCheck, RejectsWhatKohyaRejects) {
  BucketSettings s;
  s.max_bucket_reso = 500;  // below the 512 resolution
  EXPECT_THROW(BucketSelector{s}, lathe::Error);
  s = {};
  s.bucket_reso_steps = 0;
  EXPECT_THROW(BucketSelector{s}, lathe::Error);
  s = {};
  s.min_bucket_reso = 2048;
  EXPECT_THROW(BucketSelector{s}, lathe::Error);
  s = {};
  s.width = s.height = 32;  // below one step
  s.max_bucket_reso = 1024;
  EXPECT_THROW(BucketSelector{s}, lathe::Error);
  s = {};
  s.width = 512;
  s.height = 768;  // non-square resolutions are fine
  EXPECT_FALSE(lathe::make_bucket_resolutions(s).empty());
}

TEST(BucketSettingsCheck, ParsesResolutionLikeKohya) {
  BucketSettings s;
  lathe::parse_bucket_resolution("1024", s);
  EXPECT_EQ(s.width, 1024);
  EXPECT_EQ(s.height, 1024);
  lathe::parse_bucket_resolution("768x512", s);
  EXPECT_EQ(s.width, 768);
  EXPECT_EQ(s.height, 512);
  lathe::parse_bucket_resolution("640,896", s);
  EXPECT_EQ(s.width, 640);
  EXPECT_EQ(s.height, 896);
  for (const char* bad : {"", "big", "512x", "x512", "0", "-512", "512x512x512", "99999999"})
    EXPECT_THROW(lathe::parse_bucket_resolution(bad, s), lathe::Error) << bad;
}

TEST(BucketSmallest, AreaAndPredicate) {
  EXPECT_EQ(lathe::smallest_bucket_area(s512()), 256LL * 832);
  EXPECT_TRUE(lathe::below_smallest_bucket(400, 500, s512()));
  EXPECT_FALSE(lathe::below_smallest_bucket(512, 512, s512()));
  EXPECT_FALSE(lathe::below_smallest_bucket(256, 832, s512()));
  EXPECT_EQ(lathe::smallest_bucket_area(nu512()), 64 * 64);
  EXPECT_TRUE(lathe::below_smallest_bucket(63, 1000, nu512()));
  EXPECT_FALSE(lathe::below_smallest_bucket(64, 64, nu512()));
}

// ---- batch planning on in-memory datasets ----

namespace {

lathe::Item image_item(const std::string& name, int w, int h) {
  lathe::Item it;
  it.image_path = name;
  it.image.ok = true;
  it.image.width = w;
  it.image.height = h;
  return it;
}

lathe::Concept concept_of(const std::string& name, int repeats, int count, int w, int h,
                          bool reg = false) {
  lathe::Concept c;
  c.name = name;
  c.folder_name = std::to_string(repeats) + "_" + name;
  c.repeats = repeats;
  c.is_regularization = reg;
  for (int i = 0; i < count; ++i)
    c.items.push_back(image_item(name + "/" + std::to_string(i) + ".png", w, h));
  return c;
}

lathe::Dataset dataset_of(std::vector<lathe::Concept> concepts) {
  lathe::Dataset d;
  d.root = "/data";
  d.concepts = std::move(concepts);
  return d;
}

lathe::BucketPlan plan(const lathe::Dataset& d, int batch, RemainderPolicy p) {
  return lathe::plan_buckets(d, s512(), batch, p);
}

}  // namespace

TEST(BucketPolicy, PartialTrainsEverythingWithASmallerLastBatch) {
  auto p = plan(dataset_of({concept_of("a", 1, 5, 512, 512)}), 4, RemainderPolicy::Partial);
  ASSERT_EQ(p.buckets.size(), 1u);
  const auto& b = p.buckets[0];
  EXPECT_EQ(b.entries, 5);
  EXPECT_EQ(b.batches, 2);
  EXPECT_EQ(b.last_batch, 1);
  EXPECT_EQ(b.dropped, 0);
  EXPECT_EQ(b.fate, TrainFate::Trained);
  for (const auto& im : p.images) {
    EXPECT_EQ(im.fate, TrainFate::Trained);
    EXPECT_EQ(im.views_per_epoch, 1.0);
  }
  EXPECT_EQ(p.total_batches, 2);
}

TEST(BucketPolicy, DropLosesTheRemainderAndSmallBucketsEntirely) {
  // 512x512: 5 images (1 dropped per epoch, 80%: still "trained");
  // 640x384: 3 images < B: never; 384x640: 6 images (2 dropped, 67%: "rarely").
  auto d = dataset_of({concept_of("sq", 1, 5, 512, 512), concept_of("wide", 1, 3, 640, 384),
                       concept_of("tall", 1, 6, 384, 640)});
  auto p = plan(d, 4, RemainderPolicy::Drop);
  ASSERT_EQ(p.buckets.size(), 3u);
  // Sorted by (width, height): 384x640, 512x512, 640x384.
  EXPECT_EQ(p.buckets[0].size, (BucketSize{384, 640}));
  EXPECT_EQ(p.buckets[0].batches, 1);
  EXPECT_EQ(p.buckets[0].dropped, 2);
  EXPECT_EQ(p.buckets[0].fate, TrainFate::Rarely);
  EXPECT_EQ(p.buckets[1].dropped, 1);
  EXPECT_EQ(p.buckets[1].fate, TrainFate::Trained);
  EXPECT_EQ(p.buckets[2].batches, 0);
  EXPECT_EQ(p.buckets[2].fate, TrainFate::Never);
  EXPECT_EQ(p.total_dropped, 2 + 1 + 3);
  EXPECT_EQ(p.total_batches, 2);
  for (const auto& im : p.images) {
    const auto& c = d.concepts[im.concept_index];
    if (c.name == "wide") {
      EXPECT_EQ(im.fate, TrainFate::Never);
      EXPECT_EQ(im.views_per_epoch, 0);
      EXPECT_NE(im.why.find("fewer than the batch size 4"), std::string::npos) << im.why;
    } else if (c.name == "tall") {
      EXPECT_EQ(im.fate, TrainFate::Rarely);
      EXPECT_DOUBLE_EQ(im.views_per_epoch, 4.0 / 6);
    } else {
      EXPECT_EQ(im.fate, TrainFate::Trained);
      EXPECT_DOUBLE_EQ(im.views_per_epoch, 0.8);
    }
  }
}

TEST(BucketPolicy, RemainderIsComputedOnImagesTimesRepeats) {
  // 3 images x 4 repeats = 12 entries: no remainder with B=4, although 3 images < 4.
  auto p = plan(dataset_of({concept_of("a", 4, 3, 512, 512)}), 4, RemainderPolicy::Drop);
  EXPECT_EQ(p.buckets[0].entries, 12);
  EXPECT_EQ(p.buckets[0].batches, 3);
  EXPECT_EQ(p.buckets[0].dropped, 0);
  EXPECT_EQ(p.images[0].views_per_epoch, 4.0);
  // 3 images x 2 repeats = 6: 2 entries dropped per epoch.
  auto q = plan(dataset_of({concept_of("a", 2, 3, 512, 512)}), 4, RemainderPolicy::Drop);
  EXPECT_EQ(q.buckets[0].dropped, 2);
  EXPECT_DOUBLE_EQ(q.images[0].views_per_epoch, 2.0 * 4 / 6);
  EXPECT_EQ(q.images[0].fate, TrainFate::Rarely);
}

TEST(BucketPolicy, PadFillsTheLastBatchWithDuplicates) {
  auto d = dataset_of({concept_of("one", 1, 1, 512, 512), concept_of("six", 1, 6, 640, 384)});
  auto p = plan(d, 4, RemainderPolicy::Pad);
  EXPECT_EQ(p.buckets[0].size, (BucketSize{512, 512}));
  EXPECT_EQ(p.buckets[0].batches, 1);
  EXPECT_EQ(p.buckets[0].padded, 3);
  EXPECT_EQ(p.buckets[1].batches, 2);
  EXPECT_EQ(p.buckets[1].padded, 2);
  EXPECT_EQ(p.total_padded, 5);
  EXPECT_EQ(p.images[0].views_per_epoch, 4.0);  // one image fills a whole batch
  EXPECT_DOUBLE_EQ(p.images[1].views_per_epoch, 8.0 / 6);
  for (const auto& im : p.images) EXPECT_EQ(im.fate, TrainFate::Trained);
}

TEST(BucketPolicy, RegularizationImagesAreBalancedAsKohyaDoes) {
  // 3 train images x 2 repeats = 6. Ten reg images of 1 repeat: the first six are used.
  auto d = dataset_of(
      {concept_of("train", 2, 3, 512, 512), concept_of("reg", 1, 10, 512, 512, /*reg=*/true)});
  auto p = plan(d, 2, RemainderPolicy::Partial);
  int used = 0, unused = 0;
  for (const auto& im : p.images) {
    if (!d.concepts[im.concept_index].is_regularization) continue;
    if (im.repeats == 1) {
      ++used;
      EXPECT_EQ(im.fate, TrainFate::Trained);
    } else {
      ++unused;
      EXPECT_EQ(im.repeats, 0);
      EXPECT_EQ(im.fate, TrainFate::Never);
      EXPECT_NE(im.why.find("regularization image not used"), std::string::npos) << im.why;
    }
  }
  EXPECT_EQ(used, 6);
  EXPECT_EQ(unused, 4);
  EXPECT_EQ(p.buckets[0].entries, 12);
  // Two reg images of 1 repeat: repeated one extra each round until they match 6.
  auto d2 = dataset_of(
      {concept_of("train", 2, 3, 512, 512), concept_of("reg", 1, 2, 512, 512, /*reg=*/true)});
  auto p2 = plan(d2, 2, RemainderPolicy::Partial);
  EXPECT_EQ(p2.images[3].repeats, 3);
  EXPECT_EQ(p2.images[4].repeats, 3);
}

TEST(BucketPolicy, ZeroRepeatsAndUnreadableImages) {
  auto zero = concept_of("off", 0, 2, 512, 512);
  auto good = concept_of("on", 1, 2, 512, 512);
  lathe::Item broken = image_item("on/broken.png", 0, 0);
  broken.image.ok = false;
  broken.image.problem = "zero-byte file";
  good.items.push_back(broken);
  lathe::Item caption_only;
  caption_only.caption_path = "on/lonely.txt";
  good.items.push_back(caption_only);
  auto p = plan(dataset_of({zero, good}), 2, RemainderPolicy::Partial);
  ASSERT_EQ(p.images.size(), 4u);
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0].reason, "zero-byte file");
  EXPECT_EQ(p.images[0].fate, TrainFate::Never);
  EXPECT_NE(p.images[0].why.find("0 repeats"), std::string::npos) << p.images[0].why;
  EXPECT_EQ(p.images[2].fate, TrainFate::Trained);
  EXPECT_EQ(p.buckets[0].entries, 2);
  EXPECT_EQ(p.buckets[0].batches, 1);
}

TEST(BucketPolicy, AbsurdHeaderSizesAreSkippedNotOverflowed) {
  // A PNG header may claim 2^31-1 pixels; resizing 1 x that to a bucket overflows an int.
  auto c = concept_of("odd", 1, 1, 512, 512);
  c.items.push_back(image_item("odd/huge.png", 1, 2147483647));
  c.items.push_back(image_item("odd/wide.png", 2147483647, 3));
  for (bool no_up : {false, true}) {
    BucketSettings s = s512();
    s.no_upscale = no_up;
    auto p = lathe::plan_buckets(dataset_of({c}), s, 1, RemainderPolicy::Partial);
    EXPECT_EQ(p.images.size(), 1u) << no_up;
    ASSERT_EQ(p.skipped.size(), 2u) << no_up;
    EXPECT_NE(p.skipped[0].reason.find("1x2147483647"), std::string::npos) << p.skipped[0].reason;
  }
}

TEST(BucketPolicy, NamesAndErrors) {
  EXPECT_EQ(lathe::parse_remainder_policy("drop"), RemainderPolicy::Drop);
  EXPECT_EQ(lathe::parse_remainder_policy("pad"), RemainderPolicy::Pad);
  EXPECT_EQ(lathe::parse_remainder_policy("partial"), RemainderPolicy::Partial);
  EXPECT_FALSE(lathe::parse_remainder_policy("skip").has_value());
  EXPECT_THROW(plan(dataset_of({}), 0, RemainderPolicy::Drop), lathe::Error);
  auto empty = plan(dataset_of({}), 4, RemainderPolicy::Drop);
  EXPECT_TRUE(empty.buckets.empty());
  EXPECT_EQ(empty.total_batches, 0);
}
