// The audit's JSON document (schema "lathe.audit", version kAuditJsonVersion). Field names are
// a contract with scripts and the TUI: add fields freely, but rename or remove one only with a
// version bump and a README note. Paths are relative to the dataset root when inside it.
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

#include "dataset/audit_report.h"

namespace lathe {

namespace {

using nlohmann::json;

double round2(double x) { return std::round(x * 100.0) / 100.0; }

json tag_table(const TagTable& t) {
  json tags = json::array();
  for (const TagCount& c : t.tags)
    tags.push_back({{"tag", c.tag}, {"images", c.images}, {"percent", round2(c.percent)}});
  return {{"images", t.images}, {"tags", std::move(tags)}};
}

json options_json(const AuditReport& r) {
  const AuditOptions& o = r.options;
  return {{"resolution", {{"width", o.buckets.width}, {"height", o.buckets.height}}},
          {"min_bucket_reso", o.buckets.min_bucket_reso},
          {"max_bucket_reso", o.buckets.max_bucket_reso},
          {"bucket_reso_steps", o.buckets.bucket_reso_steps},
          {"bucket_no_upscale", o.buckets.no_upscale},
          {"batch_size", o.batch_size},
          {"policy", remainder_policy_name(o.policy)},
          {"prune_threshold", o.prune_threshold},
          {"imbalance_ratio", o.imbalance_ratio},
          {"deep", r.deep}};
}

json summary_json(const AuditReport& r) {
  std::map<std::string, std::size_t> by_code;
  for (const Finding& f : r.findings.all()) ++by_code[f.code];
  return {{"concepts", r.concepts.size()},
          {"images", r.images},
          {"captioned", r.captioned},
          {"errors", r.findings.count(Severity::Error)},
          {"warnings", r.findings.count(Severity::Warning)},
          {"info", r.findings.count(Severity::Info)},
          {"by_code", by_code}};
}

json concepts_json(const AuditReport& r) {
  json out = json::array();
  for (const ConceptSummary& c : r.concepts) {
    const ActivationTag& a = c.activation;
    out.push_back({{"name", c.name},
                   {"folder", c.folder},
                   {"path", relative_to_root(r.root, c.path)},
                   {"repeats", c.repeats},
                   {"regularization", c.regularization},
                   {"images", c.images},
                   {"captioned", c.captioned},
                   {"orphan_captions", c.orphan_captions},
                   {"caption_style",
                    {{"style", caption_style_name(c.caption_styles.style())},
                     {"tags", c.caption_styles.tags},
                     {"sentences", c.caption_styles.sentences}}},
                   {"activation_tag",
                    {{"tag", a.tag.empty() ? json(nullptr) : json(a.tag)},
                     {"source", activation_source_name(a.source)},
                     {"first_in", a.first_count},
                     {"captions", a.captioned}}}});
  }
  return out;
}

json findings_json(const AuditReport& r) {
  json out = json::array();
  for (const Finding& f : r.findings.all()) {
    json j = {{"severity", severity_name(f.severity)},
              {"code", f.code},
              {"concept", f.concept},
              {"file", f.file.empty() ? std::string() : relative_to_root(r.root, f.file)},
              {"message", f.message},
              {"hint", f.hint}};
    if (!f.files.empty()) {  // group findings only: 100k-image reports stay small
      json files = json::array();
      for (const auto& p : f.files) files.push_back(relative_to_root(r.root, p));
      j["files"] = std::move(files);
    }
    out.push_back(std::move(j));
  }
  return out;
}

json balance_json(const RepeatsBalance& b) {
  json concepts = json::array();
  for (const ConceptBalance& c : b.concepts)
    concepts.push_back({{"name", c.concept},
                        {"folder", c.folder},
                        {"images", c.images},
                        {"repeats", c.repeats},
                        {"per_epoch", c.per_epoch},
                        {"share", round2(c.share)},
                        {"suggested_repeats", c.suggested_repeats},
                        {"suggested_per_epoch", c.suggested_per_epoch},
                        {"regularization", c.regularization}});
  return {{"imbalanced", b.imbalanced},
          {"ratio", round2(b.ratio)},
          {"threshold", b.threshold},
          {"per_epoch_total", b.per_epoch_total},
          {"concepts", std::move(concepts)}};
}

json buckets_json(const BucketPlan& p) {
  json buckets = json::array();
  for (const BucketSummary& b : p.buckets)
    buckets.push_back({{"width", b.size.width},
                       {"height", b.size.height},
                       {"images", b.images},
                       {"entries", b.entries},
                       {"batches", b.batches},
                       {"last_batch", b.last_batch},
                       {"trained_entries", b.trained_entries},
                       {"dropped", b.dropped},
                       {"padded", b.padded},
                       {"fate", train_fate_name(b.fate)}});
  std::size_t never = 0, rarely = 0;
  for (const PlannedImage& img : p.images) {
    never += img.fate == TrainFate::Never;
    rarely += img.fate == TrainFate::Rarely;
  }
  return {{"batch_size", p.batch_size},
          {"policy", remainder_policy_name(p.policy)},
          {"total_entries", p.total_entries},
          {"total_batches", p.total_batches},
          {"total_dropped", p.total_dropped},
          {"total_padded", p.total_padded},
          {"images_never_trained", never},
          {"images_rarely_trained", rarely},
          {"images_without_size", p.skipped.size()},
          {"buckets", std::move(buckets)}};
}

}  // namespace

std::string format_audit_json(const AuditReport& r) {
  json concept_tags = json::array();
  for (std::size_t i = 0; i < r.concepts.size(); ++i) {
    json t = tag_table(r.tags.concepts[i]);
    t["name"] = r.concepts[i].name;
    concept_tags.push_back(std::move(t));
  }
  json doc = {{"schema", "lathe.audit"},
              {"version", kAuditJsonVersion},
              {"root", r.root.string()},
              {"options", options_json(r)},
              {"summary", summary_json(r)},
              {"concepts", concepts_json(r)},
              {"findings", findings_json(r)},
              {"tag_stats",
               {{"overall", tag_table(r.tags.overall)}, {"concepts", std::move(concept_tags)}}},
              {"repeats_balance", balance_json(r.balance)},
              {"buckets", buckets_json(r.buckets)}};
  // Invalid UTF-8 in a tag or file name must not throw: replace it in the output.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace lathe
