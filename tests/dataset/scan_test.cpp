// Scanning kohya-style folders: concepts and repeats, image/caption pairing, sorting, and the
// bad input a real dataset holds (unreadable folders, symlink loops, broken links, huge and
// empty captions, unicode names, hidden files), which must become problems, never crashes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "../bench/dataset_generator.h"
#include "common/error.h"
#include "dataset/dataset.h"
#include "dataset/image_fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_text;

bool any_contains(const std::vector<std::string>& problems, const std::string& needle) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(needle) != std::string::npos; });
}

std::vector<std::string> item_names(const Concept& c) {
  std::vector<std::string> out;
  for (const Item& item : c.items) out.push_back(item.image_path.filename().string());
  return out;
}

TEST(ConceptFolderName, KohyaRepeatsPrefix) {
  using P = std::pair<int, std::string>;
  EXPECT_EQ(parse_concept_folder_name("10_jinx girl"), P(10, "jinx girl"));
  EXPECT_EQ(parse_concept_folder_name("jinx"), P(1, "jinx"));
  EXPECT_EQ(parse_concept_folder_name("2girls"), P(1, "2girls"));
  EXPECT_EQ(parse_concept_folder_name("3_a_b"), P(3, "a_b"));
  EXPECT_EQ(parse_concept_folder_name("0_off"), P(0, "off"));
  EXPECT_EQ(parse_concept_folder_name("_x"), P(1, "_x"));
  EXPECT_EQ(parse_concept_folder_name("12345678901_x"), P(1, "12345678901_x"));
  EXPECT_EQ(parse_concept_folder_name("5_"), P(5, ""));
}

TEST(ScanDataset, KohyaLayout) {
  TempDir root;
  test::write_image(root / "10_jinx girl" / "b.png", 20, 10);
  test::write_image(root / "10_jinx girl" / "a.jpg", 10, 20);
  write_text(root / "10_jinx girl" / "a.txt", "jinx, 1girl, blue hair\n");
  write_text(root / "10_jinx girl" / "c.txt", "orphan, caption");
  test::write_image(root / "10_jinx girl" / ".hidden.png", 8, 8);
  write_text(root / "10_jinx girl" / "notes.json", "{}");
  test::write_image(root / "3_style" / "s.webp", 16, 16);
  write_text(root / "3_style" / "s.txt", "style");
  test::write_image(root / ".lathe" / "cache.png", 8, 8);

  Dataset ds = scan_dataset(root.path(), {});
  EXPECT_TRUE(ds.scan_problems.empty());
  ASSERT_EQ(ds.concepts.size(), 2u);
  EXPECT_EQ(ds.image_count(), 3u);

  const Concept& jinx = ds.concepts[0];
  EXPECT_EQ(jinx.folder_name, "10_jinx girl");
  EXPECT_EQ(jinx.name, "jinx girl");
  EXPECT_EQ(jinx.repeats, 10);
  EXPECT_EQ(jinx.path, root / "10_jinx girl");
  EXPECT_TRUE(jinx.scan_problems.empty());
  EXPECT_EQ(item_names(jinx), (std::vector<std::string>{"a.jpg", "b.png"}));
  const Item& a = jinx.items[0];
  ASSERT_TRUE(a.caption_path);
  EXPECT_EQ(*a.caption_path, root / "10_jinx girl" / "a.txt");
  ASSERT_TRUE(a.caption);
  EXPECT_EQ(a.caption->tags, (std::vector<std::string>{"jinx", "1girl", "blue hair"}));
  EXPECT_TRUE(a.image.ok);
  EXPECT_EQ(a.image.width, 10);
  EXPECT_EQ(a.image.height, 20);
  EXPECT_FALSE(jinx.items[1].caption_path);
  EXPECT_FALSE(jinx.items[1].caption);
  ASSERT_EQ(jinx.orphan_captions.size(), 1u);
  EXPECT_EQ(jinx.orphan_captions[0].filename(), "c.txt");
  ASSERT_EQ(jinx.other_files.size(), 1u);
  EXPECT_EQ(jinx.other_files[0].filename(), "notes.json");

  const Concept& style = ds.concepts[1];
  EXPECT_EQ(style.name, "style");
  EXPECT_EQ(style.repeats, 3);
  ASSERT_EQ(style.items.size(), 1u);
  EXPECT_EQ(style.items[0].image.format, ImageFormat::Webp);
}

