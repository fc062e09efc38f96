// Runs the rule families in order and keeps the shared tables for the report.
#include "dataset/audit.h"

#include "dataset/audit_rules.h"

namespace lathe {

namespace {

std::vector<ConceptSummary> summarize(const AuditContext& ctx) {
  std::vector<ConceptSummary> out;
  for (std::size_t ci = 0; ci < ctx.dataset.concepts.size(); ++ci) {
    const Concept& c = ctx.dataset.concepts[ci];
    ConceptSummary s;
    s.name = c.name;
    s.folder = c.folder_name;
    s.path = c.path;
    s.repeats = c.repeats;
    s.regularization = c.is_regularization;
    for (const Item& item : c.items) {
      if (item.image_path.empty()) {
        if (item.caption_path) ++s.orphan_captions;
        continue;
      }
      ++s.images;
      if (item.caption_path) ++s.captioned;
    }
    s.orphan_captions += c.orphan_captions.size();
    s.activation = ctx.activation[ci];
    s.caption_styles = ctx.caption_styles[ci];
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

AuditReport run_audit(const Dataset& dataset, const AuditOptions& options, bool deep) {
  AuditContext ctx(dataset, options);
  AuditReport report;
  for (const AuditRule& rule : audit_rules()) rule.run(ctx, report.findings);
  report.findings.sort();
  report.root = dataset.root;
  report.options = options;
  report.deep = deep;
  report.concepts = summarize(ctx);
  for (const ConceptSummary& s : report.concepts) {
    report.images += s.images;
    report.captioned += s.captioned;
  }
  report.tags = std::move(ctx.tags);
  report.balance = std::move(ctx.balance);
  report.buckets = std::move(ctx.buckets);
  return report;
}

}  // namespace lathe
