// Activation-tag findings: which tag each concept is checked against (and whether it was
// inferred), captions where it is missing or not the first tag, and activation tags that leak
// into another concept's captions (which teaches the trigger word the wrong subject).
#include <fmt/format.h>

#include <algorithm>

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

void report_resolution(const AuditContext& ctx, const Concept& c, const ActivationTag& a,
                       Findings& out) {
  if (a.source == ActivationSource::Inferred) {
    out.add(Severity::Info, "activation.inferred", c.name, c.path,
            fmt::format("concept '{}': activation tag inferred as '{}' (first tag of {} of {} "
                        "captions)",
                        c.name, a.tag, a.first_count, a.captioned),
            "if that is not the trigger word, set activation_tag for the concept in the profile");
  } else if (a.source == ActivationSource::None && a.captioned > 0) {
    out.add(Severity::Warning, "activation.unknown", c.name, c.path,
            fmt::format("concept '{}': no activation tag: no first tag opens most of its {} "
                        "captions",
                        c.name, a.captioned),
            "start every caption of the concept with its trigger word, or set activation_tag in "
            "the profile");
  }
}

void check_captions(const AuditContext& ctx, const Concept& c, const ActivationTag& a,
                    Findings& out) {
  for (const Item& item : c.items) {
    if (!item.caption || !item.caption_path || item.caption->tags.empty()) continue;
    const std::vector<std::string>& tags = item.caption->tags;
    if (tags.front() == a.tag) continue;
    const std::string shown = ctx.show(*item.caption_path);
    auto pos = std::find(tags.begin(), tags.end(), a.tag);
    if (pos != tags.end()) {
      out.add(Severity::Warning, "activation.not_first", c.name, *item.caption_path,
              fmt::format("{}: activation tag '{}' is tag {} of {}, not the first", shown, a.tag,
                          pos - tags.begin() + 1, tags.size()),
              fmt::format("move '{}' to the front (lathe tags and kohya's keep_tokens rely on "
                          "it)",
                          a.tag));
      continue;
    }
    std::string near;
    for (const std::string& t : tags)
      if (tag_key(t) == tag_key(a.tag)) near = fmt::format(" (it has '{}' instead)", t);
    out.add(Severity::Warning, "activation.missing", c.name, *item.caption_path,
            fmt::format("{} lacks the activation tag '{}'{}", shown, a.tag, near),
            fmt::format("add '{}' as the first tag", a.tag));
  }
}

void check_leaks(const AuditContext& ctx, std::size_t owner, Findings& out) {
  const ActivationTag& a = ctx.activation[owner];
  const Concept& owner_concept = ctx.dataset.concepts[owner];
  for (std::size_t ci = 0; ci < ctx.dataset.concepts.size(); ++ci) {
    if (ci == owner) continue;
    const Concept& other = ctx.dataset.concepts[ci];
    // A concept that shares the trigger word on purpose (same tag on both) is not a leak.
    if (ctx.activation[ci].tag == a.tag) continue;
    const TagCount* hit = ctx.tags.concepts[ci].find(a.tag);
    if (!hit) continue;
    out.add(Severity::Warning, "activation.in_other_concept", other.name, hit->first_file,
            fmt::format("activation tag '{}' of concept '{}' appears in {} caption{} of concept "
                        "'{}' (first: {})",
                        a.tag, owner_concept.name, hit->images, hit->images == 1 ? "" : "s",
                        other.name, ctx.show(hit->first_file)),
            fmt::format("remove '{}' from concept '{}' captions, or the trigger word learns "
                        "both subjects",
                        a.tag, other.name));
  }
}

}  // namespace

void audit_activation_rules(const AuditContext& ctx, Findings& out) {
  for (std::size_t ci = 0; ci < ctx.dataset.concepts.size(); ++ci) {
    const Concept& c = ctx.dataset.concepts[ci];
    const ActivationTag& a = ctx.activation[ci];
    if (c.is_regularization) continue;  // regularization images must not carry a trigger word
    report_resolution(ctx, c, a, out);
    if (a.tag.empty()) continue;
    check_captions(ctx, c, a, out);
    check_leaks(ctx, ci, out);
  }
}

}  // namespace lathe
