// The audit's rule families. Each is a function `void(const AuditContext&, Findings&)` in its
// own file; audit_rules() lists them in the order they run. To add a family (e.g. token-level
// checks), write the function in its own file, declare it here and append it to the list in
// audit_rules.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dataset/audit_context.h"
#include "dataset/finding.h"

namespace lathe {

using AuditRuleFn = std::function<void(const AuditContext&, Findings&)>;

struct AuditRule {
  std::string name;  // "captions", "images", ...
  AuditRuleFn run;
};

const std::vector<AuditRule>& audit_rules();

void audit_scan_rules(const AuditContext& ctx, Findings& out);        // audit_scan_rules.cpp
void audit_caption_rules(const AuditContext& ctx, Findings& out);     // audit_caption_rules.cpp
void audit_near_duplicate_tags(const AuditContext& ctx, Findings& out);  // audit_tag_rules.cpp
void audit_tag_stat_rules(const AuditContext& ctx, Findings& out);    // audit_tag_rules.cpp
void audit_image_rules(const AuditContext& ctx, Findings& out);       // audit_image_rules.cpp
void audit_activation_rules(const AuditContext& ctx, Findings& out);  // audit_activation_rules.cpp
void audit_repeats_rules(const AuditContext& ctx, Findings& out);     // audit_repeats_rules.cpp
void audit_class_token_rules(const AuditContext& ctx, Findings& out); // audit_class_token_rules.cpp
void audit_bucket_rules(const AuditContext& ctx, Findings& out);      // audit_bucket_rules.cpp
void audit_token_rules(const AuditContext& ctx, Findings& out);       // audit_token_rules.cpp

}  // namespace lathe