TEST(ScanDataset, ImagesDirectlyInRootAreOneConcept) {
  TempDir tmp;
  fs::path root = tmp / "5_cats";
  test::write_image(root / "x.png", 8, 8);
  write_text(root / "x.txt", "cat");
  Dataset ds = scan_dataset(root, {});
  ASSERT_EQ(ds.concepts.size(), 1u);
  EXPECT_EQ(ds.concepts[0].name, "cats");
  EXPECT_EQ(ds.concepts[0].repeats, 5);
  EXPECT_EQ(ds.concepts[0].path, root);
  ASSERT_EQ(ds.concepts[0].items.size(), 1u);
  EXPECT_TRUE(ds.concepts[0].items[0].caption);

  // A root given as "." still gets a name.
  char cwd[4096];
  ASSERT_TRUE(::getcwd(cwd, sizeof cwd));
  ASSERT_EQ(::chdir(root.c_str()), 0);
  Dataset dot = scan_dataset(".", {});
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_EQ(dot.concepts.size(), 1u);
  EXPECT_EQ(dot.concepts[0].name, "cats");
}

TEST(ScanDataset, StrayCaptionInRootWithConceptFolders) {
  TempDir root;
  test::write_image(root / "1_a" / "x.png", 8, 8);
  write_text(root / "readme.txt", "hello");
  Dataset ds = scan_dataset(root.path(), {});
  ASSERT_EQ(ds.concepts.size(), 1u);
  EXPECT_TRUE(any_contains(ds.scan_problems, "readme.txt is a caption in the dataset root"));
}

TEST(ScanDataset, SubfoldersNeedRecursive) {
  TempDir root;
  test::write_image(root / "2_a" / "top.png", 8, 8);
  test::write_image(root / "2_a" / "more" / "deep.png", 8, 8);
  write_text(root / "2_a" / "more" / "deep.txt", "deep");

  Dataset flat = scan_dataset(root.path(), {});
  EXPECT_EQ(item_names(flat.concepts[0]), (std::vector<std::string>{"top.png"}));
  EXPECT_TRUE(flat.concepts[0].scan_problems.empty());
  EXPECT_EQ(flat.concepts[0].skipped_subfolders, (std::vector<fs::path>{root / "2_a" / "more"}));

  ScanOptions opt;
  opt.recursive = true;
  Dataset deep = scan_dataset(root.path(), opt);
  ASSERT_EQ(deep.concepts[0].items.size(), 2u);
  EXPECT_TRUE(deep.concepts[0].scan_problems.empty());
  EXPECT_TRUE(deep.concepts[0].skipped_subfolders.empty());
  EXPECT_EQ(deep.concepts[0].items[0].image_path, root / "2_a" / "more" / "deep.png");
  EXPECT_TRUE(deep.concepts[0].items[0].caption);
}

TEST(ScanDataset, SymlinkLoopEnds) {
  TempDir root;
  test::write_image(root / "1_a" / "x.png", 8, 8);
  fs::create_directories(root / "1_a" / "sub");
  fs::create_directory_symlink("..", root / "1_a" / "sub" / "up");
  fs::create_symlink("self.png", root / "1_a" / "self.png");  // points at itself: ELOOP
  ScanOptions opt;
  opt.recursive = true;
  Dataset ds = scan_dataset(root.path(), opt);
  ASSERT_EQ(ds.concepts.size(), 1u);
  const Concept& c = ds.concepts[0];
  EXPECT_EQ(item_names(c), (std::vector<std::string>{"x.png"}));
  EXPECT_TRUE(any_contains(c.scan_problems, "symlink loop"));
  EXPECT_TRUE(any_contains(c.scan_problems, "self.png is a symlink loop"));
}

TEST(ScanDataset, BrokenSymlinkIsReported) {
  TempDir root;
  test::write_image(root / "1_a" / "x.png", 8, 8);
  fs::create_symlink("/nonexistent/lathe/y.png", root / "1_a" / "y.png");
  Dataset ds = scan_dataset(root.path(), {});
  EXPECT_TRUE(any_contains(ds.concepts[0].scan_problems,
                           "y.png is a broken symlink (points to /nonexistent/lathe/y.png)"));
  EXPECT_EQ(ds.concepts[0].items.size(), 1u);
}

TEST(ScanDataset, SymlinkedImageAndFolderAreFollowed) {
  TempDir root;
  test::write_image(root / "store" / "real.png", 12, 8);
  fs::create_directories(root / "data" / "1_a");
  fs::create_symlink(root / "store" / "real.png", root / "data" / "1_a" / "link.png");
  fs::create_directory_symlink(root / "store", root / "data" / "2_b");
  Dataset ds = scan_dataset(root / "data", {});
  ASSERT_EQ(ds.concepts.size(), 2u);
  EXPECT_EQ(ds.concepts[0].items.at(0).image.width, 12);
  EXPECT_EQ(ds.concepts[1].items.at(0).image.width, 12);
}

