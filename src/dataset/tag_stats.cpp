// Counts tags per concept and overall in one pass over the captions; a caption's duplicate tags
// are counted once so percentages read as "share of images".
#include "dataset/tag_stats.h"

#include <algorithm>
#include <unordered_set>

namespace lathe {

namespace {

struct Counter {
  std::unordered_map<std::string, TagCount> counts;

  void add(const std::string& tag, const std::filesystem::path& file) {
    auto [it, inserted] = counts.try_emplace(tag);
    if (inserted) {
      it->second.tag = tag;
      it->second.first_file = file;
    }
    ++it->second.images;
  }

  TagTable finish(std::size_t images) {
    TagTable t;
    t.images = images;
    t.tags.reserve(counts.size());
    for (auto& [tag, c] : counts) {
      c.percent = images ? 100.0 * static_cast<double>(c.images) / static_cast<double>(images) : 0.0;
      t.tags.push_back(std::move(c));
    }
    std::sort(t.tags.begin(), t.tags.end(), [](const TagCount& a, const TagCount& b) {
      return a.images != b.images ? a.images > b.images : a.tag < b.tag;
    });
    t.index.reserve(t.tags.size());
    for (std::size_t i = 0; i < t.tags.size(); ++i) t.index.emplace(t.tags[i].tag, i);
    return t;
  }
};

}  // namespace

const TagCount* TagTable::find(std::string_view tag) const {
  auto it = index.find(std::string(tag));
  return it == index.end() ? nullptr : &tags[it->second];
}

std::string tag_key(std::string_view tag) {
  std::string key;
  key.reserve(tag.size());
  for (char c : tag) {
    if (c == '_' || c == ' ' || c == '\t') {
      if (!key.empty() && key.back() != ' ') key += ' ';
      continue;
    }
    key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (!key.empty() && key.back() == ' ') key.pop_back();
  return key;
}

TagStats compute_tag_stats(const Dataset& dataset) {
  TagStats stats;
  Counter overall;
  std::size_t overall_images = 0;
  std::unordered_set<std::string_view> seen;
  for (const Concept& concept : dataset.concepts) {
    Counter counter;
    std::size_t images = 0;
    for (const Item& item : concept.items) {
      if (!item.caption || !item.caption_path) continue;
      ++images;
      seen.clear();
      for (const std::string& tag : item.caption->tags) {
        if (!seen.insert(tag).second) continue;
        counter.add(tag, *item.caption_path);
        overall.add(tag, *item.caption_path);
      }
    }
    overall_images += images;
    stats.concepts.push_back(counter.finish(images));
  }
  stats.overall = overall.finish(overall_images);
  return stats;
}

}  // namespace lathe
