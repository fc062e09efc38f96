// Scope selection for caption edits (see edit_scope.h).
#include "dataset/edit_scope.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

fs::path canonical_or_same(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c;
}

bool concept_selected(const Concept& c, const EditScope& scope) {
  if (scope.concepts.empty()) return true;
  return std::any_of(scope.concepts.begin(), scope.concepts.end(),
                     [&](const std::string& n) { return n == c.name || n == c.folder_name; });
}

std::string quoted_list(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "\"" : ", \"") + t + "\"";
  return out;
}

void check_concepts_exist(const Dataset& dataset, const EditScope& scope) {
  for (const auto& wanted : scope.concepts) {
    bool found = std::any_of(dataset.concepts.begin(), dataset.concepts.end(),
                             [&](const Concept& c) { return c.name == wanted || c.folder_name == wanted; });
    if (found) continue;
    std::string names;
    for (const auto& c : dataset.concepts) names += (names.empty() ? "" : ", ") + c.folder_name;
    throw Error(fmt::format("no concept \"{}\" in {}; the concepts are: {}", wanted,
                            dataset.root.string(), names.empty() ? "(none)" : names));
  }
}

// Every caption of the selected concepts, keyed by its canonical path for --file lookups.
std::vector<CaptionRef> all_captions(const Dataset& dataset, const EditScope& scope) {
  std::vector<CaptionRef> out;
  for (const auto& c : dataset.concepts) {
    if (!concept_selected(c, scope)) continue;
    for (const auto& item : c.items)
      if (item.caption_path) out.push_back({*item.caption_path, c.name});
    for (const auto& orphan : c.orphan_captions) out.push_back({orphan, c.name});
  }
  return out;
}

// Canonical caption path of every image that has a caption, so --file and --exclude accept
// either the caption or its image.
std::map<fs::path, fs::path> captions_of_images(const Dataset& dataset) {
  std::map<fs::path, fs::path> out;
  for (const auto& c : dataset.concepts)
    for (const auto& item : c.items)
      if (item.caption_path)
        out[canonical_or_same(item.image_path)] = canonical_or_same(*item.caption_path);
  return out;
}

// `captions` without the scope's --exclude files; each one must name a caption in scope, so a
// typo does not silently edit the file the user meant to keep out.
std::vector<CaptionRef> drop_excluded(const Dataset& dataset, const EditScope& scope,
                                      std::vector<CaptionRef> captions) {
  if (scope.excluded.empty()) return captions;
  const auto caption_of_image = captions_of_images(dataset);
  std::map<fs::path, bool> excluded;  // canonical caption path -> matched a caption in scope
  std::vector<fs::path> keys;
  for (const auto& wanted : scope.excluded) {
    // Relative to the current folder, or else to the dataset (as the messages print paths).
    std::error_code ec;
    const bool here = wanted.is_absolute() || fs::exists(wanted, ec);
    fs::path key = canonical_or_same(here ? wanted : dataset.root / wanted);
    if (auto img = caption_of_image.find(key); img != caption_of_image.end()) key = img->second;
    excluded.emplace(key, false);
    keys.push_back(key);
  }
  std::set<fs::path> names;  // resolving every caption's path costs syscalls: only candidates
  for (const auto& k : keys) names.insert(k.filename());
  std::vector<CaptionRef> out;
  for (auto& ref : captions) {
    auto it = names.count(ref.path.filename()) ? excluded.find(canonical_or_same(ref.path))
                                               : excluded.end();
    if (it == excluded.end()) out.push_back(std::move(ref));
    else it->second = true;
  }
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (!excluded[keys[i]])
      throw Error(fmt::format("--exclude {}: not a caption file (or an image with a caption) of {}"
                              "{}; give a path inside the dataset",
                              scope.excluded[i].string(), dataset.root.string(),
                              scope.files.empty() && scope.concepts.empty()
                                  ? ""
                                  : " in the chosen scope"));
  return out;
}

}  // namespace

std::string EditScope::describe() const {
  std::vector<std::string> parts;
  if (!files.empty())
    parts.push_back(files.size() == 1 ? "file " + files[0].string()
                                      : fmt::format("{} files", files.size()));
  if (!concepts.empty()) {
    std::string names;
    for (const auto& c : concepts) names += (names.empty() ? "" : ", ") + c;
    parts.push_back((concepts.size() == 1 ? "concept " : "concepts ") + names);
  }
  if (files.empty() && concepts.empty()) parts.push_back("whole dataset");
  if (!excluded.empty())
    parts.push_back(excluded.size() == 1 ? "excluding " + excluded[0].string()
                                         : fmt::format("excluding {} files", excluded.size()));
  if (!where_tags.empty()) parts.push_back("with " + quoted_list(where_tags));
  if (!where_no_tags.empty()) parts.push_back("without " + quoted_list(where_no_tags));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::vector<CaptionRef> captions_in_scope(const Dataset& dataset, const EditScope& scope) {
  check_concepts_exist(dataset, scope);
  std::vector<CaptionRef> captions = all_captions(dataset, scope);
  if (scope.files.empty()) return drop_excluded(dataset, scope, std::move(captions));

  std::map<fs::path, std::size_t> by_caption;
  for (std::size_t i = 0; i < captions.size(); ++i)
    by_caption[canonical_or_same(captions[i].path)] = i;
  const auto caption_of_image = captions_of_images(dataset);

  std::vector<CaptionRef> out;
  std::vector<bool> taken(captions.size(), false);
  for (const auto& wanted : scope.files) {
    fs::path key = canonical_or_same(wanted);
    if (auto img = caption_of_image.find(key); img != caption_of_image.end()) key = img->second;
    auto it = by_caption.find(key);
    if (it == by_caption.end())
      throw Error(fmt::format("{} is not a caption file (or an image with a caption) of {}{}; "
                              "give a path inside the dataset",
                              wanted.string(), dataset.root.string(),
                              scope.concepts.empty() ? "" : " in the chosen concepts"));
    if (!taken[it->second]) out.push_back(captions[it->second]);
    taken[it->second] = true;
  }
  return drop_excluded(dataset, scope, std::move(out));
}

bool tags_in_scope(const std::vector<std::string>& tags, const EditScope& scope) {
  auto has = [&](const std::string& t) { return std::find(tags.begin(), tags.end(), t) != tags.end(); };
  for (const auto& t : scope.where_tags)
    if (!has(t)) return false;
  for (const auto& t : scope.where_no_tags)
    if (has(t)) return false;
  return true;
}

}  // namespace lathe
