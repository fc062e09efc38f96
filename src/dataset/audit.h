// The dataset audit: runs every rule family (audit_rules.h) over a scanned dataset and gathers
// the findings with the tables behind them (tag statistics, activation tags, repeats balance,
// bucket plan) into one AuditReport, which audit_report.h prints as text or JSON.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/audit_context.h"
#include "dataset/finding.h"

namespace lathe {

struct ConceptSummary {
  std::string name;
  std::string folder;
  std::filesystem::path path;
  int repeats = 1;
  bool regularization = false;
  std::size_t images = 0;     // items with an image file
  std::size_t captioned = 0;  // of those, with a caption file
  std::size_t orphan_captions = 0;
  ActivationTag activation;
  CaptionStyleCount caption_styles;  // its captions as tag lists / as sentences
};

struct AuditReport {
  std::filesystem::path root;
  AuditOptions options;
  bool deep = false;        // images were fully decoded (--deep)
  std::vector<ConceptSummary> concepts;
  std::size_t images = 0;
  std::size_t captioned = 0;
  Findings findings;        // sorted: errors, warnings, info; by code within each
  TagStats tags;
  RepeatsBalance balance;
  BucketPlan buckets;

  bool has_errors() const { return findings.has_errors(); }
};

// Runs every rule. `deep` only records that the scan decoded images (the scan did the work).
// Throws lathe::Error when the bucket options are invalid (resolution, batch size).
AuditReport run_audit(const Dataset& dataset, const AuditOptions& options, bool deep = false);

}  // namespace lathe