TEST(ScanDataset, PermissionDeniedFolder) {
  if (test::running_as_root())
    GTEST_SKIP() << "running as root: chmod 000 does not block reading a folder";
  TempDir root;
  test::write_image(root / "1_ok" / "x.png", 8, 8);
  test::write_image(root / "1_locked" / "y.png", 8, 8);
  test::write_image(root / "1_ok" / "z.png", 8, 8);
  write_text(root / "1_ok" / "z.txt", "tag");
  fs::permissions(root / "1_locked", fs::perms::none);
  fs::permissions(root / "1_ok" / "z.txt", fs::perms::none);
  Dataset ds = scan_dataset(root.path(), {});
  ASSERT_EQ(ds.concepts.size(), 2u);
  EXPECT_EQ(ds.concepts[0].folder_name, "1_locked");
  EXPECT_TRUE(any_contains(ds.concepts[0].scan_problems, "Permission denied"));
  EXPECT_EQ(ds.concepts[1].items.size(), 2u);
  const Item& z = ds.concepts[1].items[1];
  EXPECT_FALSE(z.caption);
  EXPECT_NE(z.caption_problem.find("Permission denied"), std::string::npos) << z.caption_problem;
}

TEST(ScanDataset, HugeAndEmptyCaptions) {
  TempDir root;
  test::write_image(root / "1_a" / "big.png", 8, 8);
  write_text(root / "1_a" / "big.txt", std::string(10 * 1024 * 1024, 'a'));
  test::write_image(root / "1_a" / "empty.png", 8, 8);
  write_text(root / "1_a" / "empty.txt", "");
  Dataset ds = scan_dataset(root.path(), {});
  const Item& big = ds.concepts[0].items[0];
  EXPECT_FALSE(big.caption);
  EXPECT_NE(big.caption_problem.find("caption file is 10.0 MiB"), std::string::npos)
      << big.caption_problem;
  const Item& empty = ds.concepts[0].items[1];
  ASSERT_TRUE(empty.caption);
  EXPECT_TRUE(empty.caption->empty());
  EXPECT_TRUE(empty.caption_problem.empty());
}

TEST(ScanDataset, ZeroByteImageAndUnicodeNames) {
  TempDir root;
  const std::string name = "1_ジンクス café";
  test::write_image(root / name / "画像 01.png", 9, 7);
  write_text(root / name / "画像 01.txt", "ジンクス, blue hair");
  write_text(root / name / "zero.jpg", "");
  Dataset ds = scan_dataset(root.path(), {});
  ASSERT_EQ(ds.concepts.size(), 1u);
  EXPECT_EQ(ds.concepts[0].name, "ジンクス café");
  ASSERT_EQ(ds.concepts[0].items.size(), 2u);
  const Item& uni = ds.concepts[0].items[1];  // "zero.jpg" < "画像" in byte order
  EXPECT_EQ(uni.image_path.filename(), "画像 01.png");
  ASSERT_TRUE(uni.caption);
  EXPECT_EQ(uni.caption->tags[0], "ジンクス");
  EXPECT_EQ(uni.image.width, 9);
  const Item& zero = ds.concepts[0].items[0];
  EXPECT_FALSE(zero.image.ok);
  EXPECT_EQ(zero.image.problem, "zero-byte file");
}

TEST(ScanDataset, PlainScanFindsTruncatedImagesDeepFindsCorruptData) {
  TempDir root;
  test::write_image(root / "1_a" / "good.jpg", 32, 32);
  std::string jpeg = test::encode_image(".jpg", 32, 32);
  write_text(root / "1_a" / "cut.jpg", jpeg.substr(0, jpeg.size() - 40));
  // A PNG whose pixel data fails its CRC: complete to the end, so only decoding-level checks
  // (--deep) can tell.
  std::string png = test::encode_image(".png", 32, 32);
  png[png.find("IDAT") + 10] ^= 0x55;
  write_text(root / "1_a" / "crc.png", png);
  Dataset shallow = scan_dataset(root.path(), {});
  ASSERT_EQ(shallow.concepts[0].items.size(), 3u);
  const Item& crc = shallow.concepts[0].items[0];
  const Item& cut = shallow.concepts[0].items[1];
  EXPECT_EQ(crc.image_path.filename(), "crc.png");
  EXPECT_TRUE(crc.image.ok);
  EXPECT_EQ(cut.image_path.filename(), "cut.jpg");
  EXPECT_FALSE(cut.image.ok);
  EXPECT_EQ(cut.image.problem.rfind("truncated JPEG", 0), 0u) << cut.image.problem;
  for (const Item& item : shallow.concepts[0].items) EXPECT_TRUE(item.deep_problem.empty());
  ScanOptions opt;
  opt.deep = true;
  Dataset deep = scan_dataset(root.path(), opt);
  EXPECT_EQ(deep.concepts[0].items[0].deep_problem.rfind("corrupt PNG: CRC mismatch", 0), 0u);
  EXPECT_FALSE(deep.concepts[0].items[1].image.ok);
  EXPECT_TRUE(deep.concepts[0].items[2].deep_problem.empty());
}

