// A concept's activation tag (the trigger word a LoRA is called with): the one the profile
// names, or else the most common first tag of the concept's captions, reported as inferred.
#pragma once

#include <cstddef>
#include <string>

#include "dataset/dataset.h"

namespace lathe {

enum class ActivationSource { None, Profile, Inferred };

const char* activation_source_name(ActivationSource s);  // "none", "profile", "inferred"

struct ActivationTag {
  std::string tag;  // empty when source is None
  ActivationSource source = ActivationSource::None;
  std::size_t first_count = 0;  // captions whose first tag is `tag`
  std::size_t captioned = 0;    // captions with at least one tag
};

// Infers only when one first tag leads a strict majority of the concept's non-empty captions
// (or the concept has a single caption): a tag that opens a minority of captions is a guess
// that would flag most of the concept, so then there is no activation tag to check against.
ActivationTag resolve_activation_tag(const Concept& concept);

}  // namespace lathe
