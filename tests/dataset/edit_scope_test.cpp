// Edit scopes: whole dataset, concepts by name or folder name, --file by caption or image
// path, orphan captions included, unknown concepts and foreign files refused, tag filters.
#include <gtest/gtest.h>

#include "common/error.h"
#include "dataset/edit_scope.h"

using namespace lathe;
namespace fs = std::filesystem;

namespace {

Dataset sample_dataset() {
  Dataset ds;
  ds.root = "/data/set";
  for (auto [folder, name] : {std::pair{"10_jinx", "jinx"}, std::pair{"5_vi", "vi"}}) {
    Concept c;
    c.folder_name = folder;
    c.name = name;
    c.path = ds.root / folder;
    for (int i = 0; i < 2; ++i) {
      Item item;
      item.image_path = c.path / (std::to_string(i) + ".png");
      item.caption_path = c.path / (std::to_string(i) + ".txt");
      c.items.push_back(item);
    }
    Item uncaptioned;
    uncaptioned.image_path = c.path / "9.png";
    c.items.push_back(uncaptioned);
    c.orphan_captions.push_back(c.path / "orphan.txt");
    ds.concepts.push_back(c);
  }
  return ds;
}

std::vector<std::string> names(const std::vector<CaptionRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) out.push_back(r.path.lexically_relative("/data/set").string());
  return out;
}

}  // namespace

TEST(EditScope, WholeDatasetHasEveryCaptionIncludingOrphans) {
  auto refs = captions_in_scope(sample_dataset(), {});
  EXPECT_EQ(names(refs), (std::vector<std::string>{"10_jinx/0.txt", "10_jinx/1.txt",
                                                   "10_jinx/orphan.txt", "5_vi/0.txt",
                                                   "5_vi/1.txt", "5_vi/orphan.txt"}));
  EXPECT_EQ(refs[0].concept_name, "jinx");
}

TEST(EditScope, ConceptByNameOrFolderName) {
  EditScope s;
  s.concepts = {"vi"};
  EXPECT_EQ(captions_in_scope(sample_dataset(), s).size(), 3u);
  s.concepts = {"10_jinx"};
  EXPECT_EQ(captions_in_scope(sample_dataset(), s).at(0).concept_name, "jinx");
  s.concepts = {"nobody"};
  try {
    captions_in_scope(sample_dataset(), s);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no concept \"nobody\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("10_jinx, 5_vi"), std::string::npos) << msg;
  }
}

TEST(EditScope, FileByCaptionOrImagePath) {
  EditScope s;
  s.files = {"/data/set/5_vi/1.txt", "/data/set/10_jinx/0.png", "/data/set/5_vi/1.txt"};
  EXPECT_EQ(names(captions_in_scope(sample_dataset(), s)),
            (std::vector<std::string>{"5_vi/1.txt", "10_jinx/0.txt"}));
  s.files = {"/data/set/10_jinx/9.png"};  // an image without a caption
  EXPECT_THROW(captions_in_scope(sample_dataset(), s), Error);
  s.files = {"/elsewhere/a.txt"};
  EXPECT_THROW(captions_in_scope(sample_dataset(), s), Error);
  s.files = {"/data/set/5_vi/1.txt"};
  s.concepts = {"jinx"};  // a file outside the chosen concept
  EXPECT_THROW(captions_in_scope(sample_dataset(), s), Error);
}

TEST(EditScope, TagFilters) {
  EditScope s;
  s.where_tags = {"solo", "smile"};
  s.where_no_tags = {"blurry"};
  EXPECT_TRUE(tags_in_scope({"smile", "solo", "x"}, s));
  EXPECT_FALSE(tags_in_scope({"smile"}, s));
  EXPECT_FALSE(tags_in_scope({"smile", "solo", "blurry"}, s));
  EXPECT_TRUE(tags_in_scope({}, EditScope{}));
  EXPECT_EQ(s.describe(), "whole dataset, with \"solo\", \"smile\", without \"blurry\"");
}