TEST(ScanDataset, CaptionExtensionOption) {
  TempDir root;
  test::write_image(root / "1_a" / "x.png", 8, 8);
  write_text(root / "1_a" / "x.caption", "from caption file");
  write_text(root / "1_a" / "x.txt", "from txt");
  ScanOptions opt;
  opt.caption_extension = ".caption";
  Dataset ds = scan_dataset(root.path(), opt);
  const Concept& c = ds.concepts[0];
  EXPECT_EQ(c.caption_extension, ".caption");
  ASSERT_TRUE(c.items[0].caption);
  EXPECT_EQ(c.items[0].caption->tags[0], "from caption file");
  ASSERT_EQ(c.other_files.size(), 1u);  // x.txt is just another file now
  opt.caption_extension = "txt";
  EXPECT_THROW(scan_dataset(root.path(), opt), Error);
}

TEST(ScanDataset, BadRootThrows) {
  TempDir root;
  EXPECT_THROW(scan_dataset(root / "missing", {}), Error);
  write_text(root / "file.png", "x");
  try {
    scan_dataset(root / "file.png", {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a folder"), std::string::npos);
  }
}

TEST(ScanDataset, ThreadCountDoesNotChangeResult) {
  TempDir root;
  bench::DatasetGenOptions gen;
  gen.images = 600;
  gen.concepts = 3;
  bench::GeneratedDataset made = bench::generate_dataset(root.path(), gen);
  ASSERT_EQ(made.images, 600u);
  ScanOptions one;
  one.threads = 1;
  ScanOptions four;
  four.threads = 4;
  Dataset a = scan_dataset(root.path(), one);
  Dataset b = scan_dataset(root.path(), four);
  ASSERT_EQ(a.image_count(), 600u);
  ASSERT_EQ(b.image_count(), 600u);
  ASSERT_EQ(a.concepts.size(), 3u);
  for (std::size_t c = 0; c < a.concepts.size(); ++c) {
    EXPECT_EQ(a.concepts[c].repeats, 10);
    ASSERT_EQ(a.concepts[c].items.size(), b.concepts[c].items.size());
    for (std::size_t i = 0; i < a.concepts[c].items.size(); ++i) {
      const Item& x = a.concepts[c].items[i];
      const Item& y = b.concepts[c].items[i];
      EXPECT_EQ(x.image_path, y.image_path);
      EXPECT_TRUE(x.image.ok) << x.image_path << ": " << x.image.problem;
      EXPECT_EQ(x.image.width, y.image.width);
      ASSERT_TRUE(x.caption && y.caption);
      EXPECT_EQ(x.caption->tags, y.caption->tags);
    }
  }
}

TEST(ScanConcepts, ExplicitSpecs) {
  TempDir root;
  test::write_image(root / "people" / "p.png", 8, 8);
  test::write_image(root / "reg" / "r.png", 8, 8);
  write_text(root / "reg" / "r.cap", "person");
  ConceptSpec people;
  people.path = root / "people";
  people.repeats = 4;
  people.activation_tag = "ohwx";
  ConceptSpec reg;
  reg.path = root / "reg";
  reg.caption_extension = ".cap";
  reg.is_regularization = true;
  reg.loss_weight = 0.5;
  ConceptSpec missing;
  missing.path = root / "gone";
  Dataset ds = scan_concepts(root.path(), {people, reg, missing}, {});
  ASSERT_EQ(ds.concepts.size(), 3u);
  EXPECT_EQ(ds.concepts[0].repeats, 4);
  EXPECT_EQ(ds.concepts[0].activation_tag, std::optional<std::string>("ohwx"));
  EXPECT_TRUE(ds.concepts[1].is_regularization);
  EXPECT_DOUBLE_EQ(ds.concepts[1].loss_weight, 0.5);
  ASSERT_TRUE(ds.concepts[1].items.at(0).caption);
  EXPECT_EQ(ds.concepts[1].items[0].caption->tags[0], "person");
  EXPECT_TRUE(any_contains(ds.concepts[2].scan_problems, "does not exist"));
}

}  // namespace
}  // namespace lathe
