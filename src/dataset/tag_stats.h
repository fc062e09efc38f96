// Tag statistics of a scanned dataset: for every concept and for the whole dataset, how many
// captioned images carry each tag (a tag twice in one caption counts once) and what share of
// the captioned images that is. The audit's prune-candidate, singleton, near-duplicate and
// activation-tag rules read these tables, and `--json` prints them.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dataset/dataset.h"

namespace lathe {

struct TagCount {
  std::string tag;
  std::size_t images = 0;               // captioned images carrying the tag
  double percent = 0.0;                 // of the table's captioned images
  std::filesystem::path first_file;     // caption file of the first image carrying it
};

struct TagTable {
  std::size_t images = 0;       // captioned images counted (denominator of `percent`)
  std::vector<TagCount> tags;   // most frequent first, ties by tag
  const TagCount* find(std::string_view tag) const;  // nullptr when absent

  std::unordered_map<std::string, std::size_t> index;  // tag -> position in `tags`
};

struct TagStats {
  TagTable overall;
  std::vector<TagTable> concepts;  // parallel to Dataset::concepts
};

TagStats compute_tag_stats(const Dataset& dataset);

// The spelling-insensitive key of a tag: ASCII lower case, '_' as a space, runs of spaces as
// one. "Blue_Hair" and "blue  hair" share the key "blue hair".
std::string tag_key(std::string_view tag);

}  // namespace lathe
