// Repeats balance finding: one concept dominating an epoch (images x repeats) teaches mostly
// that concept; the finding names the per-epoch counts and the repeats that even them out.
#include <fmt/format.h>

#include "dataset/audit_rules.h"

namespace lathe {

void audit_repeats_rules(const AuditContext& ctx, Findings& out) {
  const RepeatsBalance& b = ctx.balance;
  if (!b.imbalanced) return;
  std::string counts, suggestion;
  for (const ConceptBalance& cb : b.concepts) {
    if (cb.regularization || cb.images == 0) continue;
    counts += fmt::format("{}'{}' {}x{}={}", counts.empty() ? "" : ", ", cb.concept, cb.images,
                          cb.repeats, cb.per_epoch);
    if (cb.suggested_repeats != cb.repeats)
      suggestion += fmt::format("{}'{}' {} -> {} ({} per epoch)", suggestion.empty() ? "" : ", ",
                                cb.concept, cb.repeats, cb.suggested_repeats,
                                cb.suggested_per_epoch);
  }
  out.add(Severity::Warning, "repeats.imbalance", "", ctx.dataset.root,
          fmt::format("concepts are unbalanced: images x repeats per epoch {} (largest/smallest "
                      "{:.1f}x, above {:.1f}x)",
                      counts, b.ratio, b.threshold),
          fmt::format("set repeats {} (rename the folders N_name, or set repeats in the profile)",
                      suggestion));
}

}  // namespace lathe
