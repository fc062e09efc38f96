// kohya's class-token trap: in a folder named `10_jinx girl`, "jinx girl" is the caption only of
// images that have no caption file; captioned images never see it. Users often believe the
// folder name is added to every caption, so say so when captions lack the folder's tokens.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    if (ch == ' ' || ch == '_' || ch == '\t' || ch == ',') {
      if (!cur.empty()) words.push_back(cur), cur.clear();
    } else {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  if (!cur.empty()) words.push_back(cur);
  return words;
}

bool has_repeats_prefix(const std::string& folder) {
  std::size_t i = 0;
  while (i < folder.size() && std::isdigit(static_cast<unsigned char>(folder[i]))) ++i;
  return i > 0 && i < folder.size() && folder[i] == '_';
}

}  // namespace

void audit_class_token_rules(const AuditContext& ctx, Findings& out) {
  for (std::size_t ci = 0; ci < ctx.dataset.concepts.size(); ++ci) {
    const Concept& c = ctx.dataset.concepts[ci];
    // Only kohya-named folders: profile concepts name their class tokens nowhere.
    if (!has_repeats_prefix(c.folder_name)) continue;
    // Words of the activation tag are the activation rules' business (activation.missing);
    // here only the rest of the folder name counts ("girl" in `10_jinx girl` with tag "jinx").
    std::vector<std::string> activation_words = words_of(ctx.activation[ci].tag);
    std::vector<std::string> tokens;
    for (std::string& w : words_of(c.name))
      if (std::find(activation_words.begin(), activation_words.end(), w) == activation_words.end())
        tokens.push_back(std::move(w));
    if (tokens.empty()) continue;
    std::size_t captioned = 0, lacking = 0, uncaptioned = 0;
    const std::filesystem::path* example = nullptr;
    std::set<std::string> missing_tokens;
    for (const Item& item : c.items) {
      if (item.image_path.empty()) continue;
      if (!item.caption_path) {
        ++uncaptioned;
        continue;
      }
      if (!item.caption) continue;
      ++captioned;
      std::set<std::string> words;
      for (const std::string& tag : item.caption->tags)
        for (std::string& w : words_of(tag)) words.insert(std::move(w));
      bool lacks = false;
      for (const std::string& t : tokens)
        if (!words.count(t)) lacks = true, missing_tokens.insert(t);
      if (lacks && ++lacking == 1) example = &*item.caption_path;
    }
    if (lacking == 0) continue;
    std::string missing;
    for (const std::string& t : missing_tokens)
      missing += fmt::format("{}'{}'", missing.empty() ? "" : ", ", t);
    std::string uncaptioned_note =
        uncaptioned == 0 ? std::string("; no image here lacks a caption, so the folder name is "
                                       "never used")
                         : fmt::format("; only the {} image{} without a caption file get{} it",
                                       uncaptioned, uncaptioned == 1 ? "" : "s",
                                       uncaptioned == 1 ? "s" : "");
    out.add(Severity::Warning, "concept.class_tokens", c.name, example ? *example : c.path,
            fmt::format("folder '{}': kohya uses its class tokens '{}' only as the caption of "
                        "images without a caption file; {} of {} captions lack {} (e.g. {}){}",
                        c.folder_name, c.name, lacking, captioned, missing,
                        example ? ctx.show(*example) : "", uncaptioned_note),
            fmt::format("if '{}' should be trained, write it into the captions (e.g. as the first "
                        "tag); the folder name only sets repeats",
                        c.name));
  }
}

}  // namespace lathe
