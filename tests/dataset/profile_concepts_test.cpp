// [dataset] and [[concepts]] in a profile: path resolution, defaults taken from kohya folder
// names, validation messages naming line and key, and load_dataset on folders and profiles.
#include "dataset/profile_concepts.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "dataset/image_fixtures.h"
#include "io/profile.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_text;

std::string error_of(const fs::path& profile_path) {
  try {
    Profile p = load_profile(profile_path);
    read_profile_dataset(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ProfileConcepts, DatasetPathRelativeToProfile) {
  TempDir dir;
  test::write_image(dir / "data" / "10_jinx" / "a.png", 8, 8);
  write_text(dir / "data" / "10_jinx" / "a.cap", "jinx");
  write_text(dir / "profiles" / "p.toml",
             "[dataset]\npath = \"../data\"\ncaption_extension = \".cap\"\nrecursive = true\n");
  Profile p = load_profile(dir / "profiles" / "p.toml");
  ProfileDataset spec = read_profile_dataset(p);
  EXPECT_EQ(spec.root, dir / "profiles" / "../data");
  EXPECT_TRUE(spec.has_dataset_path);
  EXPECT_TRUE(spec.concepts.empty());
  EXPECT_EQ(spec.options.caption_extension, ".cap");
  EXPECT_TRUE(spec.options.recursive);

  Dataset ds = load_dataset(dir / "profiles" / "p.toml", {});
  ASSERT_EQ(ds.concepts.size(), 1u);
  EXPECT_EQ(ds.concepts[0].repeats, 10);
  ASSERT_TRUE(ds.concepts[0].items.at(0).caption);
  EXPECT_EQ(ds.concepts[0].items[0].caption->tags[0], "jinx");
}

TEST(ProfileConcepts, ExplicitConcepts) {
  TempDir dir;
  test::write_image(dir / "data" / "5_jinx" / "a.png", 8, 8);
  test::write_image(dir / "data" / "reg" / "r.png", 8, 8);
  test::write_image(dir / "elsewhere" / "e.png", 8, 8);
  write_text(dir / "p.toml", R"([dataset]
path = "data"
caption_extension = ".txt"

[[concepts]]
path = "5_jinx"
activation_tag = " jinx_lol "

[[concepts]]
path = "reg"
repeats = 2
is_regularization = true
loss_weight = 1
caption_extension = ".caption"

[[concepts]]
path = ")" + (dir / "elsewhere").string() +
                                 R"("
loss_weight = 0.25
)");
  Profile p = load_profile(dir / "p.toml");
  ProfileDataset spec = read_profile_dataset(p);
  ASSERT_EQ(spec.concepts.size(), 3u);
  EXPECT_EQ(spec.concepts[0].path, dir / "data" / "5_jinx");
  EXPECT_EQ(spec.concepts[0].repeats, 5);  // from the folder name when not given
  EXPECT_EQ(spec.concepts[0].activation_tag, std::optional<std::string>("jinx_lol"));
  EXPECT_EQ(spec.concepts[0].caption_extension, ".txt");
  EXPECT_EQ(spec.concepts[1].repeats, 2);
  EXPECT_TRUE(spec.concepts[1].is_regularization);
  EXPECT_DOUBLE_EQ(spec.concepts[1].loss_weight, 1.0);
  EXPECT_EQ(spec.concepts[1].caption_extension, ".caption");
  EXPECT_EQ(spec.concepts[2].path, dir / "elsewhere");  // absolute stays
  EXPECT_EQ(spec.concepts[2].repeats, 1);
  EXPECT_DOUBLE_EQ(spec.concepts[2].loss_weight, 0.25);

  Dataset ds = load_dataset(dir / "p.toml", {});
  ASSERT_EQ(ds.concepts.size(), 3u);
  EXPECT_EQ(ds.concepts[0].name, "jinx");
  EXPECT_EQ(ds.image_count(), 3u);
}

TEST(ProfileConcepts, ConceptsWithoutDatasetResolveAgainstProfileFolder) {
  TempDir dir;
  test::write_image(dir / "imgs" / "a.png", 8, 8);
  write_text(dir / "p.toml", "[[concepts]]\npath = \"imgs\"\n");
  Profile p = load_profile(dir / "p.toml");
  ProfileDataset spec = read_profile_dataset(p);
  EXPECT_FALSE(spec.has_dataset_path);
  EXPECT_EQ(spec.root, dir.path());
  EXPECT_EQ(spec.concepts.at(0).path, dir / "imgs");
}

TEST(ProfileConcepts, ValidationErrorsNameLineAndKey) {
  TempDir dir;
  struct Case {
    std::string toml;
    std::string expected;
  } cases[] = {
      {"[[concepts]]\npath = \"a\"\nrepeats = \"ten\"\n",
       "p.toml:3: key concepts[1].repeats: expected an integer, got a string"},
      {"[[concepts]]\npath = \"a\"\n\n[[concepts]]\npath = \"b\"\nrepeats = 0\n",
       "p.toml:6: key concepts[2].repeats: must be 1 to 100000, got 0"},
      {"[[concepts]]\nrepeats = 3\n",
       "p.toml:1: key concepts[1].path: missing; every [[concepts]] entry needs path"},
      {"[dataset]\npath = \"d\"\ncaption_extension = \"txt\"\n",
       "p.toml:3: key dataset.caption_extension: \"txt\" is not a file extension"},
      {"[dataset]\npath = \"d\"\nrecursive = \"yes\"\n",
       "p.toml:3: key dataset.recursive: expected true or false, got a string"},
      {"[[concepts]]\npath = \"a\"\nloss_weight = -1.0\n",
       "p.toml:3: key concepts[1].loss_weight: must be above 0"},
      {"[[concepts]]\npath = \"a\"\nactivation_tag = \"a, b\"\n",
       "p.toml:3: key concepts[1].activation_tag: \"a, b\" holds a comma"},
      {"[[concepts]]\npath = \"\"\n", "p.toml:2: key concepts[1].path: is empty"},
      {"dataset = 3\n", "p.toml:1: key dataset: expected a table, got an integer"},
      {"concepts = 3\n", "p.toml:1: key concepts: expected an array of tables"},
      {"[training]\nlr = 1\n", "the profile names no dataset"},
      {"[dataset\npath = 1\n", "p.toml:1:9: cannot parse the profile"},
  };
  for (const Case& c : cases) {
    write_text(dir / "p.toml", c.toml);
    std::string err = error_of(dir / "p.toml");
    EXPECT_NE(err.find(c.expected), std::string::npos) << "toml:\n" << c.toml << "error: " << err;
  }
}

TEST(LoadDataset, FolderProfileOrNeither) {
  TempDir dir;
  test::write_image(dir / "data" / "1_a" / "x.png", 8, 8);
  EXPECT_EQ(load_dataset(dir / "data", {}).image_count(), 1u);
  write_text(dir / "P.TOML", "[dataset]\npath = \"data\"\n");
  EXPECT_EQ(load_dataset(dir / "P.TOML", {}).image_count(), 1u);
  write_text(dir / "notes.md", "hi");
  EXPECT_THROW(load_dataset(dir / "notes.md", {}), Error);
  EXPECT_THROW(load_dataset(dir / "missing", {}), Error);
  write_text(dir / "bad.toml", "[dataset]\npath = \"nowhere\"\n");
  try {
    load_dataset(dir / "bad.toml", {});
    FAIL() << "expected an error for a missing dataset folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere does not exist"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lathe
