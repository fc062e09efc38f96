// The audit report's two faces: a human report grouped by severity (counts, then the first
// examples of each finding code, "... and N more") with the concept, bucket and tag tables, and
// a JSON document with a stable, versioned schema (documented in README, "lathe audit --json")
// holding every finding and every table.
#pragma once

#include <cstddef>
#include <string>

#include "dataset/audit.h"

namespace lathe {

// Bumped when a field changes meaning or disappears; new fields may appear within a version.
constexpr int kAuditJsonVersion = 1;

struct TextReportOptions {
  std::size_t max_examples = 5;  // per finding code (--max-examples); 0 shows counts only
  std::size_t top_tags = 8;      // per concept in the tag table
};

std::string format_audit_text(const AuditReport& report, const TextReportOptions& options = {});

std::string format_audit_json(const AuditReport& report);

}  // namespace lathe
