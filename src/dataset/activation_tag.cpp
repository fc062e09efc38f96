// Activation tag resolution: profile first, else the majority first tag of the captions.
#include "dataset/activation_tag.h"

#include <unordered_map>

namespace lathe {

const char* activation_source_name(ActivationSource s) {
  switch (s) {
    case ActivationSource::None: return "none";
    case ActivationSource::Profile: return "profile";
    case ActivationSource::Inferred: return "inferred";
  }
  return "none";
}

ActivationTag resolve_activation_tag(const Concept& concept) {
  ActivationTag result;
  std::unordered_map<std::string, std::size_t> first_tags;
  std::string best;
  std::size_t best_count = 0;
  for (const Item& item : concept.items) {
    if (!item.caption || item.caption->tags.empty()) continue;
    ++result.captioned;
    const std::string& first = item.caption->tags.front();
    std::size_t n = ++first_tags[first];
    // Ties go to the tag seen first, which follows the sorted item order: deterministic.
    if (n > best_count) best_count = n, best = first;
  }
  if (concept.activation_tag && !concept.activation_tag->empty()) {
    result.tag = *concept.activation_tag;
    result.source = ActivationSource::Profile;
    auto it = first_tags.find(result.tag);
    result.first_count = it == first_tags.end() ? 0 : it->second;
    return result;
  }
  if (best_count > 0 && (result.captioned == 1 || best_count * 2 > result.captioned)) {
    result.tag = best;
    result.source = ActivationSource::Inferred;
    result.first_count = best_count;
  }
  return result;
}

}  // namespace lathe
