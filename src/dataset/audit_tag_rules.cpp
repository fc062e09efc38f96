// Dataset-wide tag findings: the same tag spelled several ways ("blue_hair", "blue hair",
// "Blue Hair"), tags on most of a concept's images (candidates to fold into the activation tag)
// and tags used by one image only. Captions written as sentences (caption_style.h) are not
// tag lists: their pieces are neither singletons nor spelling variants.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

// Concepts with fewer captions than this have no meaningful "most images" share.
constexpr std::size_t kMinImagesForPrune = 3;

}  // namespace

void audit_near_duplicate_tags(const AuditContext& ctx, Findings& out) {
  std::map<std::string, std::vector<const TagCount*>> groups;  // ordered: stable report
  for (const TagCount& t : ctx.tags.overall.tags) groups[tag_key(t.tag)].push_back(&t);
  for (auto& [key, variants] : groups) {
    if (variants.size() < 2 || is_prose(key)) continue;  // a sentence written twice is no tag
    // Most used first: that spelling is the natural one to keep.
    std::sort(variants.begin(), variants.end(), [](const TagCount* a, const TagCount* b) {
      return a->images != b->images ? a->images > b->images : a->tag < b->tag;
    });
    std::string list;
    for (const TagCount* v : variants)
      list += fmt::format("{}'{}' ({} image{})", list.empty() ? "" : ", ", v->tag, v->images,
                          v->images == 1 ? "" : "s");
    const TagCount* rare = variants.back();
    out.add(Severity::Warning, "tags.near_duplicate", "", rare->first_file,
            fmt::format("one tag spelled {} ways: {} (e.g. {})", variants.size(), list,
                        ctx.show(rare->first_file)),
            fmt::format("pick one spelling, e.g. '{}', and replace the others; the text encoder "
                        "sees them as different words",
                        variants.front()->tag));
  }
}

void audit_tag_stat_rules(const AuditContext& ctx, Findings& out) {
  const double threshold = ctx.options.prune_threshold;
  for (std::size_t ci = 0; ci < ctx.dataset.concepts.size(); ++ci) {
    const Concept& c = ctx.dataset.concepts[ci];
    const TagTable& table = ctx.tags.concepts[ci];
    if (c.is_regularization || table.images < kMinImagesForPrune) continue;
    for (const TagCount& t : table.tags) {
      if (t.percent + 1e-9 < threshold) break;  // sorted by frequency
      if (t.tag == ctx.activation[ci].tag) continue;
      out.add(Severity::Info, "tags.prune_candidate", c.name, c.path,
              fmt::format("concept '{}': tag '{}' is on {} of {} captioned images ({:.0f}%)",
                          c.name, t.tag, t.images, table.images, t.percent),
              fmt::format("if '{}' is part of what the LoRA should learn, remove it so the "
                          "activation tag absorbs it; keep it if it should stay promptable",
                          t.tag));
    }
  }
  if (ctx.tags.overall.images < 2) return;
  // Singletons are the tail of the sorted table; report them in dataset (file) order.
  std::vector<const TagCount*> singles;
  // In a caption written as sentences every sentence is a "tag" used once: not a finding.
  for (auto it = ctx.tags.overall.tags.rbegin();
       it != ctx.tags.overall.tags.rend() && it->images == 1; ++it)
    if (!is_prose(it->tag) && !ctx.is_sentence_caption(it->first_file)) singles.push_back(&*it);
  std::sort(singles.begin(), singles.end(), [](const TagCount* a, const TagCount* b) {
    return a->first_file != b->first_file ? a->first_file < b->first_file : a->tag < b->tag;
  });
  for (const TagCount* t : singles)
    out.add(Severity::Info, "tags.singleton", "", t->first_file,
            fmt::format("tag '{}' appears only in {}", t->tag, ctx.show(t->first_file)),
            "a tag seen once teaches little: check it for a typo, or remove it");
}

}  // namespace lathe
