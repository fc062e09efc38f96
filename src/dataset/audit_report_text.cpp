// The human audit report: a header line, the concept table, findings grouped by severity with
// counts and the first examples of each code, the bucket table and the top tags per concept.
// Examples are capped per code so a 100k-image dataset still prints a screenful.
#include <fmt/format.h>

#include <map>

#include "common/terminal_text.h"
#include "dataset/audit_report.h"

namespace lathe {

namespace {

std::string plural(std::size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string activation_text(const ActivationTag& a) {
  switch (a.source) {
    case ActivationSource::Profile: return fmt::format("{} (profile)", a.tag);
    case ActivationSource::Inferred:
      return fmt::format("{} (inferred, first in {}/{})", a.tag, a.first_count, a.captioned);
    case ActivationSource::None: return "-";
  }
  return "-";
}

void concepts_table(const AuditReport& r, std::string& out) {
  out += "Concepts\n";
  out += fmt::format("  {:<20} {:>7} {:>7} {:>9} {:>9} {:>6}  {:<9}  {}\n", "folder", "repeats",
                     "images", "captioned", "per epoch", "share", "captions", "activation tag");
  for (std::size_t i = 0; i < r.concepts.size(); ++i) {
    const ConceptSummary& c = r.concepts[i];
    const ConceptBalance& b = r.balance.concepts[i];
    std::string share = c.regularization ? "reg" : fmt::format("{:.0f}%", b.share);
    const CaptionStyle style = c.caption_styles.style();
    out += fmt::format("  {:<20} {:>7} {:>7} {:>9} {:>9} {:>6}  {:<9}  {}\n", terminal_safe(c.folder), c.repeats,
                       c.images, c.captioned, b.per_epoch, share,
                       style == CaptionStyle::None ? "-" : caption_style_name(style),
                       terminal_safe(activation_text(c.activation)));
  }
  out += "\n";
}

// The files of a group finding (a bucket's images), as many as the example limit.
void files_line(const AuditReport& r, const Finding& f, std::size_t limit, std::string& out) {
  if (f.files.empty()) return;
  std::string line;
  const std::size_t shown = std::min(f.files.size(), limit);
  for (std::size_t k = 0; k < shown; ++k)
    line += fmt::format("{}{}", k ? ", " : "", relative_to_root(r.root, f.files[k]));
  if (f.files.size() > shown) line += fmt::format("{}... and {} more", shown ? ", " : "", f.files.size() - shown);
  out += fmt::format("      {}\n", terminal_safe(line));
}

void findings_section(const AuditReport& r, const TextReportOptions& o, std::string& out) {
  const Findings& f = r.findings;
  out += fmt::format("Findings: {}, {}, {}\n", plural(f.count(Severity::Error), "error", "errors"),
                     plural(f.count(Severity::Warning), "warning", "warnings"),
                     plural(f.count(Severity::Info), "info", "info"));
  static const char* titles[] = {"ERRORS", "WARNINGS", "INFO"};
  const auto& all = f.all();
  std::size_t i = 0;
  while (i < all.size()) {
    Severity sev = all[i].severity;
    out += fmt::format("\n{} ({})\n", titles[static_cast<int>(sev)], f.count(sev));
    while (i < all.size() && all[i].severity == sev) {
      // Findings are sorted by severity then code, so each code is one run.
      std::size_t end = i;
      while (end < all.size() && all[end].severity == sev && all[end].code == all[i].code) ++end;
      out += fmt::format("  {} ({})\n", all[i].code, end - i);
      std::size_t shown = std::min(end - i, o.max_examples);
      for (std::size_t k = i; k < i + shown; ++k) {
        // Messages quote file names, tags and caption text: control bytes shown escaped.
        out += fmt::format("    {}\n", terminal_safe(all[k].message));
        files_line(r, all[k], o.max_examples, out);
        if (!all[k].hint.empty()) out += fmt::format("      hint: {}\n", terminal_safe(all[k].hint));
      }
      if (end - i > shown) out += fmt::format("    ... and {} more\n", end - i - shown);
      i = end;
    }
  }
  out += "\n";
}

void buckets_section(const AuditReport& r, std::string& out) {
  const BucketPlan& p = r.buckets;
  out += fmt::format("Buckets ({}x{}, batch size {}, policy {}): {}, {} entries, {} batches "
                     "per epoch",
                     p.settings.width, p.settings.height, p.batch_size,
                     remainder_policy_name(p.policy), plural(p.buckets.size(), "bucket", "buckets"),
                     p.total_entries, p.total_batches);
  if (p.total_dropped) out += fmt::format(", {} dropped", p.total_dropped);
  if (p.total_padded) out += fmt::format(", {} padded", p.total_padded);
  out += "\n";
  if (p.buckets.empty()) return;
  out += fmt::format("  {:<10} {:>6} {:>7} {:>7} {:>10} {:>7} {:>6}  {}\n", "bucket", "images",
                     "entries", "batches", "last batch", "dropped", "padded", "fate");
  for (const BucketSummary& b : p.buckets)
    out += fmt::format("  {:<10} {:>6} {:>7} {:>7} {:>10} {:>7} {:>6}  {}\n",
                       fmt::format("{}x{}", b.size.width, b.size.height), b.images, b.entries,
                       b.batches, b.last_batch, b.dropped, b.padded, train_fate_name(b.fate));
  out += "\n";
}

void tags_section(const AuditReport& r, const TextReportOptions& o, std::string& out) {
  out += fmt::format("Top tags (share of captioned images; {} distinct tags in {} captions)\n",
                     r.tags.overall.tags.size(), r.tags.overall.images);
  for (std::size_t i = 0; i < r.concepts.size(); ++i) {
    const TagTable& t = r.tags.concepts[i];
    std::string line;
    for (std::size_t k = 0; k < t.tags.size() && k < o.top_tags; ++k)
      line += fmt::format("{}{} {:.0f}%", k ? ", " : "", t.tags[k].tag, t.tags[k].percent);
    if (t.tags.size() > o.top_tags) line += fmt::format(", ... ({} more)", t.tags.size() - o.top_tags);
    out += fmt::format("  {}: {}\n", terminal_safe(r.concepts[i].folder),
                       line.empty() ? "-" : terminal_safe(line));
  }
}

}  // namespace

std::string format_audit_text(const AuditReport& r, const TextReportOptions& o) {
  std::string out = fmt::format(
      "Audit of {}: {}, {} ({} with captions){}\n\n", terminal_safe(r.root.string()),
      plural(r.concepts.size(), "concept", "concepts"), plural(r.images, "image", "images"),
      r.captioned, r.deep ? ", every image decoded" : "");
  concepts_table(r, out);
  findings_section(r, o, out);
  buckets_section(r, out);
  tags_section(r, o, out);
  std::size_t errors = r.findings.count(Severity::Error);
  out += errors ? fmt::format("\nResult: {}; fix them before training.\n",
                              plural(errors, "error", "errors"))
                : std::string("\nResult: no errors.\n");
  return out;
}

}  // namespace lathe
