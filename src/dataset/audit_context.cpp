// Builds the tables every rule shares, once, before the rules run.
#include "dataset/audit_context.h"

namespace lathe {

AuditContext::AuditContext(const Dataset& d, const AuditOptions& o)
    : dataset(d), options(o), tags(compute_tag_stats(d)),
      balance(compute_repeats_balance(d, o.imbalance_ratio)),
      buckets(plan_buckets(d, o.buckets, o.batch_size, o.policy)) {
  activation.reserve(d.concepts.size());
  for (const Concept& c : d.concepts) activation.push_back(resolve_activation_tag(c));
  caption_styles.resize(d.concepts.size());
  for (std::size_t ci = 0; ci < d.concepts.size(); ++ci)
    for (const Item& item : d.concepts[ci].items) {
      if (item.image_path.empty() || !item.caption || !item.caption_path) continue;
      const CaptionStyle style = caption_style(*item.caption);
      caption_styles[ci].add(style);
      if (style == CaptionStyle::Sentences) sentence_captions.insert(item.caption_path->native());
    }
}

std::string relative_to_root(const std::filesystem::path& root_path,
                             const std::filesystem::path& p) {
  std::string s = p.generic_string();
  std::string root = root_path.generic_string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!root.empty() && s == root) return ".";
  if (!root.empty() && s.size() > root.size() && s.compare(0, root.size(), root) == 0 &&
      s[root.size()] == '/')
    return s.substr(root.size() + 1);
  return s;
}

}  // namespace lathe
